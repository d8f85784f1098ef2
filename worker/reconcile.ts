/**
 * Reconcile (`npm run reconcile`): proves that Redis and PostgreSQL agree once the outbox is drained.
 *
 * Per session: the seat counters in Redis (booked1, booked2, slotbooked:<slot>), the seats of the
 * appointment records in Redis, and the appointment rows in PostgreSQL must be equal. Seats count
 * beneficiaries whose appointment is booked or vaccinated, and those expired (booked, never
 * vaccinated, superseded by a later booking of the same dose: their seat stays counted);
 * dose 1 is bucket 1, doses 2 and 3 share bucket 2. Then every appointment (session, slot, dose,
 * version, beneficiaries in order, their statuses and security codes), every beneficiary (version,
 * doses, live appointment per dose), every operator (role, centres, secret hash, status, version),
 * every certificate (whom, which dose, key, revocation id, status, version, the signed text itself),
 * each key's revocation list, and every partner (name, contact, scopes, limits, status, version) with
 * its API keys (status, hash) must be the same on both sides.
 *
 *   npm run reconcile                  exits 2 when the outbox still holds changes
 *   npm run reconcile -- --wait[=120]  waits (up to N seconds) for the worker to drain it first
 *   npm run reconcile -- --drain       writes what is left in the outbox itself first
 *
 * Changes PostgreSQL refused for good were set aside as dead letters (dead-letter.ts): they are
 * listed with the database's error, and each mismatch one of them explains is named with it.
 *
 * Redis records are read through engine/records.ts; one no script could have written is reported as
 * a mismatch of its own (`record <key>: malformed in Redis: …`).
 *
 * Exit status: 0 all match (one summary line), 1 mismatches or dead letters (a readable diff),
 * 2 not drained.
 * Run it when bookings are quiet: a change between the two reads shows as a mismatch (the outbox is
 * checked again at the end, and a change during the comparison is reported as such).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, scanKeys, type RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { runAsCommand } from '../engine/command.js';
import { loadConfig } from '../engine/config.js';
import { formatCowinDate } from '../engine/dates.js';
import { keys } from '../engine/keys.js';
import {
  decodeAccountHash,
  decodeAppointmentHash,
  decodeBeneficiaryCertificates,
  decodeAccountBeneficiaries,
  decodeCertificateHash,
  decodeHeldAppointment,
  decodeOperatorHash,
  decodeSessionDefinition,
  decodeStoredSession,
  MalformedRecord,
  type StoredBeneficiary,
} from '../engine/records.js';
import { forEachChunk, openPool } from './database.js';
import { deadLetterCount, describeSetAside, readDeadLetters, type DeadLetter } from './dead-letter.js';
import { drainOutboxDirectly } from './drain.js';
import { migrate } from './migrate.js';
import { reconcilePartners } from './partners.js';
import { outboxStreams, readTotalBacklog, type OutboxBacklog } from './outbox.js';
import { Partitions } from '../engine/partitions.js';
import { loadWorkerSettings } from './settings.js';

export interface ReconcileProblem {
  /** what disagrees: `session …`, `appointment …`, `beneficiary …`, `account …` */
  scope: string;
  detail: string;
}

export interface ReconcileReport {
  ok: boolean;
  /** the outbox was empty both when the comparison started and when it ended */
  drained: boolean;
  outboxBefore: OutboxBacklog;
  outboxAfter: OutboxBacklog;
  counts: { sessions: number; appointments: number; seats: number; beneficiaries: number; accounts: number; operators: number; certificates: number; partners: number };
  problems: ReconcileProblem[];
  /** changes PostgreSQL refused for good, set aside (the oldest DEAD_LETTERS_READ of them) */
  deadLetters: DeadLetter[];
  /** how many dead letters there are in all */
  deadLetterCount: number;
}

/** Dead letters reconcile reads and names; more are counted, not listed. */
const DEAD_LETTERS_READ = 1000;

/** Statuses whose seat stays counted in Redis; PostgreSQL adds `expired` (which Redis keeps as booked). */
const SEATED_IN_REDIS = new Set(['booked', 'vaccinated']);
const SEATED_IN_POSTGRES = new Set(['booked', 'vaccinated', 'expired']);

const bucketOf = (dose: number) => (dose === 1 ? 1 : 2);

/** Seats per session, bucket and slot. */
class SeatCounts {
  private readonly counts = new Map<string, number>();
  add(sessionId: string, dose: number, slot: string): void {
    for (const key of [`${sessionId}|b${bucketOf(dose)}`, `${sessionId}|s${slot}`]) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  bucket(sessionId: string, bucket: number): number {
    return this.counts.get(`${sessionId}|b${bucket}`) ?? 0;
  }
  slot(sessionId: string, slot: string): number {
    return this.counts.get(`${sessionId}|s${slot}`) ?? 0;
  }
  slotsOf(sessionId: string): string[] {
    const prefix = `${sessionId}|s`;
    return [...this.counts.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }
  sessions(): Set<string> {
    return new Set([...this.counts.keys()].map((k) => k.slice(0, k.indexOf('|'))));
  }
}

/**
 * Every hash whose key starts with `keyHead`, decoded by engine/records.ts, by the id after the head.
 * A hash no script could have written is a problem of its own, named with what is wrong with it.
 */
async function readRecords<T>(
  redis: RedisClient,
  keyHead: string,
  decode: (id: string, hash: Record<string, string>) => T | null,
  problem: (scope: string, detail: string) => void,
): Promise<Map<string, T>> {
  const records = new Map<string, T>();
  for await (const chunk of scanKeys(redis, `${keyHead}*`)) {
    const pipeline = redis.pipeline();
    for (const key of chunk) pipeline.hgetall(key);
    const replies = (await pipeline.exec()) ?? [];
    chunk.forEach((key, i) => {
      const [err, hash] = replies[i]!;
      if (err) throw err;
      const id = key.slice(keyHead.length);
      try {
        const record = decode(id, hash as Record<string, string>);
        if (record !== null) records.set(id, record);
      } catch (error) {
        if (!(error instanceof MalformedRecord)) throw error;
        problem(`record ${key}`, `malformed in Redis: ${error.message}`);
      }
    });
  }
  return records;
}

/** An appointment row as reconcile and rebuild read it (one per appointment and beneficiary). */
export interface AppointmentRow {
  appointment_id: string;
  beneficiary_id: string;
  account_id: string;
  session_id: string;
  slot: string;
  dose: number;
  status: string;
  version: number;
  created_ms: string;
  /** null for an appointment booked before security codes existed */
  security_code: string | null;
}

interface CertificateRow {
  certificate_id: string;
  beneficiary_id: string;
  dose: number;
  kid: string;
  rid: string;
  status: string;
  version: number;
  jws_md5: string;
  revoked_ms: string | null;
}

interface OperatorRow {
  operator_id: string;
  role: string;
  /** comma-separated, as the operator hash keeps them */
  centers: string;
  secret_hash: string;
  status: string;
  version: number;
}

interface BeneficiaryRow {
  beneficiary_id: string;
  account_id: string;
  version: number;
  deleted: boolean;
  vaccine: string;
  dose1: number;
  dose2: number;
  dose3: number;
}

/**
 * The partitioned booking's records of one kind (`session`, `appointment`) in every partition, by id:
 * the keys `{p:<n>}:<kind>:<id>` whose tag is the id's own partition's (anything else is not one).
 */
async function readPartitionRecords<T>(
  redis: RedisClient,
  kind: 'session' | 'appointment' | 'certificate' | 'beneficiary-certificates',
  decode: (id: string, hash: Record<string, string>) => T | null,
  problem: (scope: string, detail: string) => void,
  /** where the id's record belongs: a key elsewhere is not read. Absent for records placed by their account, not their id */
  keyOf?: (id: string) => string,
): Promise<Map<string, T>> {
  const records = new Map<string, T>();
  const infix = `}:${kind}:`;
  for await (const chunk of scanKeys(redis, `{p:*${infix}*`)) {
    const found = chunk.map((key) => ({ key, id: key.slice(key.indexOf(infix) + infix.length) })).filter(({ key, id }) => !keyOf || keyOf(id) === key);
    const hashes = await Promise.all(found.map(({ key }) => redis.hgetall(key)));
    found.forEach(({ key, id }, i) => {
      try {
        const record = decode(id, hashes[i]!);
        if (record !== null) records.set(id, record);
      } catch (error) {
        if (!(error instanceof MalformedRecord)) throw error;
        problem(`record ${key}`, `malformed in Redis: ${error.message}`);
      }
    });
  }
  return records;
}

/**
 * The beneficiaries of every account's partition (`{p:<n>}:u:<account>:account`, the partitioned
 * booking's copy, which holds their dose pointers), by beneficiary id.
 */
async function readPartitionBeneficiaries(
  redis: RedisClient,
  partitions: Partitions,
  problem: (scope: string, detail: string) => void,
): Promise<Map<string, StoredBeneficiary & { account: string }>> {
  const beneficiaries = new Map<string, StoredBeneficiary & { account: string }>();
  for await (const chunk of scanKeys(redis, '{p:*}:u:*:account')) {
    for (const key of chunk) {
      const accountId = key.slice(key.indexOf('}:u:') + 4, -':account'.length);
      if (keys.forAccount(partitions, accountId).bookingAccount() !== key) continue;
      try {
        for (const ben of decodeAccountBeneficiaries(accountId, await redis.hgetall(key))) beneficiaries.set(ben.id, { ...ben, account: accountId });
      } catch (error) {
        if (!(error instanceof MalformedRecord)) throw error;
        problem(`record ${key}`, `malformed in Redis: ${error.message}`);
      }
    }
  }
  return beneficiaries;
}

/**
 * Compare Redis and PostgreSQL. Given the partitions, the partitioned booking's records are compared
 * too (its sessions, its appointments, and the beneficiaries' dose pointers it keeps in the account's
 * partition: engine/partitioned-booking.md), and "drained" and the dead letters cover every
 * partition's outbox stream (worker/outbox.ts `outboxStreams`). An appointment with a step still
 * pending is named as such: run reconcile again once the sweeper has resolved it.
 */
export async function reconcile(redis: RedisClient, pool: pg.Pool, partitions?: Partitions): Promise<ReconcileReport> {
  const streams = outboxStreams(partitions);
  const outboxBefore = await readTotalBacklog(redis, streams);
  const [deadLetters, deadLetterTotal] = await Promise.all([readDeadLetters(redis, DEAD_LETTERS_READ, streams), deadLetterCount(redis, streams)]);
  const problems: ReconcileProblem[] = [];
  const problem = (scope: string, detail: string) => problems.push({ scope, detail });

  // ---------------------------------------------------------------- read both sides
  const redisSessions = await readRecords(redis, keys.session(''), decodeStoredSession, problem);
  const redisAppointments = await readRecords(redis, keys.appointment(''), decodeAppointmentHash, problem);
  const redisAccounts = await readRecords(redis, keys.account(''), decodeAccountHash, problem);
  const partitionBeneficiaries = new Map<string, StoredBeneficiary & { account: string }>();
  if (partitions) {
    const sessions = await readPartitionRecords(redis, 'session', decodeStoredSession, problem, (id) => keys.partitionSession(partitions, id));
    for (const [id, session] of sessions) {
      if (redisSessions.has(id)) problem(`session ${id}`, 'in Redis twice: in the booking partition and in its own');
      redisSessions.set(id, session);
    }
    const held = await readPartitionRecords(redis, 'appointment', decodeHeldAppointment, problem, (id) => keys.partitionAppointment(partitions, id));
    for (const [id, { appointment, pending }] of held) {
      if (pending) problem(`appointment ${id}`, `its ${pending === 'book' ? 'booking' : 'reschedule'} is still in flight in Redis; run reconcile again once it is resolved`);
      else redisAppointments.set(id, appointment);
    }
    for (const [id, ben] of await readPartitionBeneficiaries(redis, partitions, problem)) partitionBeneficiaries.set(id, ben);
  }

  const pgSessions = new Map<string, { version: number; definition: string }>();
  for (const row of (await pool.query<{ session_id: string; version: number; definition: string }>('SELECT session_id, version, definition FROM sessions')).rows) {
    pgSessions.set(row.session_id, row);
  }
  const pgAppointments = new Map<string, AppointmentRow[]>();
  await forEachChunk<AppointmentRow>(
    pool,
    `SELECT appointment_id, beneficiary_id::text, account_id, session_id, slot, dose, status, version,
            (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms, security_code
     FROM appointments ORDER BY appointment_id, position`,
    [],
    10_000,
    (rows) => {
      for (const row of rows) {
        const list = pgAppointments.get(row.appointment_id);
        if (list) list.push(row);
        else pgAppointments.set(row.appointment_id, [row]);
      }
    },
  );
  const pgBeneficiaries = new Map<string, BeneficiaryRow>();
  await forEachChunk<BeneficiaryRow>(
    pool,
    `SELECT beneficiary_id::text, account_id, version, deleted_at IS NOT NULL AS deleted, coalesce(vaccine, '') AS vaccine,
            coalesce(dose1_date - date '1970-01-01', 0) AS dose1, coalesce(dose2_date - date '1970-01-01', 0) AS dose2,
            coalesce(dose3_date - date '1970-01-01', 0) AS dose3
     FROM beneficiaries`,
    [],
    10_000,
    (rows) => rows.forEach((row) => pgBeneficiaries.set(row.beneficiary_id, row)),
  );
  const pgAccounts = new Set((await pool.query<{ account_id: string }>('SELECT account_id FROM accounts')).rows.map((r) => r.account_id));

  // ---------------------------------------------------------------- sessions and their seats
  const label = (sessionId: string) => {
    let d: { center_id: number; date: number; vaccine: string; min_age: number } | undefined = redisSessions.get(sessionId)?.state;
    const stored = pgSessions.get(sessionId)?.definition;
    if (!d && stored) {
      try {
        d = decodeSessionDefinition(`session ${sessionId} in PostgreSQL`, stored);
      } catch (error) {
        if (!(error instanceof MalformedRecord)) throw error;
      }
    }
    if (!d) return `session ${sessionId}`;
    return `session ${sessionId} (centre ${d.center_id}, ${formatCowinDate(d.date)}, ${d.vaccine} ${d.min_age}+)`;
  };

  const redisSeats = new SeatCounts();
  for (const [, appointment] of redisAppointments) {
    for (const { status } of appointment.beneficiaries) {
      if (SEATED_IN_REDIS.has(status)) redisSeats.add(appointment.session_id, appointment.dose, appointment.slot);
    }
  }
  const pgSeats = new SeatCounts();
  let seats = 0;
  const pgLive = new Map<string, string>(); // `${beneficiary}|${dose}` → appointment booked in PostgreSQL
  for (const rows of pgAppointments.values()) {
    for (const row of rows) {
      if (SEATED_IN_POSTGRES.has(row.status)) {
        pgSeats.add(row.session_id, row.dose, row.slot);
        seats += 1;
      }
      if (row.status === 'booked') pgLive.set(`${row.beneficiary_id}|${row.dose}`, row.appointment_id);
    }
  }

  const sessionIds = new Set([...redisSessions.keys(), ...pgSessions.keys(), ...redisSeats.sessions(), ...pgSeats.sessions()]);
  for (const sessionId of sessionIds) {
    const stored = redisSessions.get(sessionId);
    const session = stored?.state;
    const row = pgSessions.get(sessionId);
    const scope = label(sessionId);
    if (!stored) problem(scope, row ? 'in PostgreSQL, missing in Redis' : 'has appointments but exists on neither side');
    else if (!row) problem(scope, 'in Redis, missing in PostgreSQL');
    else {
      if (stored.state.version !== row.version) problem(scope, `version: Redis ${stored.state.version}, PostgreSQL ${row.version}`);
      if (stored.definitionJson !== row.definition) problem(scope, `definition differs:\n      Redis      ${stored.definitionJson}\n      PostgreSQL ${row.definition}`);
    }
    for (const bucket of [1, 2] as const) {
      const counter = session?.[`booked${bucket}`] ?? 0;
      const records = redisSeats.bucket(sessionId, bucket);
      const rows = pgSeats.bucket(sessionId, bucket);
      if (counter !== records || records !== rows) {
        problem(scope, `dose ${bucket === 1 ? '1' : '2 and 3'} seats: Redis counter ${counter}, Redis appointments ${records}, PostgreSQL ${rows}`);
      }
    }
    const slots = new Set([...(session?.slots ?? []), ...redisSeats.slotsOf(sessionId), ...pgSeats.slotsOf(sessionId)]);
    for (const slot of slots) {
      const slotIndex = session?.slots.indexOf(slot) ?? -1;
      const counter = slotIndex >= 0 ? session!.slot_booked[slotIndex]! : 0;
      const records = redisSeats.slot(sessionId, slot);
      const rows = pgSeats.slot(sessionId, slot);
      if (counter !== records || records !== rows) {
        problem(scope, `slot ${slot} seats: Redis counter ${counter}, Redis appointments ${records}, PostgreSQL ${rows}`);
      }
    }
  }

  // ---------------------------------------------------------------- appointments
  for (const appointmentId of new Set([...redisAppointments.keys(), ...pgAppointments.keys()])) {
    const appointment = redisAppointments.get(appointmentId);
    const rows = pgAppointments.get(appointmentId);
    const scope = `appointment ${appointmentId}`;
    if (!appointment) {
      problem(scope, `in PostgreSQL (${rows![0]!.status}, ${label(rows![0]!.session_id)}), missing in Redis`);
      continue;
    }
    if (!rows) {
      problem(scope, `in Redis (${label(appointment.session_id)}), missing in PostgreSQL`);
      continue;
    }
    const first = rows[0]!;
    const fields: [string, string, string][] = [
      ['account', appointment.account_id, first.account_id],
      ['session', appointment.session_id, first.session_id],
      ['slot', appointment.slot, first.slot],
      ['dose', String(appointment.dose), String(first.dose)],
      ['version', String(appointment.version), String(first.version)],
      ['created_at', String(appointment.created_at), first.created_ms],
    ];
    for (const [name, inRedis, inPostgres] of fields) {
      if (inRedis !== inPostgres) problem(scope, `${name}: Redis ${inRedis}, PostgreSQL ${inPostgres}`);
    }
    for (const row of rows) {
      if (row.session_id !== first.session_id || row.slot !== first.slot || row.version !== first.version) {
        problem(scope, `beneficiary ${row.beneficiary_id}: its row is at version ${row.version} (${row.session_id} ${row.slot}), the others at ${first.version}`);
      }
    }
    const bens = appointment.beneficiaries.map((b) => b.id);
    const pgBens = rows.map((r) => r.beneficiary_id);
    if (bens.join(',') !== pgBens.join(',')) problem(scope, `beneficiaries: Redis [${bens.join(', ')}], PostgreSQL [${pgBens.join(', ')}]`);
    const inRedisById = new Map(appointment.beneficiaries.map((b) => [b.id, b]));
    for (const row of rows) {
      const inRedis = inRedisById.get(row.beneficiary_id);
      if (inRedis === undefined) continue;
      // Redis keeps a superseded appointment as booked; PostgreSQL calls it expired
      const same = inRedis.status === row.status || (inRedis.status === 'booked' && row.status === 'expired');
      if (!same) problem(scope, `beneficiary ${row.beneficiary_id}: Redis ${inRedis.status}, PostgreSQL ${row.status}`);
      // the code itself is a secret of the citizen's: a mismatch is named, never printed
      if ((inRedis.security_code ?? null) !== row.security_code) {
        problem(scope, `beneficiary ${row.beneficiary_id}: the security codes differ between Redis and PostgreSQL`);
      }
    }
  }

  // ---------------------------------------------------------------- accounts and beneficiaries
  const redisBeneficiaries = new Map<string, StoredBeneficiary & { account: string }>();
  for (const [accountId, account] of redisAccounts) {
    if (!pgAccounts.has(accountId)) problem(`account ${accountId}`, 'in Redis, missing in PostgreSQL');
    if (account.ben_count !== account.beneficiaries.length) {
      problem(`account ${accountId}`, `ben_count ${account.ben_count}, but ${account.beneficiaries.length} beneficiaries in the hash`);
    }
    for (const ben of account.beneficiaries) redisBeneficiaries.set(ben.id, { ...ben, account: accountId });
  }
  // a beneficiary the partitioned booking keeps in its account's partition is as it has it there
  for (const [id, ben] of partitionBeneficiaries) redisBeneficiaries.set(id, ben);
  // and its account there (registered with its first beneficiary)
  const partitionAccounts = new Set([...partitionBeneficiaries.values()].map((ben) => ben.account));
  for (const accountId of partitionAccounts) {
    if (!pgAccounts.has(accountId)) problem(`account ${accountId}`, 'in Redis (its partition), missing in PostgreSQL');
  }
  let liveInPostgres = 0;
  for (const id of new Set([...redisBeneficiaries.keys(), ...pgBeneficiaries.keys()])) {
    const ben = redisBeneficiaries.get(id);
    const row = pgBeneficiaries.get(id);
    if (row && !row.deleted) liveInPostgres += 1;
    const scope = `beneficiary ${id}`;
    if (!ben) {
      if (row && !row.deleted) problem(scope, `in PostgreSQL (account ${row.account_id}), missing in Redis`);
      continue;
    }
    if (!row) {
      problem(scope, `in Redis (account ${ben.account}), missing in PostgreSQL`);
      continue;
    }
    if (row.deleted) problem(scope, 'deleted in PostgreSQL, still in Redis');
    const fields: [string, unknown, unknown][] = [
      ['account', ben.account, row.account_id],
      ['version', ben.version, row.version],
      ['vaccine', ben.vaccine, row.vaccine],
      ['dose 1 date', ben.dose1, row.dose1],
      ['dose 2 date', ben.dose2, row.dose2],
      ['dose 3 date', ben.dose3, row.dose3],
    ];
    for (const [name, inRedis, inPostgres] of fields) {
      if (inRedis !== inPostgres) problem(scope, `${name}: Redis ${String(inRedis)}, PostgreSQL ${String(inPostgres)}`);
    }
    for (const dose of [1, 2, 3] as const) {
      const inRedis = ben[`appt${dose}`];
      const inPostgres = pgLive.get(`${id}|${dose}`) ?? '';
      if (inRedis !== inPostgres) {
        problem(scope, `live dose ${dose} appointment: Redis ${inRedis || 'none'}, PostgreSQL ${inPostgres || 'none'}`);
      }
    }
  }

  // ---------------------------------------------------------------- operators
  const redisOperators = await readRecords(redis, keys.operator(''), decodeOperatorHash, problem);
  const pgOperators = new Map<string, OperatorRow>();
  for (const row of (
    await pool.query<OperatorRow>(`SELECT operator_id, role, array_to_string(center_ids, ',') AS centers, secret_hash, status, version FROM operators`)
  ).rows) {
    pgOperators.set(row.operator_id, row);
  }
  for (const id of new Set([...redisOperators.keys(), ...pgOperators.keys()])) {
    const operator = redisOperators.get(id);
    const row = pgOperators.get(id);
    const scope = `operator ${id}`;
    if (!operator || !row) {
      problem(scope, operator ? 'in Redis, missing in PostgreSQL' : 'in PostgreSQL, missing in Redis');
      continue;
    }
    const fields: [string, string, string][] = [
      ['role', operator.role, row.role],
      ['centres', operator.centers, row.centers],
      ['status', operator.status, row.status],
      ['version', String(operator.version), String(row.version)],
    ];
    for (const [name, inRedis, inPostgres] of fields) {
      if (inRedis !== inPostgres) problem(scope, `${name}: Redis ${inRedis}, PostgreSQL ${inPostgres}`);
    }
    // a hash of a secret is still not for printing
    if (operator.secret_hash !== row.secret_hash) problem(scope, 'the secret hashes differ between Redis and PostgreSQL');
  }

  // ---------------------------------------------------------------- partners and their API keys
  const partnerCount = await reconcilePartners(redis, pool, problem);

  // ---------------------------------------------------------------- certificates and revocation lists
  const redisCertificates = await readRecords(redis, keys.certificate(''), decodeCertificateHash, problem);
  const redisCertificateIndex = await readRecords(redis, keys.beneficiaryCertificates(''), decodeBeneficiaryCertificates, problem);
  if (partitions) {
    // the partitioned layout's: a certificate in its account's partition, as is its beneficiary's index
    const certificates = await readPartitionRecords(redis, 'certificate', decodeCertificateHash, problem, (id) => keys.partitionCertificate(partitions, id));
    for (const [id, certificate] of certificates) {
      if (redisCertificates.has(id)) problem(`certificate ${id}`, 'in Redis twice: in the booking partition and in its own');
      redisCertificates.set(id, certificate);
    }
    for (const [id, index] of await readPartitionRecords(redis, 'beneficiary-certificates', decodeBeneficiaryCertificates, problem)) redisCertificateIndex.set(id, index);
  }
  const pgCertificates = new Map<string, CertificateRow>();
  await forEachChunk<CertificateRow>(
    pool,
    `SELECT certificate_id, beneficiary_id::text, dose, kid, rid, status, version, md5(jws) AS jws_md5,
            (extract(epoch FROM revoked_at) * 1000)::bigint::text AS revoked_ms
     FROM certificates`,
    [],
    10_000,
    (rows) => rows.forEach((row) => pgCertificates.set(row.certificate_id, row)),
  );
  const pgRevoked = new Map<string, Set<string>>(); // kid → rids
  for (const row of pgCertificates.values()) {
    if (row.status !== 'revoked') continue;
    const rids = pgRevoked.get(row.kid) ?? new Set<string>();
    rids.add(row.rid);
    pgRevoked.set(row.kid, rids);
  }
  for (const id of new Set([...redisCertificates.keys(), ...pgCertificates.keys()])) {
    const certificate = redisCertificates.get(id);
    const row = pgCertificates.get(id);
    const scope = `certificate ${id}`;
    if (!certificate || !row) {
      problem(
        scope,
        certificate
          ? `in Redis (beneficiary ${certificate.beneficiaryId}, dose ${certificate.dose}), missing in PostgreSQL`
          : `in PostgreSQL (beneficiary ${row!.beneficiary_id}, dose ${row!.dose}), missing in Redis`,
      );
      continue;
    }
    const fields: [string, string, string][] = [
      ['beneficiary', certificate.beneficiaryId, row.beneficiary_id],
      ['dose', String(certificate.dose), String(row.dose)],
      ['kid', certificate.kid, row.kid],
      ['rid', certificate.rid, row.rid],
      ['status', certificate.status, row.status],
      ['version', String(certificate.version), String(row.version)],
    ];
    for (const [name, inRedis, inPostgres] of fields) {
      if (inRedis !== inPostgres) problem(scope, `${name}: Redis ${inRedis}, PostgreSQL ${inPostgres}`);
    }
    if (createHash('md5').update(certificate.jws).digest('hex') !== row.jws_md5) problem(scope, 'the signed certificates (JWS) differ between Redis and PostgreSQL');
    if (redisCertificateIndex.get(certificate.beneficiaryId)?.get(certificate.dose) !== id) {
      problem(scope, `beneficiary ${certificate.beneficiaryId}'s dose ${certificate.dose} does not point at it in Redis`);
    }
  }
  const redisRevoked = new Map<string, Set<string>>();
  for await (const chunk of scanKeys(redis, `${keys.certificateRevocations('')}*`)) {
    for (const key of chunk) redisRevoked.set(key.slice(keys.certificateRevocations('').length), new Set(await redis.zrange(key, 0, -1)));
  }
  if (partitions) {
    // the partitioned layout keeps a key's revocations in each certificate's partition: their union is the list
    for await (const chunk of scanKeys(redis, '{p:*}:crl:*')) {
      for (const key of chunk) {
        const kid = key.slice(key.indexOf('}:crl:') + '}:crl:'.length);
        const rids = redisRevoked.get(kid) ?? new Set<string>();
        for (const rid of await redis.zrange(key, 0, -1)) rids.add(rid);
        redisRevoked.set(kid, rids);
      }
    }
  }
  for (const kid of new Set([...redisRevoked.keys(), ...pgRevoked.keys()])) {
    const inRedis = [...(redisRevoked.get(kid) ?? [])].sort().join(', ');
    const inPostgres = [...(pgRevoked.get(kid) ?? [])].sort().join(', ');
    if (inRedis !== inPostgres) problem(`revocation list ${kid}`, `Redis [${inRedis}], PostgreSQL [${inPostgres}]`);
  }

  const outboxAfter = await readTotalBacklog(redis, streams);
  const drained = outboxBefore.length === 0 && outboxAfter.length === 0;
  if (outboxBefore.length === 0 && outboxAfter.length > 0) {
    problem('outbox', `${outboxAfter.length} changes were made during the comparison; run it again when bookings are quiet`);
  }
  return {
    ok: problems.length === 0 && drained && deadLetterTotal === 0,
    drained,
    outboxBefore,
    outboxAfter,
    counts: {
      sessions: redisSessions.size,
      appointments: redisAppointments.size,
      seats,
      beneficiaries: Math.max(redisBeneficiaries.size, liveInPostgres),
      accounts: redisAccounts.size + partitionAccounts.size,
      operators: redisOperators.size,
      certificates: redisCertificates.size,
      partners: partnerCount,
    },
    problems,
    deadLetters,
    deadLetterCount: deadLetterTotal,
  };
}

const number = (n: number) => n.toLocaleString('en-US');

/** A dead letter as one line: which outbox entry and change, and what PostgreSQL said. */
const deadLetterLine = (d: DeadLetter) =>
  describeSetAside({ outboxId: d.outboxId, eventId: d.eventId, kind: d.kind, refusal: { code: d.code, error: d.error, detail: d.detail } });

/**
 * The dead letters about one thing a mismatch names (`beneficiary 10000000000042`): an event id is
 * `<kind>:<entity id>:<version>`, a scope `<kind> <entity id> …`.
 */
function deadLettersByEntity(deadLetters: DeadLetter[]): Map<string, DeadLetter[]> {
  const byEntity = new Map<string, DeadLetter[]>();
  for (const d of deadLetters) {
    const [kind, entity] = d.eventId.split(':');
    if (!kind || !entity) continue;
    const key = `${kind} ${entity}`;
    const list = byEntity.get(key);
    if (list) list.push(d);
    else byEntity.set(key, [d]);
  }
  return byEntity;
}

/** One summary line when everything matches; otherwise the mismatches grouped by what they concern. */
export function formatReconcileReport(report: ReconcileReport, limit = 200): string {
  const { counts } = report;
  const what =
    `${number(counts.sessions)} sessions, ${number(counts.appointments)} appointments (${number(counts.seats)} seats), ` +
    `${number(counts.beneficiaries)} beneficiaries in ${number(counts.accounts)} accounts` +
    (counts.operators ? `, ${number(counts.operators)} operators` : '') +
    (counts.certificates ? `, ${number(counts.certificates)} certificates` : '') +
    (counts.partners ? `, ${number(counts.partners)} partners` : '');
  if (report.ok) return `reconcile: OK: ${what} match in Redis and PostgreSQL; outbox drained`;
  const lines = [
    report.problems.length || !report.deadLetterCount
      ? `reconcile: ${number(report.problems.length)} mismatches (${what} compared)`
      : `reconcile: ${what} match in Redis and PostgreSQL, but for the changes set aside below`,
  ];
  if (report.deadLetterCount) {
    lines.push(
      `${number(report.deadLetterCount)} changes were set aside as dead letters: PostgreSQL refused them for good, so it does ` +
        'not have them (they are kept in Redis with the error; worker/README.md says what to do):',
    );
    for (const d of report.deadLetters.slice(0, limit)) lines.push(`    ${deadLetterLine(d)}`);
    if (report.deadLetterCount > Math.min(limit, report.deadLetters.length)) {
      lines.push(`    … and ${number(report.deadLetterCount - Math.min(limit, report.deadLetters.length))} more`);
    }
  }
  const explaining = deadLettersByEntity(report.deadLetters);
  if (!report.drained && report.outboxBefore.length > 0) {
    lines.push(`  the outbox held ${number(report.outboxBefore.length)} changes not yet in PostgreSQL: some differences may only be those`);
  }
  const byScope = new Map<string, string[]>();
  for (const { scope, detail } of report.problems) {
    const list = byScope.get(scope);
    if (list) list.push(detail);
    else byScope.set(scope, [detail]);
  }
  let shown = 0;
  for (const [scope, details] of byScope) {
    if (shown >= limit) break;
    lines.push(`${scope}:`);
    for (const detail of details) {
      lines.push(`    ${detail}`);
      shown += 1;
    }
    const [kind, entity] = scope.split(' ');
    for (const d of explaining.get(`${kind} ${entity}`) ?? []) lines.push(`    explained by a dead letter: ${deadLetterLine(d)}`);
  }
  if (report.problems.length > shown) lines.push(`… and ${number(report.problems.length - shown)} more`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- command line

async function waitForDrain(redis: RedisClient, streams: string[], seconds: number): Promise<OutboxBacklog> {
  const deadline = Date.now() + seconds * 1000;
  let backlog = await readTotalBacklog(redis, streams);
  while (backlog.length > 0 && Date.now() < deadline) {
    await sleep(250);
    backlog = await readTotalBacklog(redis, streams);
  }
  return backlog;
}

async function main(): Promise<number> {
  let waitSeconds: number | null = null;
  let drain = false;
  for (const arg of process.argv.slice(2)) {
    const wait = /^--wait(?:=(\d+))?$/.exec(arg);
    if (wait) waitSeconds = wait[1] ? Number(wait[1]) : 120;
    else if (arg === '--drain') drain = true;
    else throw new Error(`unknown argument "${arg}" (expected --wait[=seconds] or --drain)`);
  }
  const config = loadConfig();
  const settings = loadWorkerSettings();
  await migrate(config.databaseUrl, settings.schema);
  const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'tool' });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema: settings.schema, statementTimeoutMs: 600_000 });
  const partitions = new Partitions(config.partitions);
  const streams = outboxStreams(partitions);
  try {
    let backlog = await readTotalBacklog(redis, streams);
    if (backlog.length > 0 && drain) {
      const drained = await drainOutboxDirectly(redis, pool, settings.batchSize, streams);
      console.log(`reconcile: wrote the ${number(drained.events)} changes left in the outbox to PostgreSQL`);
      for (const entry of drained.setAside) console.log(`reconcile: PostgreSQL refused it for good, set aside as a dead letter: ${describeSetAside(entry)}`);
      backlog = await readTotalBacklog(redis, streams);
    } else if (backlog.length > 0 && waitSeconds !== null) {
      console.log(`reconcile: waiting up to ${waitSeconds} s for the worker to drain ${number(backlog.length)} outbox entries`);
      backlog = await waitForDrain(redis, streams, waitSeconds);
    }
    if (backlog.length > 0) {
      console.log(
        `reconcile: the outbox is not drained: ${number(backlog.length)} changes not yet in PostgreSQL ` +
          `(${number(backlog.undelivered)} undelivered, ${number(backlog.pending)} pending). ` +
          'Start the worker and use --wait, or --drain to write them from here.',
      );
      return 2;
    }
    const report = await reconcile(redis, pool, partitions);
    console.log(formatReconcileReport(report));
    if (!report.drained) return report.problems.length ? 1 : 2;
    return report.ok ? 0 : 1;
  } finally {
    redis.disconnect();
    await pool.end();
  }
}

runAsCommand(import.meta.url, 'reconcile', main);
