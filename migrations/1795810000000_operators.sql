-- Operators (issue 14): vaccinators and admins an admin issued credentials to. Fed by the outbox like
-- the booking tables (an `operator` change per issue or revocation, version-guarded), so a rebuilt
-- Redis knows every operator and their credentials again. Only the secret's scrypt hash is kept; the
-- secret was shown to the admin once. A revoked operator's row stays: who held which credentials,
-- issued and revoked by whom, and when.

-- Up Migration

CREATE TABLE operators (
  operator_id text PRIMARY KEY,
  role text NOT NULL CHECK (role IN ('vaccinator', 'admin')),
  -- the centres a vaccinator works at (empty for an admin)
  center_ids integer[] NOT NULL,
  -- scrypt$N$r$p$salt$hash
  secret_hash text NOT NULL,
  status text NOT NULL CHECK (status IN ('active', 'revoked')),
  issued_at timestamptz NOT NULL,
  issued_by text NOT NULL,
  revoked_at timestamptz,
  revoked_by text,
  version integer NOT NULL
);

-- Down Migration

DROP TABLE operators;
