/** The gateway refuses uWS's slow JavaScript fallback unless explicitly allowed. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../../engine/config.js';
import { freePort } from '../support/gateway.js';

it('exits with a clear message when only the fallback loads', async () => {
  const result = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'gateway', 'main.js')], {
    env: { ...process.env, UWS_USE_FALLBACK: '1', PORT: String(await freePort()), GATEWAY_THREADS: '1' },
    encoding: 'utf8',
    timeout: 15_000,
  });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain('uWebSockets.js is running its slow JavaScript fallback');
  expect(result.stderr).toContain('TEEKA_ALLOW_UWS_FALLBACK=1');
});
