/**
 * Durability on failover, on a Redis Cluster of the test's own (issue 11): a rush of more than
 * 10,000 HTTP bookings spread over many sessions, during which the replication link of the master
 * that holds the bookings is cut for 1.5 s (its replica stopped with SIGSTOP, so it cannot reconnect,
 * and the master's link to it killed: what the master writes then never reaches it, as in a network
 * partition), then that master is SIGKILLed (the replica takes over, and the dead node is started
 * again as its replica), and the gateway is SIGKILLed once (restarted).
 * Clients retry a request that got no answer, or a 5xx, with the same Idempotency-Key.
 *
 * With TEEKA_WAIT_REPLICAS=1 (gateway and worker): reconcile passes, and PostgreSQL holds exactly the
 * bookings the API acknowledged. With 0: the run measures and prints what the failover lost
 * (acknowledged bookings missing from Redis and from PostgreSQL, sessions whose seat counter no
 * longer agrees with their appointments), and checks what must hold even then: only bookings
 * acknowledged while the link was cut are missing, and in the single layout Redis's counters agree
 * with its own appointments.
 *
 * In the layout TEEKA_LAYOUT names (the processes inherit it): with `partitioned`
 * (`TEEKA_LAYOUT=partitioned npm run test:failover`) each booking is three steps on two masters,
 * and the master killed is the one holding the first session's partition.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { layoutFrom, projectRoot } from '../../engine/config.js';
import { BookingEngine } from '../../engine/engine.js';
import { keys } from '../../engine/keys.js';
import { Partitions } from '../../engine/partitions.js';
import { connectRedis, parseClusterNodes, type ClusterNode, type RedisClient } from '../../engine/redis.js';
import { runWithConcurrency } from '../../loadtest/bench-support.js';
import { PrivateCluster } from '../../loadtest/private-cluster.js';
import { openPool } from '../../worker/database.js';
import { outboxStreams } from '../../worker/outbox.js';
import { readQueueDepth } from '../../worker/queue-depth.js';
import { formatReconcileReport, reconcile } from '../../worker/reconcile.js';
import { processClock, realTimeEnv } from '../support/clock.js';
import { demoCountry } from '../support/fixtures.js';
import { freePort } from '../support/gateway.js';
import { bookUntilAnswered, publishRushSessions, rushSeats } from './rush.js';
import { PrivatePostgres, spawnNode, startWorkerProcess, waitFor, type ChildProcessHandle } from '../worker/support.js';

const DEMO_SECRET = 'teeka-demo-secret-do-not-use-in-production'; // the gateway's demo default
const BOOKINGS = 10_400;
const SESSIONS = 26;
const LINK_CUT_MS = 1500;

const cleanUps: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanUp of cleanUps.reverse()) await cleanUp().catch(() => {});
});

interface Acknowledged {
  appointmentId: string;
  sessionId: string;
}

async function rushThroughFailover(waitReplicas: number) {
  const run = `failover${waitReplicas}${Date.now().toString(36)}`;
  const prefix = `${run}:`;
  const cluster = await PrivateCluster.start(realTimeEnv());
  cleanUps.push(() => cluster.destroy());
  const postgres = await PrivatePostgres.create();
  cleanUps.push(() => postgres.destroy());
  const port = await freePort();
  const env = {
    prefix,
    schema: run,
    databaseUrl: postgres.url,
    extra: {
      REDIS_CLUSTER: cluster.seeds,
      REDIS_URL: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      GATEWAY_THREADS: '2',
      TEEKA_ENV: 'demo',
      TEEKA_WAIT_REPLICAS: String(waitReplicas),
      TEEKA_WAIT_TIMEOUT_MS: '500',
    },
  };
  const address = { cluster: parseClusterNodes(cluster.seeds) as ClusterNode[] };
  const redis: RedisClient = connectRedis({ address, keyPrefix: prefix, role: 'tool' });
  cleanUps.push(async () => redis.disconnect());

  // a process that exits on its own (not killed by the test) ends the run with its output
  let failed: (error: Error) => void = () => {};
  const died = new Promise<never>((_resolve, reject) => (failed = reject));
  died.catch(() => {}); // observed by the race below
  const killedOnPurpose = new Set<ChildProcessHandle>();
  const watch = (name: string, handle: ChildProcessHandle) => {
    void handle.exited.then(({ code, signal }) => {
      if (!killedOnPurpose.has(handle)) failed(new Error(`the ${name} exited by itself (code ${code}, signal ${signal}):\n${handle.output.slice(-4000)}`));
    });
    return handle;
  };
  const stop = (handle: ChildProcessHandle, signal: NodeJS.Signals) => {
    killedOnPurpose.add(handle);
    return handle.kill(signal);
  };

  let worker: ChildProcessHandle = watch('worker', await startWorkerProcess(env));
  cleanUps.push(() => stop(worker, 'SIGTERM'));
  const startGateway = async (): Promise<ChildProcessHandle> => {
    const handle = watch('gateway', spawnNode(join(projectRoot(), 'dist', 'gateway', 'main.js'), env));
    await waitFor('the gateway to answer', async () => {
      if (handle.child.exitCode !== null) throw new Error(`gateway exited:\n${handle.output}`);
      return fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
    }, 60_000);
    return handle;
  };
  let gateway = await startGateway();
  cleanUps.push(() => stop(gateway, 'SIGTERM'));
  const pool = openPool({ databaseUrl: postgres.url, schema: run, max: 2, onIdleError: () => {} });
  cleanUps.push(() => pool.end());

  const partitions = new Partitions(16);
  const layout = layoutFrom(process.env);
  const engine = new BookingEngine(redis, {
    country: demoCountry(),
    secret: DEMO_SECRET,
    testMobiles: { prefix: '9999', otp: '123456' },
    clock: processClock,
    partitions,
    layout,
  });
  const sessions = await publishRushSessions(engine, SESSIONS, 250);
  const seats = await rushSeats(engine, DEMO_SECRET, BOOKINGS);

  // when the answered attempt was sent and when its answer came (performance.now())
  const acknowledged = new Map<string, Acknowledged & { sentAt: number; answeredAt: number }>();
  const refusals: string[] = [];
  let retries = 0;
  const book = async (i: number) => {
    const seat = seats[i]!;
    const session = sessions[i % sessions.length]!;
    const answer = await bookUntilAnswered(port, seat, session, session.slots[i % 4]!);
    retries += answer.retries;
    if (answer.status === 200) acknowledged.set(seat.beneficiaryId, { appointmentId: answer.appointmentId!, sessionId: session.id, sentAt: answer.sentAt, answeredAt: answer.answeredAt });
    else refusals.push(`${answer.status} ${answer.errorCode}`);
  };

  // single layout: every booking key shares the {bk} slot, its master is the one whose loss matters;
  // partitioned: the master of the first session's partition (it holds about a third of the
  // sessions, accounts and appointments, so its loss cuts bookings in the middle of their steps)
  const bookingMaster = await cluster.masterOf(prefix + (layout === 'partitioned' ? keys.partitionSession(partitions, sessions[0]!.id) : keys.outbox()));
  const replica = await cluster.replicaOf(bookingMaster);
  const log: string[] = [];
  const at = (fraction: number) => waitFor(`${fraction * 100} % of the rush`, () => acknowledged.size >= fraction * BOOKINGS || null, 180_000, 20);
  // from just before the link is cut to just after the master is dead (performance.now())
  const cut = { from: 0, to: 0 };
  const faults = (async () => {
    await at(0.25);
    // (a stopped replica alone loses nothing: the kernel keeps receiving the replication stream for
    // it, and it reads all of it when resumed)
    cut.from = performance.now();
    cluster.signal(replica, 'SIGSTOP');
    await cluster.onNode(bookingMaster, (n) => n.client('KILL', 'TYPE', 'replica'));
    log.push(`link from booking master ${bookingMaster} to its replica ${replica} cut at ${acknowledged.size} acknowledged`);
    await new Promise((r) => setTimeout(r, LINK_CUT_MS));
    await cluster.kill(bookingMaster);
    cut.to = performance.now();
    cluster.signal(replica, 'SIGCONT');
    log.push(`master ${bookingMaster} SIGKILLed at ${acknowledged.size} acknowledged; replica resumed`);
    const killedAt = Date.now();
    await cluster.waitForPromotion(replica, 60_000);
    log.push(`replica ${replica} promoted after ${((Date.now() - killedAt) / 1000).toFixed(1)} s, at ${acknowledged.size} acknowledged`);
    // the promoted master has no replica: with TEEKA_WAIT_REPLICAS=1 it cannot acknowledge anything
    // (each booking is answered 503 and retried) until the operator brings the dead node back
    await cluster.restartStopped();
    log.push(`node ${bookingMaster} restarted as a replica and in sync at ${acknowledged.size} acknowledged`);
    await at(0.6);
    await stop(gateway, 'SIGKILL');
    log.push(`gateway SIGKILLed at ${acknowledged.size} acknowledged`);
    gateway = await startGateway();
    log.push(`gateway restarted at ${acknowledged.size} acknowledged`);
  })();
  const started = Date.now();
  // the rush and the faults, unless a process dies on its own first
  await Promise.race([Promise.all([runWithConcurrency(BOOKINGS, 32, book), faults]), died]);
  const rushSeconds = (Date.now() - started) / 1000;
  await faults;

  const drained = async () => {
    const depth = await readQueueDepth(redis, null, outboxStreams(partitions)).catch(() => null);
    return depth !== null && depth.outboxLength === 0 && depth.pending === 0;
  };
  await waitFor('the outbox streams to drain', drained, 180_000, 200);
  // (an entry leaves the outbox only after its PostgreSQL transaction committed)
  // the partitioned layout: a booking the killed gateway left between its steps, and no client
  // retried to its end, is resolved by the worker's sweeper once its deadline passed
  await waitFor('no partitioned booking step left pending', async () => {
    if (layout !== 'partitioned') return true;
    const open = await Promise.all(partitions.all().map((p) => redis.zcard(keys.intents(partitions, p))));
    return open.every((n) => n === 0);
  }, 120_000, 500);
  await waitFor('the outbox streams to drain after the sweep', drained, 180_000, 200);

  const rows = await pool.query<{ appointment_id: string; beneficiary_id: string; status: string; session_id: string }>(
    "SELECT appointment_id, beneficiary_id, status, session_id FROM appointments WHERE status = 'booked'",
  );
  const inRedis = new Map<string, string>();
  const lost: (Acknowledged & { sentAt: number; answeredAt: number })[] = [];
  for (const [beneficiaryId, ack] of acknowledged) {
    const appointment = await engine.getAppointment(ack.appointmentId);
    if (appointment) inRedis.set(beneficiaryId, ack.appointmentId);
    else lost.push(ack);
  }
  const pgByAppointment = new Map(rows.rows.map((r) => [`${r.beneficiary_id}/${r.appointment_id}`, r]));
  const acknowledgedKeys = new Set([...acknowledged].map(([b, a]) => `${b}/${a.appointmentId}`));
  const missingInPostgres = [...acknowledgedKeys].filter((k) => !pgByAppointment.has(k));
  const notAcknowledgedInPostgres = [...pgByAppointment.keys()].filter((k) => !acknowledgedKeys.has(k));
  const report = await reconcile(redis, pool, partitions);
  const duringCut = (ack: { sentAt: number; answeredAt: number }) => ack.answeredAt > cut.from && ack.sentAt < cut.to;
  const scripts = await Promise.all(
    (await cluster.masters()).map(async (master) => {
      const stats = await cluster.onNode(master, (n) => n.info('commandstats'));
      const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
      return `master ${master}${master === bookingMaster ? '' : master === replica ? ' (promoted)' : ''}: ${evalsha?.[1] ?? 0} script calls, ${evalsha?.[2] ?? 0} µs`;
    }),
  );
  // each session's seat counter against the acknowledged appointments it still has (every
  // appointment that survived was acknowledged: its client got the answer or retried into its replay)
  const counterGaps: string[] = [];
  for (const session of sessions) {
    const state = (await engine.getSession(session.id))!;
    const live = [...acknowledged].filter(([b, a]) => a.sessionId === session.id && inRedis.has(b)).length;
    if (state.booked1 !== live) counterGaps.push(`${session.id}: ${state.booked1} seats counted, ${live} live appointments`);
  }
  const summary = [
    `TEEKA_WAIT_REPLICAS=${waitReplicas}: rush of ${BOOKINGS} in ${rushSeconds.toFixed(1)} s, ${retries} retries, ${refusals.length} refusals`,
    ...log,
    `acknowledged while the link was cut (answered after the cut, sent before the master died): ${[...acknowledged.values()].filter(duringCut).length}`,
    `acknowledged ${acknowledged.size}; missing from Redis after the failover ${acknowledged.size - inRedis.size}; ` +
      `missing from PostgreSQL ${missingInPostgres.length}; in PostgreSQL but not acknowledged ${notAcknowledgedInPostgres.length}`,
    `script calls per live master (INFO commandstats, since each started or was promoted): ${scripts.join('; ')}`,
    `acknowledged, lost from Redis but written to PostgreSQL (Redis now behind it): ${acknowledged.size - inRedis.size - missingInPostgres.length}`,
    `reconcile: ${report.ok ? 'ok' : formatReconcileReport(report).split('\n')[0]}`,
    `sessions whose seat counter disagrees with their live appointments: ${counterGaps.length}${counterGaps.length ? ` (${counterGaps.join('; ')})` : ''}`,
  ].join('\n');
  console.log(summary);

  // Whatever was lost, in the single layout the promoted replica holds a prefix of the master's
  // writes to the one slot, so Redis agrees with itself. In the partitioned layout a booking's seats
  // and its appointment are on different masters: with TEEKA_WAIT_REPLICAS=0 the failover may keep
  // one and lose the other (fewer seats counted than appointments: seats sold twice; or the reverse),
  // which the run reports; with WAIT each step is on a replica before the next, so they agree.
  if (layout === 'single' || waitReplicas > 0) expect(counterGaps, summary).toEqual([]);
  // and only what the master acknowledged while the link was cut can have been lost with it: a lost
  // booking was made after the cut (so answered after it) and before the master died (so its
  // answered attempt was sent before that)
  expect(lost.filter((ack) => !duringCut(ack)), summary).toEqual([]);
  return { acknowledged, inRedis, lost, missingInPostgres, notAcknowledgedInPostgres, report, refusals, summary, rows: rows.rows };
}

describe.sequential('a master and the gateway killed mid-rush on a cluster', () => {
  it(
    `TEEKA_WAIT_REPLICAS=1: PostgreSQL holds exactly the ${BOOKINGS} acknowledged bookings`,
    async () => {
      const result = await rushThroughFailover(1);
      expect(result.refusals).toEqual([]);
      expect(result.acknowledged.size).toBe(BOOKINGS);
      expect(result.inRedis.size, result.summary).toBe(BOOKINGS);
      expect(result.report.ok, formatReconcileReport(result.report)).toBe(true);
      expect(result.missingInPostgres).toEqual([]);
      expect(result.notAcknowledgedInPostgres).toEqual([]);
      expect(result.rows).toHaveLength(BOOKINGS);
    },
    600_000,
  );

  it(
    'TEEKA_WAIT_REPLICAS=0: what the failover lost is measured; only what was acknowledged while the link was cut is lost, and in the single layout Redis agrees with itself',
    async () => {
      const result = await rushThroughFailover(0);
      expect(result.refusals).toEqual([]);
      // (the checks inside: Redis agrees with itself, and losses fall in the window the link was cut; the figures
      // are printed: without WAIT the master acknowledges what its cut-off replica never gets)
      expect(result.acknowledged.size).toBe(BOOKINGS);
    },
    600_000,
  );
});
