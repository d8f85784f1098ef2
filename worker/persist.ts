/**
 * Writing one batch of outbox changes to PostgreSQL: one transaction, a handful of set-based
 * statements (UNNEST over arrays, never a statement per row).
 *
 * Why a batch can be written any number of times, in any order, and still land exactly once:
 * - appointment events go to the append-only log with ON CONFLICT (event_id) DO NOTHING;
 * - current state (sessions, beneficiaries, appointments) is upserted with a version guard:
 *   `ON CONFLICT DO UPDATE ... WHERE table.version < EXCLUDED.version`, taking the latest version
 *   of each key within the batch (DISTINCT ON), so a replayed or late batch never goes backwards;
 * - superseded ("expired") appointments are recorded as facts of their own, so an appointment's
 *   rows arriving after the booking that superseded it still land as expired;
 * - operators (issued, revoked) and certificates (issued with their vaccination, revoked) are
 *   upserted with the same version guard.
 */
import { prepareValue } from 'pg/lib/utils.js';
import type pg from 'pg';
import { appendAccessEntries } from './access-log.js';
import { accessEntriesOf } from '../engine/access-log.js';
import { inTransaction } from './database.js';
import type {
  AccountChange,
  AppointmentChange,
  BeneficiaryChange,
  CertificateChange,
  OperatorChange,
  OutboxEvent,
  SessionChange,
} from './outbox.js';

export interface BatchWriteReport {
  /** outbox changes in the batch */
  events: number;
  /** rows inserted or changed, all tables together */
  rows: number;
  accounts: number;
  sessions: number;
  beneficiaries: number;
  /** new rows in the appointment event log (a replayed event adds none) */
  appointmentEvents: number;
  /** appointment × beneficiary rows inserted or moved to a newer version */
  appointmentRows: number;
  /** booked rows marked expired because a later booking superseded them */
  expired: number;
  /** operator rows inserted or moved to a newer version */
  operators: number;
  /** certificate rows inserted or moved to a newer version (revoked) */
  certificates: number;
  /** access log rows appended (a replayed entry adds none) */
  accessEntries: number;
}

const EPOCH_MS = (column: string) => `(timestamptz 'epoch' + ${column} * interval '1 millisecond')`;
const EPOCH_DAY = (column: string) => `(CASE WHEN ${column} > 0 THEN date '1970-01-01' + ${column} END)`;

const INSERT_ACCOUNTS = `
  INSERT INTO accounts (account_id, created_at)
  SELECT a.account_id, ${EPOCH_MS('a.created_ms')}
  FROM UNNEST($1::text[], $2::bigint[]) AS a(account_id, created_ms)
  ON CONFLICT (account_id) DO NOTHING`;

// every column comes from the definition text itself, so the row can never disagree with it
const UPSERT_SESSIONS = `
  INSERT INTO sessions (session_id, center_id, district_id, session_date, vaccine, min_age, max_age, allow_all_age,
                        capacity_dose1, capacity_dose2, slots, slot_capacities, opens_at, cutoff_at, status,
                        definition, version, published_at)
  SELECT DISTINCT ON (s.session_id)
    s.session_id, (d->>'center_id')::int, (d->>'district_id')::int, date '1970-01-01' + (d->>'date')::int,
    d->>'vaccine', (d->>'min_age')::smallint, NULLIF((d->>'max_age')::int, -1)::smallint, (d->>'allow_all_age')::int = 1,
    (d->>'cap1')::int, (d->>'cap2')::int,
    ARRAY(SELECT jsonb_array_elements_text(d->'slots')),
    ARRAY(SELECT jsonb_array_elements_text(d->'slot_caps')::int),
    ${EPOCH_MS("(d->>'opens_at')::bigint")}, ${EPOCH_MS("(d->>'cutoff_at')::bigint")}, d->>'status',
    s.definition, s.version, ${EPOCH_MS('s.at_ms')}
  FROM UNNEST($1::text[], $2::int[], $3::text[], $4::bigint[]) AS s(session_id, version, definition, at_ms)
  CROSS JOIN LATERAL (SELECT s.definition::jsonb AS d) parsed
  ORDER BY s.session_id, s.version DESC
  ON CONFLICT (session_id) DO UPDATE SET
    center_id = EXCLUDED.center_id, district_id = EXCLUDED.district_id, session_date = EXCLUDED.session_date,
    vaccine = EXCLUDED.vaccine, min_age = EXCLUDED.min_age, max_age = EXCLUDED.max_age,
    allow_all_age = EXCLUDED.allow_all_age, capacity_dose1 = EXCLUDED.capacity_dose1,
    capacity_dose2 = EXCLUDED.capacity_dose2, slots = EXCLUDED.slots, slot_capacities = EXCLUDED.slot_capacities,
    opens_at = EXCLUDED.opens_at, cutoff_at = EXCLUDED.cutoff_at, status = EXCLUDED.status,
    definition = EXCLUDED.definition, version = EXCLUDED.version, published_at = EXCLUDED.published_at
  WHERE sessions.version < EXCLUDED.version`;

const UPSERT_BENEFICIARIES = `
  INSERT INTO beneficiaries (beneficiary_id, account_id, name, birth_year, gender_id, photo_id_type, photo_id_last4,
                             photo_id_hash, comorbidity, consent_version, registered_at, vaccine,
                             dose1_date, dose2_date, dose3_date, deleted_at, version)
  SELECT DISTINCT ON (b.beneficiary_id)
    b.beneficiary_id, b.account_id, b.name, b.birth_year, b.gender_id, b.photo_id_type, b.photo_id_last4,
    b.photo_id_hash, b.comorbidity, b.consent_version, ${EPOCH_MS('b.registered_ms')}, NULLIF(b.vaccine, ''),
    ${EPOCH_DAY('b.dose1')}, ${EPOCH_DAY('b.dose2')}, ${EPOCH_DAY('b.dose3')}, ${EPOCH_MS('b.deleted_ms')}, b.version
  FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::smallint[], $5::smallint[], $6::smallint[], $7::text[],
              $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::int[], $14::int[], $15::int[],
              $16::bigint[], $17::int[])
    AS b(beneficiary_id, account_id, name, birth_year, gender_id, photo_id_type, photo_id_last4, photo_id_hash,
         comorbidity, consent_version, registered_ms, vaccine, dose1, dose2, dose3, deleted_ms, version)
  ORDER BY b.beneficiary_id, b.version DESC
  ON CONFLICT (beneficiary_id) DO UPDATE SET
    name = EXCLUDED.name, birth_year = EXCLUDED.birth_year, gender_id = EXCLUDED.gender_id,
    photo_id_type = EXCLUDED.photo_id_type, photo_id_last4 = EXCLUDED.photo_id_last4,
    photo_id_hash = EXCLUDED.photo_id_hash, comorbidity = EXCLUDED.comorbidity,
    consent_version = EXCLUDED.consent_version, vaccine = EXCLUDED.vaccine, dose1_date = EXCLUDED.dose1_date,
    dose2_date = EXCLUDED.dose2_date, dose3_date = EXCLUDED.dose3_date, deleted_at = EXCLUDED.deleted_at,
    version = EXCLUDED.version
  WHERE beneficiaries.version < EXCLUDED.version`;

// The documents travel as one JSON array beside the other columns, zipped by position (ROWS FROM):
// as a text[] parameter every quote in them would be escaped and parsed again, which costs more
// than the rest of the batch.
const INSERT_APPOINTMENT_EVENTS = `
  INSERT INTO appointment_events (event_id, stream_id, appointment_id, action, version, at, data)
  SELECT e.event_id, e.stream_id, e.appointment_id, e.action, e.version, ${EPOCH_MS('e.at_ms')}, e.data
  FROM ROWS FROM (UNNEST($1::text[]), UNNEST($2::text[]), UNNEST($3::text[]), UNNEST($4::text[]), UNNEST($5::int[]),
                  UNNEST($6::bigint[]), jsonb_array_elements($7::jsonb))
    AS e(event_id, stream_id, appointment_id, action, version, at_ms, data)
  ON CONFLICT (event_id) DO NOTHING`;

const INSERT_EXPIRIES = `
  INSERT INTO appointment_expiries (appointment_id, beneficiary_id, superseded_by, at)
  SELECT x.appointment_id, x.beneficiary_id, x.superseded_by, ${EPOCH_MS('x.at_ms')}
  FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[]) AS x(appointment_id, beneficiary_id, superseded_by, at_ms)
  ON CONFLICT (appointment_id, beneficiary_id) DO NOTHING`;

const MARK_EXPIRED = `
  UPDATE appointments a SET status = 'expired', updated_at = ${EPOCH_MS('x.at_ms')}
  FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS x(appointment_id, beneficiary_id, at_ms)
  WHERE a.appointment_id = x.appointment_id AND a.beneficiary_id = x.beneficiary_id AND a.status = 'booked'`;

/**
 * Appointment rows, run twice per batch: first every row whose latest state in the batch is not
 * `booked` ($13 = false), then the booked ones ($13 = true). The partial unique index (one booked
 * appointment per beneficiary and dose) is checked row by row, so a cancellation must be in place
 * before the booking that followed it.
 */
const UPSERT_APPOINTMENTS = `
  WITH latest AS (
    SELECT DISTINCT ON (r.appointment_id, r.beneficiary_id) r.*
    FROM UNNEST($1::text[], $2::bigint[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::smallint[],
                $8::text[], $9::int[], $10::bigint[], $11::bigint[], $12::text[])
      AS r(appointment_id, beneficiary_id, position, account_id, session_id, slot, dose, status, version, created_ms, at_ms,
           security_code)
    ORDER BY r.appointment_id, r.beneficiary_id, r.version DESC
  ), effective AS (
    SELECT l.*,
      CASE WHEN l.status = 'booked' AND EXISTS (
        SELECT 1 FROM appointment_expiries x WHERE x.appointment_id = l.appointment_id AND x.beneficiary_id = l.beneficiary_id
      ) THEN 'expired' ELSE l.status END AS effective_status
    FROM latest l
  )
  INSERT INTO appointments (appointment_id, beneficiary_id, position, account_id, session_id, slot, dose, status,
                            version, created_at, updated_at, security_code)
  SELECT e.appointment_id, e.beneficiary_id, e.position, e.account_id, e.session_id, e.slot, e.dose, e.effective_status,
         e.version, ${EPOCH_MS('e.created_ms')}, ${EPOCH_MS('e.at_ms')}, e.security_code
  FROM effective e
  WHERE (e.effective_status = 'booked') = $13::boolean
  ON CONFLICT (appointment_id, beneficiary_id) DO UPDATE SET
    position = EXCLUDED.position, session_id = EXCLUDED.session_id, slot = EXCLUDED.slot, status = EXCLUDED.status,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,
    security_code = coalesce(EXCLUDED.security_code, appointments.security_code)
  WHERE appointments.version < EXCLUDED.version`;

const UPSERT_OPERATORS = `
  INSERT INTO operators (operator_id, role, center_ids, secret_hash, status, issued_at, issued_by, revoked_at, revoked_by, version)
  SELECT DISTINCT ON (o.operator_id)
    o.operator_id, o.role, CASE WHEN o.centers = '' THEN '{}'::int[] ELSE string_to_array(o.centers, ',')::int[] END,
    o.secret_hash, o.status, ${EPOCH_MS('o.issued_ms')}, o.issued_by,
    CASE WHEN o.revoked_ms IS NOT NULL THEN ${EPOCH_MS('o.revoked_ms')} END, o.revoked_by, o.version
  FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::int[])
    AS o(operator_id, role, centers, secret_hash, status, issued_ms, issued_by, revoked_ms, revoked_by, version)
  ORDER BY o.operator_id, o.version DESC
  ON CONFLICT (operator_id) DO UPDATE SET
    role = EXCLUDED.role, center_ids = EXCLUDED.center_ids, secret_hash = EXCLUDED.secret_hash, status = EXCLUDED.status,
    issued_at = EXCLUDED.issued_at, issued_by = EXCLUDED.issued_by, revoked_at = EXCLUDED.revoked_at,
    revoked_by = EXCLUDED.revoked_by, version = EXCLUDED.version
  WHERE operators.version < EXCLUDED.version`;

const UPSERT_CERTIFICATES = `
  INSERT INTO certificates (certificate_id, beneficiary_id, account_id, appointment_id, dose, vaccine, vaccinated_on, center_id,
                            kid, rid, jws, issued_at, issued_by, status, revoked_at, revoked_by, revocation_reason, version)
  SELECT DISTINCT ON (c.certificate_id)
    c.certificate_id, c.beneficiary_id, c.account_id, c.appointment_id, c.dose, c.vaccine, date '1970-01-01' + c.day, c.center_id,
    c.kid, c.rid, c.jws, ${EPOCH_MS('c.issued_ms')}, c.issued_by, c.status,
    CASE WHEN c.revoked_ms IS NOT NULL THEN ${EPOCH_MS('c.revoked_ms')} END, c.revoked_by, c.reason, c.version
  FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::smallint[], $6::text[], $7::int[], $8::int[], $9::text[],
              $10::text[], $11::text[], $12::bigint[], $13::text[], $14::text[], $15::bigint[], $16::text[], $17::text[], $18::int[])
    AS c(certificate_id, beneficiary_id, account_id, appointment_id, dose, vaccine, day, center_id, kid, rid, jws, issued_ms,
         issued_by, status, revoked_ms, revoked_by, reason, version)
  ORDER BY c.certificate_id, c.version DESC
  ON CONFLICT (certificate_id) DO UPDATE SET
    status = EXCLUDED.status, revoked_at = EXCLUDED.revoked_at, revoked_by = EXCLUDED.revoked_by,
    revocation_reason = EXCLUDED.revocation_reason, version = EXCLUDED.version
  WHERE certificates.version < EXCLUDED.version`;

function certificatesParams(changes: CertificateChange[]): unknown[] {
  const column = <T>(pick: (c: CertificateChange) => T) => changes.map(pick);
  return [
    column((c) => c.certificate_id),
    column((c) => c.beneficiary_id),
    column((c) => c.account_id),
    column((c) => c.appointment_id),
    column((c) => c.dose),
    column((c) => c.vaccine),
    column((c) => c.date),
    column((c) => c.center_id),
    column((c) => c.kid),
    column((c) => c.rid),
    column((c) => c.jws),
    column((c) => c.issued_at),
    column((c) => c.issued_by),
    column((c) => c.status),
    column((c) => c.revoked_at ?? null),
    column((c) => c.revoked_by ?? null),
    column((c) => c.revocation_reason ?? null),
    column((c) => c.version),
  ];
}

function operatorsParams(changes: OperatorChange[]): unknown[] {
  const column = <T>(pick: (c: OperatorChange) => T) => changes.map(pick);
  return [
    column((c) => c.operator_id),
    column((c) => c.role),
    column((c) => c.centers),
    column((c) => c.secret_hash),
    column((c) => c.status),
    column((c) => c.issued_at),
    column((c) => c.issued_by),
    column((c) => c.revoked_at ?? null),
    column((c) => c.revoked_by ?? null),
    column((c) => c.version),
  ];
}

function accountsParams(changes: AccountChange[]): unknown[] {
  return [changes.map((c) => c.account_id), changes.map((c) => c.created_at)];
}

function sessionsParams(changes: SessionChange[]): unknown[] {
  return [changes.map((c) => c.session_id), changes.map((c) => c.version), changes.map((c) => c.definition_json), changes.map((c) => c.at)];
}

function beneficiariesParams(changes: BeneficiaryChange[]): unknown[] {
  const column = <T>(pick: (c: BeneficiaryChange) => T) => changes.map(pick);
  return [
    column((c) => c.id),
    column((c) => c.account_id),
    column((c) => c.name),
    column((c) => c.birth_year),
    column((c) => c.gender_id),
    column((c) => c.photo_id_type),
    column((c) => c.photo_id_last4),
    column((c) => c.photo_id_hash),
    column((c) => c.comorbidity),
    column((c) => c.consent_version),
    column((c) => c.registered_at),
    column((c) => c.vaccine),
    column((c) => c.dose1),
    column((c) => c.dose2),
    column((c) => c.dose3),
    column((c) => c.deleted_at ?? null),
    column((c) => c.version),
  ];
}

/** One row per appointment × beneficiary, for every appointment change in the batch. */
function appointmentRowsParams(changes: AppointmentChange[]): unknown[] {
  const columns: unknown[][] = Array.from({ length: 12 }, () => []);
  for (const c of changes) {
    c.beneficiaries.forEach((ben, i) => {
      const row = [
        c.appointment_id, ben.id, i + 1, c.account_id, c.session_id, c.slot, c.dose, ben.status, c.version, c.created_at, c.at,
        ben.security_code ?? null,
      ]; // prettier-ignore
      row.forEach((value, j) => columns[j]!.push(value));
    });
  }
  return columns;
}

function run(client: pg.PoolClient, name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
  // named statements are parsed and planned once per connection, not once per batch
  return client.query({ name, text, values });
}

/** Write a batch of outbox changes in one transaction. Safe to repeat, in any order. */
export async function writeBatch(pool: pg.Pool, events: OutboxEvent[]): Promise<BatchWriteReport> {
  const accounts: AccountChange[] = [];
  const sessions: SessionChange[] = [];
  const beneficiaries: BeneficiaryChange[] = [];
  const appointments: (AppointmentChange & { eventId: string; streamId: string; raw: string })[] = [];
  const operators: OperatorChange[] = [];
  const certificates: CertificateChange[] = [];
  // the `access` entries' and those citizens' bookings carry, in outbox order
  const accessEntries = accessEntriesOf(events);
  for (const event of events) {
    if (event.kind === 'operator') operators.push(event.change);
    else if (event.kind === 'certificate') certificates.push(event.change);
    else if (event.kind === 'account') accounts.push(event.change);
    else if (event.kind === 'session') sessions.push(event.change);
    else if (event.kind === 'beneficiary') beneficiaries.push(event.change);
    else if (event.kind === 'appointment') appointments.push({ ...event.change, eventId: event.eventId, streamId: event.streamId, raw: event.raw });
  }
  const expiries = appointments.flatMap((a) =>
    (a.expired ?? []).map((x) => ({ appointmentId: x.appointment_id, beneficiaryId: x.beneficiary_id, supersededBy: a.appointment_id, at: a.at })),
  );

  const report: BatchWriteReport = {
    events: events.length,
    rows: 0,
    accounts: 0,
    sessions: 0,
    beneficiaries: 0,
    appointmentEvents: 0,
    appointmentRows: 0,
    expired: 0,
    operators: 0,
    certificates: 0,
    accessEntries: 0,
  };
  if (!events.length) return report;

  await inTransaction(pool, async (client) => {
    if (accounts.length) report.accounts = (await run(client, 'teeka_insert_accounts', INSERT_ACCOUNTS, accountsParams(accounts))).rowCount ?? 0;
    if (sessions.length) report.sessions = (await run(client, 'teeka_upsert_sessions', UPSERT_SESSIONS, sessionsParams(sessions))).rowCount ?? 0;
    if (beneficiaries.length) {
      report.beneficiaries = (await run(client, 'teeka_upsert_beneficiaries', UPSERT_BENEFICIARIES, beneficiariesParams(beneficiaries))).rowCount ?? 0;
    }
    if (operators.length) report.operators = (await run(client, 'teeka_upsert_operators', UPSERT_OPERATORS, operatorsParams(operators))).rowCount ?? 0;
    if (certificates.length) {
      report.certificates = (await run(client, 'teeka_upsert_certificates', UPSERT_CERTIFICATES, certificatesParams(certificates))).rowCount ?? 0;
    }
    report.accessEntries = await appendAccessEntries(client, accessEntries);
    if (!appointments.length) return;
    const logged = await run(client, 'teeka_insert_appointment_events', INSERT_APPOINTMENT_EVENTS, [
      appointments.map((a) => a.eventId),
      appointments.map((a) => a.streamId),
      appointments.map((a) => a.appointment_id),
      appointments.map((a) => a.action),
      appointments.map((a) => a.version),
      appointments.map((a) => a.at),
      // each raw document was checked as JSON when the entry was parsed
      `[${appointments.map((a) => a.raw).join(',')}]`,
    ]);
    report.appointmentEvents = logged.rowCount ?? 0;
    if (expiries.length) {
      await run(client, 'teeka_insert_expiries', INSERT_EXPIRIES, [
        expiries.map((x) => x.appointmentId),
        expiries.map((x) => x.beneficiaryId),
        expiries.map((x) => x.supersededBy),
        expiries.map((x) => x.at),
      ]);
      const marked = await run(client, 'teeka_mark_expired', MARK_EXPIRED, [
        expiries.map((x) => x.appointmentId),
        expiries.map((x) => x.beneficiaryId),
        expiries.map((x) => x.at),
      ]);
      report.expired = marked.rowCount ?? 0;
    }
    // the same twelve columns go to both runs: turned into array literals once, as pg would each time
    const rows = appointmentRowsParams(appointments).map((column) => prepareValue(column));
    const released = await run(client, 'teeka_upsert_appointments', UPSERT_APPOINTMENTS, [...rows, false]);
    const booked = await run(client, 'teeka_upsert_appointments', UPSERT_APPOINTMENTS, [...rows, true]);
    report.appointmentRows = (released.rowCount ?? 0) + (booked.rowCount ?? 0);
  });
  report.rows =
    report.accounts + report.sessions + report.beneficiaries + report.appointmentEvents + report.appointmentRows + report.expired +
    report.operators + report.certificates + report.accessEntries;
  return report;
}
