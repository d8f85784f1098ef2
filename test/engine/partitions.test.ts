/**
 * Virtual partitions (engine/partitions.ts): an id's partition never changes, ids spread evenly,
 * a deployment's count is validated, and every per-account key names its account's partition.
 */
import { describe, expect, it } from 'vitest';
import { ConfigErrors, loadConfig } from '../../engine/config.js';
import { accountIdOf } from '../../engine/ids.js';
import { accountOfUserKey, dailyQuotaKeyPatterns, hashTagOf, keys } from '../../engine/keys.js';
import { clusterSlotOf, DEFAULT_PARTITION_COUNT, fnv1a32, MAX_PARTITION_COUNT, Partitions } from '../../engine/partitions.js';
import { createRequire } from 'node:module';

const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

const accountIds = (n: number) => Array.from({ length: n }, (_, i) => accountIdOf(`98${String(i).padStart(8, '0')}`, 'partition-test'));

describe('partitions', () => {
  it('hash with FNV-1a 32: the published test vectors, so the partition of an id is the same in every process and version', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    const partitions = new Partitions(64);
    expect(partitions.of('foobar')).toBe(0xbf9cf968 % 64);
    expect(new Partitions(64).of('foobar')).toBe(partitions.of('foobar'));
  });

  it('spread accounts evenly: 16000 accounts over 16 partitions, each within 10% of 1000', () => {
    const partitions = new Partitions(16);
    const counts = new Array<number>(16).fill(0);
    for (const id of accountIds(16_000)) counts[partitions.of(id)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(900), expect(count).toBeLessThan(1100);
  });

  it('default to 16 and take 1 to 1024', () => {
    expect(new Partitions().count).toBe(DEFAULT_PARTITION_COUNT);
    expect(DEFAULT_PARTITION_COUNT).toBe(16);
    expect(new Partitions(1).of('anything')).toBe(0);
    expect(new Partitions(MAX_PARTITION_COUNT).all()).toHaveLength(MAX_PARTITION_COUNT);
    for (const wrong of [0, -1, 1.5, MAX_PARTITION_COUNT + 1, NaN]) expect(() => new Partitions(wrong)).toThrow(RangeError);
  });

  it('are a deployment setting: TEEKA_PARTITIONS, validated with every other problem', () => {
    expect(loadConfig({} as NodeJS.ProcessEnv).partitions).toBe(16);
    expect(loadConfig({ TEEKA_PARTITIONS: '64' } as NodeJS.ProcessEnv).partitions).toBe(64);
    for (const wrong of ['0', '1025', 'many', '16.5']) {
      let problems: string[] = [];
      try {
        loadConfig({ TEEKA_PARTITIONS: wrong, PORT: 'x' } as NodeJS.ProcessEnv);
      } catch (err) {
        if (!(err instanceof ConfigErrors)) throw err;
        problems = err.problems.map((p) => p.message);
      }
      expect(problems).toEqual([`TEEKA_PARTITIONS: expected a whole number from 1 to 1024, got "${wrong}"`, expect.stringMatching(/^PORT: /)]);
    }
  });

  it("name every per-account key and the revocation stream by the account's partition: one hash tag, one slot", () => {
    const partitions = new Partitions(16);
    const [accountId] = accountIds(1) as [string];
    const account = keys.forAccount(partitions, accountId);
    const tag = partitions.tag(partitions.of(accountId)).slice(1, -1);
    const all = [
      account.pendingOtp('7e0b1b0c-0d6e-4f5a-9c1e-2b3c4d5e6f70'),
      account.otpRequester('203.0.113.9'),
      account.otpRequester('2001:db8::1'),
      account.authSession(),
      account.searchWindow(),
      account.searchDay(),
      account.captcha(),
      account.blocked(),
      account.testNumberAccount(),
      account.loginRevocations(),
    ];
    for (const key of all) expect(hashTagOf(key)).toBe(tag);
    expect(account.loginRevocations()).toBe(keys.loginRevocations(partitions, account.partition));
    expect(account.searchDay()).toBe(`{${tag}}:u:${accountId}:search:day`);
  });

  it('leave the daily quota keys findable by pattern, with their account', () => {
    const partitions = new Partitions(16);
    const [accountId] = accountIds(1) as [string];
    const account = keys.forAccount(partitions, accountId);
    const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[{}]/g, '\\$&').replace(/\*/g, '.*')}$`);
    expect(account.searchDay()).toMatch(glob(dailyQuotaKeyPatterns.searchDay));
    expect(account.blocked()).toMatch(glob(dailyQuotaKeyPatterns.blocked));
    expect(account.searchWindow()).not.toMatch(glob(dailyQuotaKeyPatterns.searchDay));
    expect(accountOfUserKey(`teeka:${account.searchDay()}`)).toBe(accountId);
    expect(accountOfUserKey(`teeka:${account.blocked()}`)).toBe(accountId);
    expect(accountOfUserKey('teeka:{bk}:account:abc')).toBeNull();
  });

  it("each take a slot in their own share of the 16384, in order: a cluster's even slot ranges hold even shares of partitions", () => {
    for (const count of [1, 3, 16, 64, 1024]) {
      const partitions = new Partitions(count);
      const slots = partitions.all().map((n) => slotOf(partitions.tag(n)));
      slots.forEach((slot, n) => {
        expect(slot).toBe(clusterSlotOf(partitions.tag(n).slice(1, -1)));
        expect(slot).toBeGreaterThanOrEqual(Math.floor((n * 16384) / count));
        expect(slot).toBeLessThan(Math.floor(((n + 1) * 16384) / count));
      });
    }
    // the slot ranges of `redis-cli --cluster create` with three masters
    const sixteen = new Partitions(16);
    const masters = [0, 5461, 10923, 16384];
    const perMaster = [0, 1, 2].map((m) => sixteen.all().filter((n) => slotOf(sixteen.tag(n)) >= masters[m]! && slotOf(sixteen.tag(n)) < masters[m + 1]!).length);
    expect(perMaster).toEqual([6, 5, 5]);
    expect(sixteen.tag(0)).toMatch(/^\{p:0(\.\d+)?\}$/);
  });

  it('an id drawn in a partition hashes to it (an appointment id finds its account\'s partition)', () => {
    const partitions = new Partitions(16);
    let draws = 0;
    const draw = () => `id-${draws++}`;
    for (const n of partitions.all()) {
      const id = partitions.idIn(n, draw);
      expect(partitions.of(id)).toBe(n);
    }
    // about `count` draws each: 16 partitions, a few hundred draws, not an unbounded search
    expect(draws).toBeLessThan(16 * 16 * 4);
  });

  it('hash tags follow the cluster rule: the first {…} with something in it', () => {
    expect(hashTagOf('{p:3}:u:x')).toBe('p:3');
    expect(hashTagOf('teeka:{bk}:session:1')).toBe('bk');
    expect(hashTagOf('{}:x{a}')).toBe('{}:x{a}');
    expect(hashTagOf('plain')).toBe('plain');
  });
});
