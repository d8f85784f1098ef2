/**
 * Queue depth without coupling: the real gateway reads the depth the real worker process publishes
 * (worker/queue-depth.ts); with the worker gone the record expires and /metrics and /teeka/ops/queue
 * say unknown instead of the last numbers; and a bad worker-only setting does not stop the gateway,
 * which no longer opens the worker's queue or reads its settings.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../engine/keys.js';
import { CowinClient, startGateway, type RunningGateway } from '../support/gateway.js';
import { DATABASE_URL, startWorkerProcess, type ChildProcessHandle } from '../worker/support.js';

let gateway: RunningGateway;
const schema = `depth_${randomUUID().slice(0, 8)}`;
const workers: ChildProcessHandle[] = [];

beforeAll(async () => {
  // a worker-only setting the worker itself would refuse: the gateway must not care
  gateway = await startGateway({ TEEKA_WORKER_BATCH: 'lots', TEEKA_WORKER_RETRY_CAP_MS: '1' });
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  await gateway?.stop();
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

const metrics = async () => (await fetch(`${gateway.url}/metrics`)).text();
const gauge = (text: string, name: string) => {
  const match = new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
};

async function adminClient(): Promise<CowinClient> {
  const admin = new CowinClient(gateway.url);
  admin.token = (await admin.post('/teeka/auth/operator', { role: 'admin', key: 'demo-admin-key' })).json.token;
  return admin;
}

describe('queue depth published by the worker', () => {
  it('starts with a bad worker-only setting, shows the worker depth while it runs, and unknown once it is gone', async () => {
    expect(gateway.output()).toMatch(/teeka gateway: .* listening on/);
    const admin = await adminClient();

    // no worker yet: unknown, and no depth gauges at all (not zeros)
    await expect.poll(async () => gauge(await metrics(), 'teeka_worker_depth_up'), { timeout: 5000 }).toBe(0);
    expect(gauge(await metrics(), 'teeka_outbox_entries')).toBeNull();
    expect((await admin.get('/teeka/ops/queue')).json).toMatchObject({ unknown: true });

    // changes wait in the outbox; the worker starts, publishes, drains
    const center = gateway.engine.country.data.centers[0]!;
    const published = await gateway.engine.publishSession({ center_id: center.center_id, date: gateway.engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 5, capacity_dose2: 0 });
    expect(published.ok).toBe(true);
    const worker = await startWorkerProcess({ prefix: gateway.prefix, schema, extra: { TEEKA_QUOTA_SNAPSHOT_MS: '0' } });
    workers.push(worker);
    await expect.poll(() => gateway.redis.xlen(keys.outbox()), { timeout: 10_000 }).toBe(0);
    let text = '';
    await expect
      .poll(
        async () => {
          text = await metrics();
          return [gauge(text, 'teeka_worker_depth_up'), gauge(text, 'teeka_outbox_entries'), gauge(text, 'teeka_outbox_stream_entries{stream="{bk}:outbox"}')];
        },
        { timeout: 10_000 },
      )
      .toEqual([1, 0, 0]);
    expect(gauge(text, 'teeka_worker_depth_age_seconds')).toBeLessThan(5);
    expect(gauge(text, 'teeka_persist_jobs{state="failed"}')).toBe(0);
    // the main thread hands the depth to each thread by message: the thread that answers this may
    // take its copy a moment after the one that answered /metrics
    const depthNow = async () => (await admin.get('/teeka/ops/queue')).json;
    await expect.poll(depthNow, { timeout: 5000 }).toMatchObject({ outboxLength: 0, undelivered: 0, streams: { [keys.outbox()]: { length: 0 } }, bull: { failed: 0 } });
    expect((await depthNow()).publishedAgeMs).toBeLessThan(5000);

    // the worker dies: within the record's lifetime (3 s at the default 1 s period, plus a sample)
    // the depth is unknown, its gauges gone rather than frozen at their last values
    await worker.kill('SIGKILL');
    const killedAt = Date.now();
    await expect.poll(async () => gauge(await metrics(), 'teeka_worker_depth_up'), { timeout: 10_000 }).toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(8000);
    text = await metrics();
    expect(gauge(text, 'teeka_outbox_entries')).toBeNull();
    expect(gauge(text, 'teeka_worker_depth_age_seconds')).toBeNull();
    expect(text).not.toContain('teeka_outbox_stream_entries{');
    await expect.poll(depthNow, { timeout: 5000 }).toMatchObject({ unknown: true });
  });
});
