/**
 * A gateway refuses to start on a port that is already served, instead of taking a share of its
 * connections through SO_REUSEPORT; its own threads still share their port.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { freePort, startGateway, type RunningGateway } from '../support/gateway.js';

const MAIN = join(projectRoot(), 'dist', 'gateway', 'main.js');

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway?.stop());

/** Runs a second gateway on `port` until it exits (or 15 s pass: then it is serving, and killed). */
function secondGateway(port: number) {
  return spawnSync(process.execPath, [MAIN], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', GATEWAY_THREADS: '2', TEEKA_ENV: 'demo', TEEKA_REDIS_PREFIX: `${gateway.prefix}second:` },
    encoding: 'utf8',
    timeout: 15_000,
  });
}

it('a second teeka on a port a teeka serves exits non-zero with a clear message; the first keeps every connection', async () => {
  const second = secondGateway(gateway.port);
  expect(second.signal, `the second gateway kept running:\n${second.stdout}${second.stderr}`).toBeNull();
  expect(second.status).toBe(1);
  expect(second.stderr).toContain(`127.0.0.1:${gateway.port} is already in use`);
  expect(second.stdout).not.toContain('listening on');

  // the first gateway's two threads share their port (the probe refuses only other processes)...
  // (the line comes once every thread listens, which may be after the first one answered /healthz)
  await expect.poll(() => gateway.output(), { timeout: 10_000 }).toContain(`listening on http://127.0.0.1:${gateway.port} with 2 thread(s)`);
  // ...and still answer every connection
  const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${gateway.url}/healthz`, { headers: { connection: 'close' } }).then((r) => r.status)));
  expect(answers).toEqual(Array(20).fill(200));
});

it('a port held by another server is refused the same way', async () => {
  const port = await freePort();
  const other = createServer().listen(port, '127.0.0.1');
  await new Promise((resolve) => other.once('listening', resolve));
  try {
    const second = secondGateway(port);
    expect(second.status).toBe(1);
    expect(second.stderr).toContain(`127.0.0.1:${port} is already in use`);
  } finally {
    other.close();
  }
});
