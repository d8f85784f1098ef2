-- The system of record. Redis runs the bookings; the worker drains every change from the outbox
-- stream into these tables, and `npm run rebuild` can lay Redis out again from them.
--
-- Dates are `date` (Redis keeps epoch days), instants `timestamptz` (Redis keeps ms; both convert
-- exactly: `timestamptz 'epoch' + ms * interval '1 millisecond'` and back).
--
-- Tables fed by the outbox carry no foreign keys to each other or to master data: batches may be
-- applied out of order (a retried job after a later one), and a row must never wait for another
-- row that has not arrived yet. Each of them carries the `version` of the Redis record it mirrors,
-- and an upsert only ever moves a row to a higher version.

-- Up Migration

-- master data, upserted from the country file at every worker start ------------------------------

CREATE TABLE states (
  state_id integer PRIMARY KEY,
  state_name text NOT NULL
);

CREATE TABLE districts (
  district_id integer PRIMARY KEY,
  state_id integer NOT NULL REFERENCES states,
  district_name text NOT NULL
);

CREATE TABLE centers (
  center_id integer PRIMARY KEY,
  district_id integer NOT NULL REFERENCES districts,
  name text NOT NULL,
  address text NOT NULL,
  block_name text NOT NULL,
  pincode integer NOT NULL,
  lat double precision NOT NULL,
  long double precision NOT NULL,
  opens time NOT NULL,
  closes time NOT NULL,
  fee_type text NOT NULL,
  -- [{vaccine, fee}] for paid centres
  vaccine_fees jsonb,
  -- null: the country's default slot layout
  slots text[]
);

-- booking domain, fed by the outbox --------------------------------------------------------------

CREATE TABLE sessions (
  session_id text PRIMARY KEY,
  center_id integer NOT NULL,
  district_id integer NOT NULL,
  session_date date NOT NULL,
  vaccine text NOT NULL,
  min_age smallint NOT NULL,
  -- null: no upper age limit
  max_age smallint,
  allow_all_age boolean NOT NULL,
  capacity_dose1 integer NOT NULL,
  capacity_dose2 integer NOT NULL,
  slots text[] NOT NULL,
  slot_capacities integer[] NOT NULL,
  opens_at timestamptz NOT NULL,
  cutoff_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('open', 'closed')),
  -- the JSON text publishSession stored in Redis, kept byte for byte for the rebuild
  definition text NOT NULL,
  version integer NOT NULL,
  published_at timestamptz NOT NULL
);
CREATE INDEX sessions_by_date ON sessions (session_date);

-- account_id is a keyed hash of the mobile number: the number itself is never stored
CREATE TABLE accounts (
  account_id text PRIMARY KEY,
  created_at timestamptz NOT NULL
);

-- as little personal data as the service needs: no photo ID number, only its keyed hash and last 4
CREATE TABLE beneficiaries (
  beneficiary_id bigint PRIMARY KEY,
  account_id text NOT NULL,
  name text NOT NULL,
  birth_year smallint NOT NULL,
  gender_id smallint NOT NULL,
  photo_id_type smallint NOT NULL,
  photo_id_last4 text NOT NULL,
  photo_id_hash text NOT NULL,
  comorbidity char(1) NOT NULL CHECK (comorbidity IN ('Y', 'N')),
  consent_version text NOT NULL,
  registered_at timestamptz NOT NULL,
  -- the vaccine of the recorded doses; null before the first dose
  vaccine text,
  dose1_date date,
  dose2_date date,
  dose3_date date,
  deleted_at timestamptz,
  version integer NOT NULL
);
CREATE INDEX beneficiaries_by_account ON beneficiaries (account_id);

-- One row per appointment and beneficiary. `expired`: a booked appointment whose day passed without
-- a vaccination and that a later booking of the same dose superseded (Redis keeps it as booked, and
-- its seat stays counted).
CREATE TABLE appointments (
  appointment_id text NOT NULL,
  beneficiary_id bigint NOT NULL,
  -- the beneficiary's place in the appointment, from 1 (Redis keeps the order in `bens`)
  position smallint NOT NULL,
  account_id text NOT NULL,
  session_id text NOT NULL,
  slot text NOT NULL,
  dose smallint NOT NULL CHECK (dose IN (1, 2, 3)),
  status text NOT NULL CHECK (status IN ('booked', 'cancelled', 'vaccinated', 'expired')),
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (appointment_id, beneficiary_id)
);
-- invariant 2, held by PostgreSQL too: at most one live appointment per beneficiary and dose
CREATE UNIQUE INDEX appointments_one_live_per_dose ON appointments (beneficiary_id, dose) WHERE status = 'booked';
CREATE INDEX appointments_by_session ON appointments (session_id, dose, slot);

-- Superseded appointments, as facts: a booking event names them, and they stay expired even when the
-- superseded appointment's own rows arrive later (an out-of-order batch).
CREATE TABLE appointment_expiries (
  appointment_id text NOT NULL,
  beneficiary_id bigint NOT NULL,
  superseded_by text NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (appointment_id, beneficiary_id)
);

-- The audit log: every appointment change (booked, cancelled, rescheduled, vaccinated) exactly once,
-- keyed by the outbox event id `appointment:<id>:<version>`.
CREATE TABLE appointment_events (
  event_id text PRIMARY KEY,
  -- the outbox stream entry it came from (the first one, if the entry was ever delivered twice)
  stream_id text NOT NULL,
  appointment_id text NOT NULL,
  action text NOT NULL CHECK (action IN ('booked', 'cancelled', 'rescheduled', 'vaccinated')),
  version integer NOT NULL,
  at timestamptz NOT NULL,
  -- the event as the booking script wrote it
  data jsonb NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_events_by_appointment ON appointment_events (appointment_id, version);

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER appointment_events_append_only BEFORE UPDATE OR DELETE ON appointment_events
  FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();

-- Daily quotas (searches and OTPs of the day, blocks), snapshotted every few seconds by the worker so a
-- rebuild restores "quotas of the day" with their remaining lifetime. A periodic snapshot: what
-- happened after the last one is not in it.
CREATE TABLE daily_quota_snapshots (
  account_id text NOT NULL,
  quota text NOT NULL CHECK (quota IN ('search_day', 'otp_day', 'blocked')),
  value text NOT NULL,
  expires_at timestamptz NOT NULL,
  snapshot_at timestamptz NOT NULL,
  PRIMARY KEY (account_id, quota)
);
CREATE INDEX daily_quota_snapshots_by_expiry ON daily_quota_snapshots (expires_at);

-- Down Migration

DROP TABLE daily_quota_snapshots;
DROP TABLE appointment_events;
DROP FUNCTION refuse_audit_change();
DROP TABLE appointment_expiries;
DROP TABLE appointments;
DROP TABLE beneficiaries;
DROP TABLE accounts;
DROP TABLE sessions;
DROP TABLE centers;
DROP TABLE districts;
DROP TABLE states;
