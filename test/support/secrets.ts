/**
 * Whether a short secret (a 4-digit security code) shows anywhere in an answer.
 * A plain substring check is not enough: "8723" is inside a session UUID or a
 * 14-digit reference id about once in a few thousand runs, and the test then
 * fails at random. So the answer is split into words (a UUID or an id is one
 * word, hyphens included) and a word must equal the secret.
 */
export function showsSecret(answer: unknown, secret: string): boolean {
  const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
  return text.split(/[^0-9A-Za-z-]+/).includes(secret);
}
