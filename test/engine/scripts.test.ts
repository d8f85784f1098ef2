import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { luaDirectory, readScripts } from '../../engine/scripts.js';
import { Status, luaStatusPrelude } from '../../engine/status.js';
import { connectTestRedis } from '../support/fixtures.js';

/** Lua source without its comments (`--[[ … ]]` blocks and `-- …` to the end of a line). */
function withoutComments(lua: string): string {
  return lua.replace(/--\[\[[\s\S]*?\]\]/g, '').replace(/--.*$/gm, '');
}

/**
 * What is wrong with the header of one script file, read from the file itself (includes are other
 * files, and use neither KEYS nor ARGV): every KEYS[i] and ARGV[i] the body uses is documented, and
 * every documented one is used; a computed index (`ARGV[i]`, `#ARGV`) needs a documented range
 * (`ARGV[11..]`); the keys documented are KEYS[1..N] with N from the file name (`verbNoun-N.lua`);
 * the header has its Input and Output sections, and Output lists every status the body names.
 */
function headerProblems(file: string, text: string): string[] {
  const header = /^--\[\[([\s\S]*?)\]\]\n/.exec(text);
  if (!header) return ['does not start with a --[[ ]] header'];
  const body = withoutComments(text.slice(header[0].length));
  const problems: string[] = [];
  if (!/^\s*Input:/m.test(header[1]!) && /\b(KEYS|ARGV)\b/.test(body)) problems.push('header lacks an Input: section');
  const output = /^\s*Output:([\s\S]*)$/m.exec(header[1]!)?.[1];
  if (output === undefined) problems.push('header lacks an Output: section');
  // codes from includes (e.g. eligibility) are the includes' to name; the script's own must be listed
  for (const name of new Set([...body.matchAll(/\bStatus\.([A-Z_]+)/g)].map((m) => m[1]!))) {
    if (output !== undefined && !new RegExp(`\\bStatus\\.${name}\\b`).test(output)) problems.push(`returns Status.${name}, which the header's Output does not list`);
  }
  for (const table of ['KEYS', 'ARGV'] as const) {
    const documented = new Set<number>();
    let rangeFrom: number | undefined;
    for (const m of header[1]!.matchAll(new RegExp(`^\\s*${table}\\[(\\d+)(\\.\\.)?\\]`, 'gm'))) {
      if (m[2]) rangeFrom = Number(m[1]);
      else documented.add(Number(m[1]));
    }
    const used = new Set([...body.matchAll(new RegExp(`\\b${table}\\[(\\d+)\\]`, 'g'))].map((m) => Number(m[1])));
    const computed = new RegExp(`\\b${table}\\[\\s*[^\\d\\s]|#${table}\\b|unpack\\(${table}\\b`).test(body);
    for (const i of [...used].sort((a, b) => a - b)) {
      if (!documented.has(i) && !(rangeFrom !== undefined && i >= rangeFrom)) problems.push(`uses ${table}[${i}], which the header does not document`);
    }
    for (const i of [...documented].sort((a, b) => a - b)) {
      if (!used.has(i)) problems.push(`documents ${table}[${i}], which the body never uses`);
    }
    if (computed && rangeFrom === undefined) problems.push(`reads ${table} by a computed index, but the header documents no ${table}[n..] range`);
    if (!computed && rangeFrom !== undefined) problems.push(`documents ${table}[${rangeFrom}..], but the body never reads ${table} by a computed index`);
    if (table === 'KEYS') {
      const contiguous = [...documented].every((i) => i >= 1 && i <= documented.size);
      if (file.endsWith('-n.lua')) {
        // any number of keys: fixed ones first, then a range read by computed index
        if (!contiguous || rangeFrom !== documented.size + 1) problems.push(`the file name says any number of keys: document KEYS[1..k] then KEYS[k+1..]`);
        continue;
      }
      const count = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
      if (rangeFrom !== undefined || !contiguous || documented.size !== count) {
        problems.push(`the file name says ${count} keys, the header documents ${contiguous ? `KEYS[1..${documented.size}]` : 'KEYS with gaps'}`);
      }
    }
  }
  return problems;
}

describe('lua/ loader', () => {
  const redis = connectTestRedis('');
  afterAll(() => redis.disconnect());

  it('loads and compiles every script in Redis', async () => {
    const scripts = readScripts();
    expect(scripts.length).toBeGreaterThanOrEqual(11);
    for (const script of scripts) {
      // SCRIPT LOAD compiles the script; a syntax error rejects here with the script's name
      const sha = await redis.script('LOAD', script.lua).catch((err: Error) => {
        throw new Error(`${script.name}: ${err.message}`);
      });
      expect(sha, script.name).toBe(script.sha);
    }
  });

  it('reads the key count from the file name and registers versioned names', () => {
    for (const script of readScripts()) {
      expect(script.commandName).toBe(`${script.name}:${script.version}`);
      expect(script.version).toMatch(/^[0-9a-f]{10}$/);
      const declared = [...script.lua.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1]));
      if (script.numberOfKeys === null) {
        // a batch of any size (`name-n.lua`) walks its keys by their count
        expect(script.lua, `${script.name} takes any number of keys`).toContain('#KEYS');
        continue;
      }
      expect(Math.max(...declared), `${script.name} uses KEYS beyond its declared count`).toBe(script.numberOfKeys);
    }
  });

  it("documents, in each script's own header, every KEYS[i] and ARGV[i] its body uses, and nothing it does not use", () => {
    const dir = luaDirectory();
    const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
    expect(files.length).toBeGreaterThanOrEqual(11);
    for (const file of files) expect(headerProblems(file, readFileSync(join(dir, file), 'utf8')), `lua/${file}`).toEqual([]);
  });

  it('the header check catches what it is for', () => {
    const script = (header: string, body: string) => `--[[\n  Does a thing.\n\n  Input:\n${header}\n  Output:\n    {Status.OK}\n]]\n${body}`;
    const body = "local a, b = KEYS[1], KEYS[2]\nlocal x, y = ARGV[1], ARGV[2]\nreturn { Status.OK }\n";
    const keysAndArgs = '    KEYS[1] one\n    KEYS[2] two\n\n    ARGV[1] first\n    ARGV[2] second';
    expect(headerProblems('doThing-2.lua', script(keysAndArgs, body))).toEqual([]);
    // an argument the body reads that the header leaves out
    expect(headerProblems('doThing-2.lua', script('    KEYS[1] one\n    KEYS[2] two\n\n    ARGV[1] first', body))).toEqual([
      'uses ARGV[2], which the header does not document',
    ]);
    // a key likewise, which also leaves the file name's key count undocumented
    expect(headerProblems('doThing-2.lua', script('    KEYS[1] one\n\n    ARGV[1] first\n    ARGV[2] second', body))).toEqual([
      'uses KEYS[2], which the header does not document',
      'the file name says 2 keys, the header documents KEYS[1..1]',
    ]);
    // documented but never read: the header describes another version of the script
    expect(headerProblems('doThing-2.lua', script(`${keysAndArgs}\n    ARGV[3] third`, body))).toEqual([
      'documents ARGV[3], which the body never uses',
    ]);
    // the file name's key count must be what the header documents
    expect(headerProblems('doThing-3.lua', script(keysAndArgs, body))).toEqual(['the file name says 3 keys, the header documents KEYS[1..2]']);
    // a loop over the arguments needs a documented range
    const loop = `${body}for i = 3, #ARGV do local id = ARGV[i] end\n`;
    expect(headerProblems('doThing-2.lua', script(keysAndArgs, loop))).toEqual(['reads ARGV by a computed index, but the header documents no ARGV[n..] range']);
    expect(headerProblems('doThing-2.lua', script(`${keysAndArgs}\n    ARGV[3..] ids`, loop))).toEqual([]);
    // a status the body returns that Output leaves out
    expect(headerProblems('doThing-2.lua', script(keysAndArgs, `if x then return { Status.FULL } end\n${body}`))).toEqual([
      "returns Status.FULL, which the header's Output does not list",
    ]);
    // a use inside a comment is not a use; a header-less file is refused
    expect(headerProblems('doThing-2.lua', script(keysAndArgs, `${body}-- ARGV[7] once upon a time\n`))).toEqual([]);
    expect(headerProblems('doThing-0.lua', 'return 1\n')).toEqual(['does not start with a --[[ ]] header']);
  });

  it('includes read no KEYS or ARGV: a script passes them in, so its own header documents them', () => {
    const dir = join(luaDirectory(), 'includes');
    for (const file of readdirSync(dir)) {
      expect(withoutComments(readFileSync(join(dir, file), 'utf8')), `lua/includes/${file}`).not.toMatch(/\b(KEYS|ARGV)\b/);
    }
  });

  it('inlines includes once and never builds key names in Lua', () => {
    for (const script of readScripts()) {
      expect(script.lua).not.toMatch(/--- @include/);
      // every key reaches a script through KEYS: no string that looks like one of our key names
      expect(script.lua, script.name).not.toMatch(/['"]\{(bk|u:|ip:)/);
      // Redis seeds math.random alike for every script run: anything secret (security codes) comes in ARGV
      expect(withoutComments(script.lua), script.name).not.toMatch(/math\.random/);
    }
  });

  it('gives Lua the status codes of the TypeScript enum that the script names', () => {
    const book = readScripts().find((s) => s.name === 'bookAppointment')!;
    expect(book.lua).toContain(`FULL = ${Status.FULL}`);
    expect(book.lua).toContain(`REPLAYED = ${Status.REPLAYED}`);
    expect(book.lua).not.toContain('QUOTA_LOGOUT');
    expect(() => luaStatusPrelude('return { Status.NO_SUCH_CODE }')).toThrow(/Status.NO_SUCH_CODE/);
  });
});
