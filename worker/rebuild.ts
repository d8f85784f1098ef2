/**
 * Rebuild (`npm run rebuild`): after Redis lost its data, lay the booking records out again from
 * PostgreSQL, exactly as the booking scripts lay them out in the deployment's record layout
 * (TEEKA_LAYOUT: `{bk}`, or the partitions), so booking resumes without oversell or double booking.
 *
 * 0. Redis is marked `rebuilding:<deployment id>` (worker/deployment.ts): a gateway or worker
 *    watching it stops, one starting refuses, until the rebuild has finished.
 * 1. Whatever is still in the outbox is written to PostgreSQL first (it may hold the last bookings).
 * 2. Every key of the booking partition is deleted, and every booking record in the partitions
 *    (engine/keys.ts isPartitionedBookingRecord).
 * 3. From PostgreSQL, each record laid out by engine/records.ts as the scripts lay it out: session hashes (the definition text byte for byte, capacities, per-slot
 *    counters and seat counters counted from the appointments), the sessions-by-date index, account
 *    hashes with their beneficiaries (with pointers to their live appointments), the photo-ID
 *    index, the beneficiary sequence, appointment hashes; then the daily quotas from their last
 *    snapshot, with their remaining lifetime.
 *    The partitioned layout (engine/partitioned-booking.md) puts each where its scripts keep it:
 *    a session and its date index in p(S); an account, its appointments, certificates and indexes
 *    in p(A); a photo ID's entry in its own partition; each partition's beneficiary counter, so its
 *    next id is above every id PostgreSQL holds of it. An appointment comes back decided (nothing
 *    pending: a booking PostgreSQL never got was never answered), with its session's facts, its
 *    seats held in p(S) under a claim named by its id.
 * 4. Redis is marked with PostgreSQL's deployment id: gateways and workers may serve on it again.
 *
 * Counters come back from PostgreSQL, so no id is ever handed out twice: the beneficiary sequence
 * is the highest reference id PostgreSQL holds (deleted beneficiaries included; the next one is that
 * + 1), and sessions, appointments and beneficiaries keep their versions (the outbox event ids
 * `<kind>:<id>:<version>` continue from them). Appointment ids are random UUIDs and session ids
 * derive from what the session is, so neither comes from a counter.
 *
 * Not rebuilt: a partitioned booking's history of claims (its tombstones and the claims a reschedule
 * or cancel emptied; no late step can arrive once the gateways have stopped), idempotency records
 * (a client retrying a booking under an old key is told the beneficiary is already booked instead
 * of getting the first answer again), pending OTPs, login
 * sessions (citizens log in again), per-address limits, the availability stream (gateways reload
 * sessions; stop or restart them around a rebuild). Quotas of the day are as of the last snapshot.
 *
 * Stop the gateways before rebuilding: a booking made between the wipe and the end would be lost.
 * (Running gateways and workers stop by themselves once they see the marker of step 0; the command
 * waits for that before it drains the outbox.)
 *
 *   npm run rebuild              refuses when Redis still holds booking keys, or another deployment's marker
 *   npm run rebuild -- --force   replaces this deployment's booking keys with PostgreSQL's state
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { allKeys, connectRedis, scanKeys, unlinkKeys, type RedisClient } from '../engine/redis.js';
import type pg from 'pg';
import { runAsCommand } from '../engine/command.js';
import { loadConfig } from '../engine/config.js';
import { referenceOrigin } from '../engine/ids.js';
import { bookingPartitionPattern, bookingRecordKeys, hashTagOf, isPartitionedBookingRecord, keys, virtualPartitionsPattern, type Layout } from '../engine/keys.js';
import { MAX_PARTITION_COUNT, Partitions } from '../engine/partitions.js';
import { capacityBucket } from '../engine/sessions.js';
import {
  beneficiaryField,
  decodeSessionDefinition,
  encodeAccountFields,
  encodeAppointmentHash,
  encodeBeneficiary,
  encodeBeneficiaryCertificate,
  encodeCertificateHash,
  encodeDecidedAppointmentFields,
  encodeOperatorHash,
  encodeSessionHash,
  encodeTakenClaim,
  type Appointment,
  type BeneficiaryStatus,
  type CertificateRecord,
  type OperatorHash,
  type SessionDefinition,
  type StoredBeneficiary,
} from '../engine/records.js';
import { forEachChunk, openPool } from './database.js';
import { explainStanding, foreignMarker, markDeployment, MARKER_WATCH_MS, markRebuilding, readDeploymentRecord } from './deployment.js';
import { describeSetAside } from './dead-letter.js';
import { drainOutboxDirectly } from './drain.js';
import { outboxStreams } from './outbox.js';
import { migrate } from './migrate.js';
import { rebuildPartners } from './partners.js';
import { restoreDailyQuotas } from './quotas.js';
import { formatReconcileReport, reconcile, type AppointmentRow } from './reconcile.js';
import { loadWorkerSettings } from './settings.js';

export interface RebuildReport {
  /** the deployment Redis is marked for afterwards (PostgreSQL's) */
  deploymentId: string;
  /** outbox changes written to PostgreSQL before the wipe */
  drained: number;
  /** booking-partition keys deleted */
  wiped: number;
  sessions: number;
  accounts: number;
  beneficiaries: number;
  appointments: number;
  /** daily quota keys restored from the snapshot */
  quotas: number;
  operators: number;
  certificates: number;
  /** partners and their API keys (the registry, laid out again from PostgreSQL) */
  partners: number;
  partnerKeys: number;
}

export interface RebuildOptions {
  /** progress lines. Default: none */
  log?: (line: string) => void;
  /** outbox entries per batch while draining. Default 500 */
  batchSize?: number;
  /**
   * how long to wait between marking Redis as being rebuilt and draining the outbox, so that the
   * gateways and workers watching the marker have stopped. Default 0 (the command: two watch periods)
   */
  settleMs?: number;
  /** the partitions to lay the daily quotas (and the partitioned layout's records) out in (TEEKA_PARTITIONS). Default 16 */
  partitions?: Partitions;
  /** the deployment's record layout (TEEKA_LAYOUT). Default single */
  layout?: Layout;
}

const CHUNK = 1000;

type Pipeline = ReturnType<RedisClient['pipeline']>;

/**
 * Run queued commands in chunks, failing on the first error. One pipeline per hash tag: on a
 * cluster a pipeline's keys must share a slot, and the partitioned layout's records span many.
 */
class Writer {
  private pipelines = new Map<string, Pipeline>();
  private queued = 0;
  constructor(private readonly redis: RedisClient) {}
  /** Queue commands on keys in the slot of `key`. */
  add(key: string, queue: (p: Pipeline) => void, commands = 1): Promise<void> | undefined {
    const tag = hashTagOf(key);
    let pipeline = this.pipelines.get(tag);
    if (!pipeline) this.pipelines.set(tag, (pipeline = this.redis.pipeline()));
    queue(pipeline);
    this.queued += commands;
    return this.queued >= CHUNK ? this.flush() : undefined;
  }
  async flush(): Promise<void> {
    if (!this.queued) return;
    const pipelines = [...this.pipelines.values()];
    this.pipelines = new Map();
    this.queued = 0;
    for (const results of await Promise.all(pipelines.map((p) => p.exec()))) for (const [err] of results ?? []) if (err) throw err;
  }
}

export async function rebuildRedis(redis: RedisClient, pool: pg.Pool, options: RebuildOptions = {}): Promise<RebuildReport> {
  const log = options.log ?? (() => {});
  const partitions = options.partitions ?? new Partitions();
  const layout = options.layout ?? 'single';
  const partitioned = layout === 'partitioned';
  const records = bookingRecordKeys(layout, partitions);
  const record = await readDeploymentRecord(pool);
  if (!record) throw new Error('PostgreSQL has no deployment record: migrate the schema first');
  const report: RebuildReport = { deploymentId: record.deploymentId, drained: 0, wiped: 0, sessions: 0, accounts: 0, beneficiaries: 0, appointments: 0, quotas: 0, operators: 0, certificates: 0, partners: 0, partnerKeys: 0 };

  // 0. from here until the end, Redis is not fit to serve on
  await markRebuilding(redis, record.deploymentId);
  if (options.settleMs) await sleep(options.settleMs);

  // 1. the outbox may hold the newest changes: PostgreSQL gets them before Redis is laid out from it
  const drained = await drainOutboxDirectly(redis, pool, options.batchSize ?? 500, outboxStreams(partitions));
  report.drained = drained.events;
  log(`rebuild: wrote ${report.drained} outbox changes to PostgreSQL`);
  for (const entry of drained.setAside) log(`rebuild: PostgreSQL refused it for good, set aside: ${describeSetAside(entry)}`);

  // 2. wipe the booking partition, all but the marker set in 0 and the dead letters (changes
  //    PostgreSQL never got, kept for an operator), and the booking records in the partitions
  //    (a single-layout deployment has none: wiping them is a no-op there)
  for await (const chunk of scanKeys(redis, bookingPartitionPattern)) {
    const wipe = chunk.filter((key) => key !== keys.deployment() && key !== keys.outboxDeadLetters());
    report.wiped += await unlinkKeys(redis, wipe);
  }
  for await (const chunk of scanKeys(redis, virtualPartitionsPattern)) report.wiped += await unlinkKeys(redis, chunk.filter(isPartitionedBookingRecord));
  log(`rebuild: deleted ${report.wiped} booking keys`);

  const writer = new Writer(redis);

  // 3a. sessions, with seats counted as the scripts count them (booked, vaccinated, and expired,
  //     which Redis keeps as booked); dose 1 is bucket 1, doses 2 and 3 bucket 2
  const seats = new Map<string, { booked1: number; booked2: number; slots: Map<string, number> }>();
  /** the partitioned layout's claims answer a replay with what was left: each session's capacity per bucket */
  const capacities = new Map<string, { cap1: number; cap2: number }>();
  const seatRows = await pool.query<{ session_id: string; bucket: number; slot: string; seats: number }>(
    `SELECT session_id, CASE WHEN dose = 1 THEN 1 ELSE 2 END AS bucket, slot, count(*)::int AS seats
     FROM appointments WHERE status IN ('booked', 'vaccinated', 'expired')
     GROUP BY 1, 2, 3`,
  );
  for (const row of seatRows.rows) {
    let entry = seats.get(row.session_id);
    if (!entry) seats.set(row.session_id, (entry = { booked1: 0, booked2: 0, slots: new Map() }));
    if (row.bucket === 1) entry.booked1 += row.seats;
    else entry.booked2 += row.seats;
    entry.slots.set(row.slot, (entry.slots.get(row.slot) ?? 0) + row.seats);
  }
  await forEachChunk<{ session_id: string; definition: string; version: number }>(
    pool,
    'SELECT session_id, definition, version FROM sessions',
    [],
    CHUNK,
    async (rows) => {
      for (const { session_id: sessionId, definition: definitionJson, version } of rows) {
        const booked = seats.get(sessionId);
        const fields = encodeSessionHash(
          definitionJson,
          { booked1: booked?.booked1 ?? 0, booked2: booked?.booked2 ?? 0, slotBooked: (slot) => booked?.slots.get(slot) ?? 0 },
          version,
        );
        const { date, cap1, cap2 } = decodeSessionDefinition(`session ${sessionId} in PostgreSQL`, definitionJson);
        if (partitioned) capacities.set(sessionId, { cap1, cap2 });
        const index = partitioned ? keys.partitionSessionsByDate(partitions, partitions.of(sessionId)) : keys.sessionsByDate();
        await writer.add(index, (p) => p.hset(records.session(sessionId), ...fields).zadd(index, date, sessionId), 2);
        report.sessions += 1;
      }
    },
  );
  log(`rebuild: ${report.sessions} sessions`);

  // 3b. accounts and their beneficiaries; a beneficiary points at its live (booked) appointment of
  //     each dose and that appointment's day, as the booking script left it
  const accountsCreated = new Map<string, number>();
  for (const row of (await pool.query<{ account_id: string; created_ms: string }>(
    `SELECT account_id, (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms FROM accounts`,
  )).rows) {
    accountsCreated.set(row.account_id, Number(row.created_ms));
  }
  const benCount = new Map<string, number>();
  let sequence = 0n;
  /** the partitioned layout: each partition's counter, from which its next id is above every id it handed out */
  const counters = new Map<number, bigint>();
  await forEachChunk<{
    beneficiary_id: string;
    account_id: string;
    name: string;
    birth_year: number;
    gender_id: number;
    photo_id_type: number;
    photo_id_last4: string;
    photo_id_hash: string;
    comorbidity: 'Y' | 'N';
    consent_version: string;
    registered_ms: string;
    vaccine: string;
    dose1: number;
    dose2: number;
    dose3: number;
    deleted: boolean;
    version: number;
    appointments: { dose: number; appointment_id: string; day: number }[];
  }>(
    pool,
    `SELECT b.beneficiary_id::text, b.account_id, b.name, b.birth_year, b.gender_id, b.photo_id_type, b.photo_id_last4,
            b.photo_id_hash, b.comorbidity, b.consent_version,
            (extract(epoch FROM b.registered_at) * 1000)::bigint::text AS registered_ms, coalesce(b.vaccine, '') AS vaccine,
            coalesce(b.dose1_date - date '1970-01-01', 0) AS dose1, coalesce(b.dose2_date - date '1970-01-01', 0) AS dose2,
            coalesce(b.dose3_date - date '1970-01-01', 0) AS dose3, b.deleted_at IS NOT NULL AS deleted, b.version,
            coalesce((SELECT json_agg(json_build_object('dose', a.dose, 'appointment_id', a.appointment_id,
                                                        'day', s.session_date - date '1970-01-01'))
                      FROM appointments a JOIN sessions s USING (session_id)
                      WHERE a.beneficiary_id = b.beneficiary_id AND a.status = 'booked'), '[]') AS appointments
     FROM beneficiaries b`,
    [],
    CHUNK,
    async (rows) => {
      for (const b of rows) {
        const id = BigInt(b.beneficiary_id);
        if (id > sequence) sequence = id;
        const origin = partitioned ? referenceOrigin(id, MAX_PARTITION_COUNT) : null;
        if (origin && origin.partition < partitions.count && origin.n > (counters.get(origin.partition) ?? 0n)) counters.set(origin.partition, origin.n);
        if (b.deleted) continue;
        const stored: StoredBeneficiary = {
          id: b.beneficiary_id,
          name: b.name,
          birth_year: b.birth_year,
          gender_id: b.gender_id,
          photo_id_type: b.photo_id_type,
          photo_id_last4: b.photo_id_last4,
          photo_id_hash: b.photo_id_hash,
          comorbidity: b.comorbidity,
          consent_version: b.consent_version,
          registered_at: Number(b.registered_ms),
          version: b.version,
          vaccine: b.vaccine,
          dose1: b.dose1,
          dose2: b.dose2,
          dose3: b.dose3,
          appt1: '',
          appt2: '',
          appt3: '',
          appt1_day: 0,
          appt2_day: 0,
          appt3_day: 0,
        };
        for (const live of b.appointments) {
          const dose = live.dose as 1 | 2 | 3;
          stored[`appt${dose}`] = live.appointment_id;
          stored[`appt${dose}_day`] = live.day;
        }
        benCount.set(b.account_id, (benCount.get(b.account_id) ?? 0) + 1);
        if (!accountsCreated.has(b.account_id)) accountsCreated.set(b.account_id, Number(b.registered_ms));
        const account = records.account(b.account_id);
        await writer.add(account, (p) => p.hset(account, beneficiaryField(b.beneficiary_id), encodeBeneficiary(stored)));
        // who holds a photo ID: in `{bk}` a string, in the partitioned layout a settled entry in the
        // photo ID's own partition (lua/settlePhotoId-1.lua)
        if (partitioned) {
          const entry = keys.partitionPhotoId(partitions, b.photo_id_hash);
          await writer.add(entry, (p) => p.hset(entry, 'account', b.account_id, 'ben', b.beneficiary_id));
        } else await writer.add(keys.photoId(b.photo_id_hash), (p) => p.set(keys.photoId(b.photo_id_hash), `${b.account_id}|${b.beneficiary_id}`));
        report.beneficiaries += 1;
      }
    },
  );
  for (const [accountId, createdAt] of accountsCreated) {
    const account = records.account(accountId);
    await writer.add(account, (p) => p.hset(account, ...encodeAccountFields({ created_at: createdAt, ben_count: benCount.get(accountId) ?? 0 })));
    report.accounts += 1;
  }
  if (partitioned) {
    for (const [partition, n] of counters) {
      const counter = keys.partitionBeneficiarySequence(partitions, partition);
      await writer.add(counter, (p) => p.set(counter, n.toString()));
    }
  } else if (sequence > 0n) await writer.add(keys.beneficiarySequence(), (p) => p.set(keys.beneficiarySequence(), sequence.toString()));
  log(`rebuild: ${report.accounts} accounts, ${report.beneficiaries} beneficiaries`);

  // 3c. appointments: one hash each, beneficiaries in their order; an expired one is booked to Redis.
  //     The partitioned layout adds the session's facts and the claim holding the seats (p(S)).
  let current: Appointment | null = null;
  let session: { definition: SessionDefinition; version: number } | null = null;
  const flushAppointment = async () => {
    if (!current) return;
    const appointment: Appointment = current;
    const id = appointment.appointment_id;
    const fields = encodeAppointmentHash(appointment);
    if (partitioned && session) {
      fields.push(...encodeDecidedAppointmentFields(id, session.definition, session.version));
      const held = appointment.beneficiaries.filter((b) => b.status === 'booked' || b.status === 'vaccinated').length;
      if (held > 0) {
        const bucket = capacityBucket(appointment.dose);
        const capacity = capacities.get(appointment.session_id)?.[`cap${bucket}`] ?? 0;
        const booked = seats.get(appointment.session_id)?.[`booked${bucket}`] ?? 0;
        const claim = keys.claim(partitions, appointment.session_id, id);
        const taken = encodeTakenClaim({
          bookingId: id, sessionId: appointment.session_id, slot: appointment.slot, dose: appointment.dose, seats: held,
          availableAfter: Math.max(0, capacity - booked), at: appointment.created_at,
        }); // prettier-ignore
        await writer.add(claim, (p) => p.hset(claim, ...taken));
      }
    }
    await writer.add(records.appointment(id), (p) => p.hset(records.appointment(id), ...fields));
    report.appointments += 1;
  };
  // the partitioned layout reads each appointment's session with it (the definition for its facts)
  await forEachChunk<AppointmentRow & { definition: string | null; session_version: number }>(
    pool,
    `SELECT a.appointment_id, a.beneficiary_id::text, a.account_id, a.session_id, a.slot, a.dose, a.status, a.version,
            (extract(epoch FROM a.created_at) * 1000)::bigint::text AS created_ms, a.security_code,
            ${partitioned ? 's.definition, s.version AS session_version' : 'NULL AS definition, 0 AS session_version'}
     FROM appointments a ${partitioned ? 'LEFT JOIN sessions s USING (session_id)' : ''} ORDER BY a.appointment_id, a.position`,
    [],
    CHUNK * 5,
    async (rows) => {
      for (const row of rows) {
        if (current?.appointment_id !== row.appointment_id) {
          await flushAppointment();
          if (partitioned && row.definition === null) {
            throw new Error(`appointment ${row.appointment_id} names session ${row.session_id}, which PostgreSQL does not hold: run npm run reconcile`);
          }
          session =
            row.definition === null
              ? null
              : { definition: decodeSessionDefinition(`session ${row.session_id} in PostgreSQL`, row.definition), version: row.session_version };
          current = {
            appointment_id: row.appointment_id,
            account_id: row.account_id,
            session_id: row.session_id,
            slot: row.slot,
            dose: row.dose,
            version: row.version,
            created_at: Number(row.created_ms),
            beneficiaries: [],
            // wrong codes are not kept in PostgreSQL: a rebuilt appointment starts unlocked
            wrong_codes: 0,
          };
        }
        const status = (row.status === 'expired' ? 'booked' : row.status) as BeneficiaryStatus;
        current.beneficiaries.push(row.security_code === null ? { id: row.beneficiary_id, status } : { id: row.beneficiary_id, status, security_code: row.security_code });
      }
    },
  );
  await flushAppointment();
  await writer.flush();
  log(`rebuild: ${report.appointments} appointments`);

  // 3d. operators and their credentials (their login sessions are not kept: they log in again)
  await forEachChunk<{
    operator_id: string;
    role: string;
    centers: string;
    secret_hash: string;
    status: string;
    issued_ms: string;
    issued_by: string;
    revoked_ms: string | null;
    revoked_by: string | null;
    version: number;
  }>(
    pool,
    `SELECT operator_id, role, array_to_string(center_ids, ',') AS centers, secret_hash, status,
            (extract(epoch FROM issued_at) * 1000)::bigint::text AS issued_ms, issued_by,
            (extract(epoch FROM revoked_at) * 1000)::bigint::text AS revoked_ms, revoked_by, version
     FROM operators`,
    [],
    CHUNK,
    async (rows) => {
      for (const o of rows) {
        const operator: OperatorHash = {
          role: o.role as OperatorHash['role'],
          centers: o.centers,
          secret_hash: o.secret_hash,
          status: o.status as OperatorHash['status'],
          issued_at: Number(o.issued_ms),
          issued_by: o.issued_by,
          version: o.version,
        };
        if (o.revoked_ms !== null) Object.assign(operator, { revoked_at: Number(o.revoked_ms), revoked_by: o.revoked_by ?? '' });
        await writer.add(keys.operator(o.operator_id), (p) => p.hset(keys.operator(o.operator_id), ...encodeOperatorHash(operator)));
        report.operators += 1;
      }
    },
  );
  await writer.flush();
  log(`rebuild: ${report.operators} operators`);

  // 3d'. partners and their API keys (the registry's own slot, not wiped: see worker/partners.ts)
  const restored = await rebuildPartners(redis, pool);
  report.partners = restored.partners;
  report.partnerKeys = restored.keys;
  log(`rebuild: ${report.partners} partners, ${report.partnerKeys} API keys`);

  // 3e. certificates, each beneficiary's by dose, and each key's revocation list
  await forEachChunk<{
    certificate_id: string;
    beneficiary_id: string;
    account_id: string;
    appointment_id: string;
    dose: number;
    vaccine: string;
    day: number;
    center_id: number;
    kid: string;
    rid: string;
    jws: string;
    issued_ms: string;
    issued_by: string;
    status: string;
    revoked_ms: string | null;
    revoked_by: string | null;
    revocation_reason: string | null;
    version: number;
  }>(
    pool,
    `SELECT certificate_id, beneficiary_id::text, account_id, appointment_id, dose, vaccine, vaccinated_on - date '1970-01-01' AS day,
            center_id, kid, rid, jws, (extract(epoch FROM issued_at) * 1000)::bigint::text AS issued_ms, issued_by, status,
            (extract(epoch FROM revoked_at) * 1000)::bigint::text AS revoked_ms, revoked_by, revocation_reason, version
     FROM certificates`,
    [],
    CHUNK,
    async (rows) => {
      for (const c of rows) {
        const certificate: CertificateRecord = {
          certificateId: c.certificate_id,
          beneficiaryId: c.beneficiary_id,
          accountId: c.account_id,
          appointmentId: c.appointment_id,
          dose: c.dose,
          vaccine: c.vaccine,
          date: c.day,
          centerId: c.center_id,
          kid: c.kid,
          rid: c.rid,
          jws: c.jws,
          issuedAt: Number(c.issued_ms),
          issuedBy: c.issued_by,
          status: c.status as CertificateRecord['status'],
          version: c.version,
        };
        if (c.revoked_ms !== null) {
          Object.assign(certificate, { revokedAt: Number(c.revoked_ms), revokedBy: c.revoked_by ?? '', revocationReason: c.revocation_reason ?? '' });
        }
        // the partitioned layout keeps a certificate, the beneficiary's index and the revocation in
        // the certificate's partition, which is the account's (its id was drawn there)
        const certificateKey = records.certificate(c.certificate_id);
        const index = partitioned ? keys.forAccount(partitions, c.account_id).beneficiaryCertificates(c.beneficiary_id) : keys.beneficiaryCertificates(c.beneficiary_id);
        const revocations = partitioned ? keys.partitionCertificateRevocations(partitions, partitions.of(c.certificate_id), c.kid) : keys.certificateRevocations(c.kid);
        await writer.add(certificateKey, (p) => p.hset(certificateKey, ...encodeCertificateHash(certificate)));
        await writer.add(index, (p) => p.hset(index, ...encodeBeneficiaryCertificate(c.dose, c.certificate_id)));
        if (c.revoked_ms !== null) await writer.add(revocations, (p) => p.zadd(revocations, c.revoked_ms!, c.rid));
        report.certificates += 1;
      }
    },
  );
  await writer.flush();
  log(`rebuild: ${report.certificates} certificates`);

  // 3d. quotas of the day, from the last snapshot
  report.quotas = await restoreDailyQuotas(redis, pool, partitions);
  log(`rebuild: ${report.quotas} daily quota keys`);

  // 4. Redis agrees with PostgreSQL again
  await markDeployment(redis, record.deploymentId, partitions, layout);
  log(`rebuild: Redis marked for deployment ${record.deploymentId}`);
  return report;
}

// ---------------------------------------------------------------- command line

async function main(): Promise<number> {
  const force = process.argv.slice(2).includes('--force');
  const unknown = process.argv.slice(2).filter((a) => a !== '--force');
  if (unknown.length) throw new Error(`unknown argument "${unknown[0]}" (expected --force)`);
  const config = loadConfig();
  const settings = loadWorkerSettings();
  await migrate(config.databaseUrl, settings.schema);
  const redis = connectRedis({ address: config.redis, keyPrefix: config.redisKeyPrefix, role: 'tool' });
  const pool = openPool({ databaseUrl: config.databaseUrl, schema: settings.schema, statementTimeoutMs: 600_000 });
  try {
    // another deployment's Redis: its outbox must not be written into this PostgreSQL, nor its data replaced
    const record = await readDeploymentRecord(pool);
    const foreign = record && (await foreignMarker(redis, record.deploymentId));
    if (record && foreign) {
      const place = { redisAddress: config.redis, redisKeyPrefix: config.redisKeyPrefix, schema: settings.schema };
      console.log(`rebuild: refused. ${explainStanding({ kind: 'foreign', deploymentId: record.deploymentId, redisDeploymentId: foreign, recordHoldsBookings: record.holdsBookings }, place)}`);
      return 2;
    }
    // the outbox, the stream of availability changes, the dead letters and the marker may survive;
    // any other booking key means Redis still holds state that the rebuild would replace
    const partitions = new Partitions(config.partitions);
    const kept = new Set([keys.outbox(), keys.availability(), keys.outboxDeadLetters(), keys.deployment()]);
    const survivors = (await allKeys(redis, bookingPartitionPattern)).filter((k) => !kept.has(k));
    // in the partitions, the streams may survive too (written before the wipe, or drained by it)
    const streams = new Set(partitions.all().flatMap((p) => [keys.partitionOutbox(partitions, p), keys.partitionAvailability(partitions, p)]));
    survivors.push(...(await allKeys(redis, virtualPartitionsPattern)).filter((k) => isPartitionedBookingRecord(k) && !streams.has(k)));
    if (survivors.length && !force) {
      console.log(
        `rebuild: Redis still holds ${survivors.length} booking keys under "${config.redisKeyPrefix}". ` +
          'A rebuild replaces them with the state in PostgreSQL (after writing the outbox to it). ' +
          'Stop the gateways, then run again with --force.',
      );
      return 2;
    }
    const report = await rebuildRedis(redis, pool, {
      log: (line) => console.log(line),
      batchSize: settings.batchSize,
      settleMs: 2 * MARKER_WATCH_MS,
      partitions,
      layout: config.layout,
    });
    console.log(
      `rebuild: done: ${report.sessions} sessions, ${report.accounts} accounts, ${report.beneficiaries} beneficiaries, ` +
        `${report.appointments} appointments, ${report.quotas} daily quota keys`,
    );
    const check = await reconcile(redis, pool, partitions);
    console.log(formatReconcileReport(check));
    return check.ok ? 0 : 1;
  } finally {
    redis.disconnect();
    await pool.end();
  }
}

runAsCommand(import.meta.url, 'rebuild', main);
