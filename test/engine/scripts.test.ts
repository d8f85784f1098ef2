import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { readScripts } from '../../engine/scripts.js';
import { Status, luaStatusPrelude } from '../../engine/status.js';
import { REDIS_URL } from '../support/fixtures.js';

describe('lua/ loader', () => {
  const redis = new Redis(REDIS_URL);
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
      expect(Math.max(...declared), `${script.name} uses KEYS beyond its declared count`).toBe(script.numberOfKeys);
    }
  });

  it('documents every key and argument it uses in its header', () => {
    for (const script of readScripts()) {
      const [header, body] = script.lua.split(']]\n');
      const bodyKeys = new Set([...(body ?? '').matchAll(/KEYS\[(\d+)\]/g)].map((m) => m[1]));
      for (const k of bodyKeys) expect(header, `${script.name} header lacks KEYS[${k}]`).toContain(`KEYS[${k}]`);
      expect(header, `${script.name} header lacks an Output section`).toContain('Output:');
    }
  });

  it('inlines includes once and never builds key names in Lua', () => {
    for (const script of readScripts()) {
      expect(script.lua).not.toMatch(/--- @include/);
      // every key reaches a script through KEYS: no string that looks like one of our key names
      expect(script.lua, script.name).not.toMatch(/['"]\{(bk|u:|ip:)/);
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
