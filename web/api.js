// The gateway's HTTP API as the pages call it, and a human sentence for every error code it answers
// (engine/status.ts lists them; the sentences are the language file's `errors`). Pages show
// `error.message`; they branch on `error.code`.
import { formatNumber, has, t } from './language.js';

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the gateway could not be reached)
   * @param {string} code CoWIN-style error code, e.g. APPOIN0040
   * @param {string} message what to tell the person
   * @param {number | null} retryAfterSeconds from Retry-After, when waiting helps
   * @param {string} detail the server's own text (which field, which beneficiary), never shown as is
   */
  constructor(status, code, message, retryAfterSeconds = null, detail = '') {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
    this.detail = detail;
  }
}

/** Codes after which waiting helps: their sentence ends with when to try again (Retry-After). */
const RETRY_CODES = new Set(['USRAUT0015', 'USRAUT0016', 'USRAUT0017', 'USRAUT0018', 'USRRES0429', 'GENSRV0503']);

/** Booking refusals about one beneficiary: the server names them by reference id, the page by name. */
const PERSON_CODES = new Set(['APPOIN0022', 'APPOIN0023', 'APPOIN0024', 'APPOIN0025', 'APPOIN0026', 'APPOIN0027']);

let beneficiaryNames = new Map();
/** The names of the account's beneficiaries by reference id, so that refusals name people. */
export function setBeneficiaryNames(names) {
  beneficiaryNames = names;
}

/** The person a refusal ends with "(beneficiary 12345678901234)" is about, by name. */
function personOf(text) {
  const id = /\(beneficiary (\d+)\)/.exec(text)?.[1];
  return (id && beneficiaryNames.get(id)) || t('errors.someone');
}

/**
 * The sentence to show for an error: the language file's words for its code (`errors.<code>`), in
 * plain words. The server's own text is for developers and never shown; it only says who a booking
 * refusal is about.
 */
export function messageFor(code, text = '', retryAfterSeconds = null) {
  if (!has(`errors.${code}`)) return t('errors.unknown');
  const message = t(`errors.${code}`, PERSON_CODES.has(code) ? { name: personOf(text) } : {});
  if (!RETRY_CODES.has(code)) return message;
  const retry = retryAfterSeconds ? t('errors.retryIn', { count: retryAfterSeconds, seconds: formatNumber(retryAfterSeconds) }) : t('errors.retryLater');
  return `${message} ${retry}`;
}

/**
 * Call the API. Resolves with `{ json, headers }` (json is null for 204) or, with `binary`,
 * `{ blob, headers }`; rejects with an ApiError carrying the code and message.
 */
export async function callApi(method, path, { token, body, headers = {}, binary = false, signal, cacheable = false } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      // master data says how long it may be kept (public, max-age); everything else is live
      cache: cacheable ? 'default' : 'no-store',
    });
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', t('errors.NETWORK'));
  }
  if (response.ok) {
    if (binary) return { blob: await response.blob(), headers: response.headers };
    if (response.status === 204) return { json: null, headers: response.headers };
    return { json: await response.json(), headers: response.headers };
  }
  const retryAfter = Number(response.headers.get('retry-after')) || null;
  let code = `HTTP${response.status}`;
  let text = '';
  try {
    const error = await response.json();
    code = String(error.errorCode ?? code);
    text = String(error.error ?? '');
  } catch {
    // not a JSON error body (a proxy's page): the status says enough
  }
  throw new ApiError(response.status, code, messageFor(code, text, retryAfter), retryAfter, text);
}

/** Put a message into a status element; an empty message hides it. */
export function show(element, message, kind = 'info') {
  element.textContent = message;
  element.dataset.kind = kind;
  element.hidden = !message;
}
