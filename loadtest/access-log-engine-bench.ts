/**
 * `npm run bench:access-log-engine`: what a booking's access log entry costs at the engine, without
 * HTTP, on one Redis: the same bookings with no entry (`off`), with the entry carried by the
 * booking's own outbox entry (`in script`, what the gateway does for an accepted booking: engine.book's
 * `access`), and with the entry appended in a call of its own after the booking answered (`own
 * call`, what the gateway did before, coalesced per turn by engine/access-log.ts). Callers are a
 * closed loop, as a rush's clients are (each sends its next booking when answered), so the latency an
 * extra call adds shows in the rate. Modes take turns in rotated order; medians of the rounds, and
 * Redis's script calls and script time per booking (INFO commandstats: give it a Redis of its own).
 *
 *   REDIS_URL=redis://127.0.0.1:6391 npm run bench:access-log-engine -- [--bookings 3000] [--rounds 6] [--callers 32]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AccessLog, type AccessEntry } from '../engine/access-log.js';
import { loadConfig } from '../engine/config.js';
import { BookingEngine } from '../engine/engine.js';
import { loadCountry, parseCountry } from '../engine/masterdata.js';
import { connectRedis } from '../engine/redis.js';
import { benchedRedisServer, createBeneficiaryPool, deleteKeysWithPrefix, formatTable, median, requireLoopbackServices, runWithConcurrency } from './bench-support.js';

const { values: args } = parseArgs({ options: { bookings: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '6' }, callers: { type: 'string', default: '32' } } });
const BOOKINGS = Number(args.bookings);
const ROUNDS = Number(args.rounds);
const CALLERS = Number(args.callers);
if (!(BOOKINGS >= 100 && BOOKINGS <= 20_000) || !(ROUNDS >= 1 && ROUNDS <= 12) || !(CALLERS >= 1 && CALLERS <= 256)) {
  throw new Error('--bookings: 100 to 20000, --rounds: 1 to 12, --callers: 1 to 256 (the run stays near a minute)');
}

const MODES = ['off', 'in script', 'own call'] as const;
type Mode = (typeof MODES)[number];

const config = loadConfig();
requireLoopbackServices(config);
benchedRedisServer(config, 'bench:access-log-engine');
const prefix = `bench-access-engine:${randomUUID().slice(0, 8)}:`;
const redis = connectRedis({ address: config.redis, keyPrefix: prefix, role: 'tool', overrides: { enableAutoPipelining: true } });
const stats = connectRedis({ address: config.redis, keyPrefix: '', role: 'tool' });
const demo = loadCountry(config.countryFile).data;
const country = parseCountry({ ...demo, rules: { ...demo.rules, beneficiaries_per_account: 20 } });
const engine = new BookingEngine(redis, { country, secret: 'bench-secret' });
const log = new AccessLog(engine.scripts, () => engine.now());

async function scriptCounters(): Promise<{ calls: number; usec: number }> {
  const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await stats.info('commandstats'));
  return { calls: Number(match?.[1] ?? 0), usec: Number(match?.[2] ?? 0) };
}

/** The entry of an accepted booking (engine/access-log.ts bookingAccessEntry), for one beneficiary, as a call of its own. */
function entryOf(accountId: string, beneficiaryId: string, appointmentId: string): AccessEntry {
  const objects = [`account:${accountId}`, `beneficiary:${beneficiaryId}`, `appointment:${appointmentId}`];
  return { at: engine.now(), actor_kind: 'citizen', actor: accountId, partner: '', address: '127.0.0.1', method: 'POST', route: '/api/v2/appointment/schedule', objects, status: 200 };
}

async function main(): Promise<void> {
  const center = country.data.centers[0]!;
  const slots = country.slotsOf(center);
  const session = await engine.publishSession({ center_id: center.center_id, date: engine.today() + 1, vaccine: 'COVISHIELD', min_age_limit: 18, capacity_dose1: 1_000_000, capacity_dose2: 0, slot_capacity: slots.map(() => 1_000_000) });
  if (!session.ok) throw new Error(`publishSession: ${session.status}`);
  const rates = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  const perBooking = new Map<Mode, { calls: number; usec: number }[]>(MODES.map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // each mode goes first, second and last in turn
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]!);
    for (const mode of order) {
      const accountId = `bench-${round}-${mode.replace(' ', '-')}`;
      const ids = await createBeneficiaryPool(redis, accountId, BOOKINGS);
      const before = await scriptCounters();
      const started = performance.now();
      await runWithConcurrency(ids.length, CALLERS, async (i) => {
        const beneficiaryId = ids[i]!;
        const request = { accountId, sessionId: session.sessionId, slot: slots[0]!, dose: 1, beneficiaryIds: [beneficiaryId] };
        if (mode === 'in script') {
          const booked = await engine.book({ ...request, access: { route: 'POST /api/v2/appointment/schedule', address: '127.0.0.1' } });
          if (!booked.ok || !booked.accessLogged) throw new Error(`booking refused or not logged: ${booked.status}`);
          return;
        }
        const booked = await engine.book(request);
        if (!booked.ok) throw new Error(`booking refused: ${booked.status}`);
        if (mode === 'own call') await log.append(entryOf(accountId, beneficiaryId, booked.appointmentId));
      });
      const seconds = (performance.now() - started) / 1000;
      const after = await scriptCounters();
      rates.get(mode)!.push(BOOKINGS / seconds);
      perBooking.get(mode)!.push({ calls: (after.calls - before.calls) / BOOKINGS, usec: (after.usec - before.usec) / BOOKINGS });
    }
    process.stdout.write(`round ${round + 1}/${ROUNDS} `);
  }
  const off = median(rates.get('off')!);
  const rows = MODES.map((mode) => [
    mode,
    median(rates.get(mode)!).toFixed(0),
    (median(rates.get(mode)!) / off).toFixed(2),
    rates.get(mode)!.map((r) => r.toFixed(0)).join(', '),
    median(perBooking.get(mode)!.map((p) => p.calls)).toFixed(3),
    median(perBooking.get(mode)!.map((p) => p.usec)).toFixed(1),
  ]);
  console.log(`\n\n${ROUNDS} rounds of ${BOOKINGS} bookings, ${CALLERS} callers in a closed loop\n`);
  console.log(formatTable(['access entry', 'bookings/s (median)', '÷ off', 'each round', 'script calls per booking', 'script µs per booking'], rows));
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    redis.disconnect();
    stats.disconnect();
    await deleteKeysWithPrefix(config.redis, prefix);
  });
