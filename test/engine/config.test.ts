/**
 * Deployment settings: every problem is reported at once, plainly, and production refuses demo keys,
 * shared vaccinator keys and guessable secrets.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tmpdir } from 'node:os';
import { newKeyRingFile } from '../../engine/certificate-keys.js';
import { ConfigError, ConfigErrors, configWarnings, loadConfig, projectRoot, testMobilesOf } from '../../engine/config.js';
import { testCountry } from '../support/countries.js';

// production signs certificates with keys of its own: a key ring file that exists and loads
const scratch = mkdtempSync(join(tmpdir(), 'teeka-config-'));
const keyRingFile = join(scratch, 'certificate-keys.json');
writeFileSync(keyRingFile, JSON.stringify(newKeyRingFile()));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const PRODUCTION_OK = {
  TEEKA_ENV: 'production',
  TEEKA_SECRET: 'q8Zr2LxW9vNc4TpHs6YbKd3MfGj7Ae1U',
  TEEKA_ADMIN_KEY: 'adm-7Hq2Lp9Xz4Rw8Kc',
  TEEKA_SMS_WEBHOOK: 'https://sms.example.invalid/send',
  TEEKA_TEST_MOBILE_PREFIX: undefined,
  TEEKA_CERT_KEYS: keyRingFile,
  TEEKA_CERT_ISSUER: 'https://certificates.example.invalid',
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env as NodeJS.ProcessEnv);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigErrors)) throw err;
    return err.problems.map((p) => p.message);
  }
}

describe('configuration', () => {
  it('replica acknowledgement: off by default, a count of replicas and a timeout when set, refused when not whole numbers', () => {
    expect(loadConfig(PRODUCTION_OK as NodeJS.ProcessEnv).durability).toEqual({ replicas: 0, timeoutMs: 1000 });
    expect(loadConfig({ ...PRODUCTION_OK, TEEKA_WAIT_REPLICAS: '1', TEEKA_WAIT_TIMEOUT_MS: '250' } as NodeJS.ProcessEnv).durability).toEqual({ replicas: 1, timeoutMs: 250 });
    expect(problemsOf({ ...PRODUCTION_OK, TEEKA_WAIT_REPLICAS: 'one', TEEKA_WAIT_TIMEOUT_MS: '0' })).toEqual([
      expect.stringMatching(/^TEEKA_WAIT_REPLICAS: expected a whole number/),
      expect.stringMatching(/^TEEKA_WAIT_TIMEOUT_MS: expected a whole number/),
    ]);
  });

  it('a sound production configuration loads', () => {
    expect(problemsOf(PRODUCTION_OK)).toEqual([]);
    expect(loadConfig(PRODUCTION_OK as NodeJS.ProcessEnv).clockOffsetMs).toBe(0);
  });

  it('production refuses the demo admin key, a shared vaccinator key, a secret of spaces, a shifted clock — all in one report', () => {
    const problems = problemsOf({
      ...PRODUCTION_OK,
      TEEKA_SECRET: ' '.repeat(40),
      TEEKA_ADMIN_KEY: 'demo-admin-key',
      TEEKA_VACCINATOR_KEY: 'vac-3Nd6Tb1Ym5Gs0Jf',
      TEEKA_CLOCK_OFFSET_MS: '3600000',
      PORT: 'eighty',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT: expected a whole number/),
        expect.stringMatching(/^TEEKA_VACCINATOR_KEY: vaccinators no longer share a key/),
        expect.stringMatching(/^TEEKA_SECRET: must not start or end with white space/),
        'TEEKA_ADMIN_KEY: the demo key is not allowed in production',
        expect.stringMatching(/^TEEKA_CLOCK_OFFSET_MS: /),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  it('a long secret with little variety is refused in production', () => {
    expect(problemsOf({ ...PRODUCTION_OK, TEEKA_SECRET: 'ab'.repeat(20) })).toEqual([expect.stringMatching(/^TEEKA_SECRET: too little variety/)]);
    expect(problemsOf({ ...PRODUCTION_OK, TEEKA_ADMIN_KEY: 'demo-admin-key' })).toEqual([
      expect.stringMatching(/^TEEKA_ADMIN_KEY: the demo key is not allowed/),
    ]);
  });

  it("test numbers' fixed security code is a demo setting: refused in production, 4 digits in a demo", () => {
    expect(problemsOf({ ...PRODUCTION_OK, TEEKA_TEST_SECURITY_CODE: '1234' })).toEqual([
      'TEEKA_TEST_SECURITY_CODE: a fixed security code is for demos and load tests, not production',
    ]);
    expect(problemsOf({ TEEKA_TEST_SECURITY_CODE: '12a4' })).toEqual(['TEEKA_TEST_SECURITY_CODE: must be 4 digits']);
    expect(loadConfig({ TEEKA_TEST_SECURITY_CODE: '1234' } as NodeJS.ProcessEnv).testSecurityCode).toBe('1234');
    expect(loadConfig({} as NodeJS.ProcessEnv)).toMatchObject({ testSecurityCode: null, securityCodeMaxWrong: 5 });
  });

  it('certificates: production needs its own key ring and an https issuer; a ring that does not load is named', () => {
    expect(problemsOf({ ...PRODUCTION_OK, TEEKA_CERT_KEYS: undefined, TEEKA_CERT_ISSUER: 'http://teeka.example.invalid' })).toEqual([
      expect.stringMatching(/^TEEKA_CERT_KEYS: production signs certificates with its own keys/),
      'TEEKA_CERT_ISSUER: production certificates name an https issuer URL (SMART Health Cards)',
    ]);
    expect(problemsOf({ TEEKA_CERT_ISSUER: 'https://teeka.example/' })).toEqual([expect.stringMatching(/^TEEKA_CERT_ISSUER: expected an http\(s\) URL without a trailing slash/)]);
    const broken = join(scratch, 'broken-keys.json');
    writeFileSync(broken, JSON.stringify({ revocation_secret: 'short', keys: [] }));
    expect(problemsOf({ TEEKA_CERT_KEYS: broken })).toEqual([expect.stringMatching(/^TEEKA_CERT_KEYS: .*revocation_secret/)]);
    expect(loadConfig({ HOST: '127.0.0.1', PORT: '8123' } as NodeJS.ProcessEnv).certIssuer).toBe('http://127.0.0.1:8123');
  });

  it('REDIS_CLUSTER names seed nodes of a Redis Cluster; REDIS_URL alone is one server; both at once are refused', () => {
    expect(loadConfig({} as NodeJS.ProcessEnv).redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(loadConfig({ REDIS_URL: 'redis://cache:6380/2' } as NodeJS.ProcessEnv).redis).toEqual({ url: 'redis://cache:6380/2' });
    expect(loadConfig({ REDIS_CLUSTER: '10.0.0.1:7001, redis-b:7002,[::1]:7003' } as NodeJS.ProcessEnv).redis).toEqual({
      cluster: [
        { host: '10.0.0.1', port: 7001 },
        { host: 'redis-b', port: 7002 },
        { host: '::1', port: 7003 },
      ],
    });
    // an empty one is unset: how a child process is pointed back at one server
    expect(loadConfig({ REDIS_CLUSTER: '', REDIS_URL: 'redis://own:7000' } as NodeJS.ProcessEnv).redis).toEqual({ url: 'redis://own:7000' });
    expect(problemsOf({ REDIS_CLUSTER: '127.0.0.1:7101', REDIS_URL: 'redis://cache:6379' })).toEqual([
      'REDIS_CLUSTER: set together with REDIS_URL (redis://cache:6379): set one of them, REDIS_CLUSTER for a Redis Cluster or REDIS_URL for one server',
    ]);
    expect(problemsOf({ REDIS_CLUSTER: '127.0.0.1:7101,127.0.0.1', PORT: 'x' })).toEqual([
      'REDIS_CLUSTER: expected host:port,host:port,… (seed nodes of the cluster), got "127.0.0.1"',
      expect.stringMatching(/^PORT: /),
    ]);
    expect(problemsOf({ REDIS_CLUSTER: 'redis://127.0.0.1:7101' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER: expected host:port/)]);
    expect(problemsOf({ REDIS_CLUSTER: '127.0.0.1:70000' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER: expected host:port/)]);
  });

  it('the demo runs on a shifted clock when asked, and the shift moves "now"', () => {
    const config = loadConfig({ TEEKA_CLOCK_OFFSET_MS: String(-86_400_000) } as NodeJS.ProcessEnv);
    const drift = Date.now() - 86_400_000 - config.clock();
    expect(Math.abs(drift)).toBeLessThan(1000);
  });

  it('the gateway process prints every problem plainly and exits 2, without a stack trace', () => {
    const result = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'gateway', 'main.js')], {
      env: { ...process.env, ...PRODUCTION_OK, TEEKA_SECRET: ' '.repeat(40), TEEKA_ADMIN_KEY: 'demo-admin-key', PORT: '0x50' } as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^gateway: 3 configuration problems:\n {2}- PORT: .*\n {2}- TEEKA_SECRET: .*\n {2}- TEEKA_ADMIN_KEY: the demo key/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("the demo's test numbers come from the country file unless TEEKA_TEST_MOBILE_PREFIX names others; production has none", () => {
    const india = testCountry('demo-country').country;
    const guyana = testCountry('guyana').country;
    const demo = loadConfig({} as NodeJS.ProcessEnv);
    expect(testMobilesOf(demo, india)).toEqual({ prefix: '9999', otp: '123456', securityCode: null });
    expect(testMobilesOf(demo, guyana)).toEqual({ prefix: '699', otp: '123456', securityCode: null });
    expect(testMobilesOf(loadConfig({ TEEKA_TEST_MOBILE_PREFIX: '6123', TEEKA_TEST_OTP: '654321' } as NodeJS.ProcessEnv), guyana)).toEqual({ prefix: '6123', otp: '654321', securityCode: null });
    expect(testMobilesOf(loadConfig(PRODUCTION_OK as NodeJS.ProcessEnv), guyana)).toBeNull();
    // India's prefix fits no Guyanese mobile (7 digits starting with 6): refused, naming the variable
    const wrong = () => testMobilesOf(loadConfig({ TEEKA_TEST_MOBILE_PREFIX: '9999' } as NodeJS.ProcessEnv), guyana);
    expect(wrong).toThrow(ConfigError);
    expect(wrong).toThrow('TEEKA_TEST_MOBILE_PREFIX: no mobile number of Guyana (demo) (7 digits starting with 6) starts with 9999');
  });

  it('a gateway for Guyana given India\'s test prefix says so and exits 2', () => {
    const result = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'gateway', 'main.js')], {
      env: { ...process.env, TEEKA_ENV: 'demo', TEEKA_COUNTRY: testCountry('guyana').file, TEEKA_TEST_MOBILE_PREFIX: '9999' } as NodeJS.ProcessEnv,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toBe('gateway: TEEKA_TEST_MOBILE_PREFIX: no mobile number of Guyana (demo) (7 digits starting with 6) starts with 9999\n');
  });
});

describe('configuration warnings', () => {
  it('warns of the partitioned layout on a cluster without WAIT, and of nothing else', () => {
    const cluster = { REDIS_CLUSTER: '127.0.0.1:7000,127.0.0.1:7001', REDIS_URL: '' };
    const warned = configWarnings(loadConfig({ ...cluster, TEEKA_LAYOUT: 'partitioned' } as NodeJS.ProcessEnv));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/TEEKA_LAYOUT=partitioned on a Redis Cluster with TEEKA_WAIT_REPLICAS=0.*Set TEEKA_WAIT_REPLICAS=1/);
    expect(configWarnings(loadConfig({ ...cluster, TEEKA_LAYOUT: 'partitioned', TEEKA_WAIT_REPLICAS: '1' } as NodeJS.ProcessEnv))).toEqual([]);
    expect(configWarnings(loadConfig({ ...cluster } as NodeJS.ProcessEnv))).toEqual([]);
    expect(configWarnings(loadConfig({ TEEKA_LAYOUT: 'partitioned', REDIS_CLUSTER: '' } as NodeJS.ProcessEnv))).toEqual([]);
  });
});
