-- The access log (issue 15): one row per read or change of personal data (a citizen's own
-- beneficiaries, a slip, a certificate, a vaccinator's lookup, an admin's action, a partner's call on
-- a citizen's behalf): when, who, from where, what, and the outcome. Fed by the outbox (an `access`
-- entry per request, written by the gateway before it answers), exactly once by `entry_id`.
--
-- Append-only and tamper-evident:
-- - rows are numbered without gaps (`seq`), and each carries `hash` = sha256 of the previous row's
--   hash and this row's fields (engine/access-log.ts `accessRowHash`), so an edited or removed row
--   breaks the chain from there on (`npm run audit -- verify`);
-- - a trigger refuses UPDATE, DELETE and TRUNCATE for everyone, the table's owner too; only someone
--   who may disable triggers (a superuser or the owner, on purpose) can change a row, and the chain
--   shows it;
-- - the application's role `teeka_app` (created here when missing, for deployments that run the
--   gateway and worker under it) is granted SELECT and INSERT only.

-- Up Migration

CREATE TABLE access_log (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  entry_id text NOT NULL UNIQUE,
  at_ms bigint NOT NULL,
  at timestamptz GENERATED ALWAYS AS (to_timestamp(at_ms / 1000.0)) STORED,
  -- citizen (an account id), operator (an operator id), or anonymous
  actor_kind text NOT NULL CHECK (actor_kind IN ('citizen', 'vaccinator', 'admin', 'anonymous')),
  actor text NOT NULL,
  -- the partner whose key the call carried, '' for none
  partner text NOT NULL,
  address text NOT NULL,
  method text NOT NULL,
  route text NOT NULL,
  -- whose data: `account:<id>`, `beneficiary:<id>`, `appointment:<id>`, `certificate:<id>`
  objects text[] NOT NULL,
  status smallint NOT NULL,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
CREATE INDEX access_log_actor ON access_log (actor, at_ms);
CREATE INDEX access_log_objects ON access_log USING gin (objects);
CREATE INDEX access_log_at ON access_log (at_ms);

CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'access_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();

REVOKE ALL ON access_log FROM PUBLIC;
-- (two schemas migrating at once may both try to create the role; a migrating user without
-- CREATEROLE leaves it to the operator, who grants the same by hand)
DO $$
BEGIN
  BEGIN
    CREATE ROLE teeka_app NOLOGIN;
  EXCEPTION WHEN duplicate_object OR unique_violation OR insufficient_privilege THEN
    NULL;
  END;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'teeka_app') THEN
    GRANT SELECT, INSERT ON access_log TO teeka_app;
  END IF;
END
$$;

-- Down Migration

DROP TABLE access_log;
DROP FUNCTION access_log_append_only();
