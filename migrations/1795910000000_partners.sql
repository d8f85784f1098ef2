-- Partners (issue 15): the third parties an admin registered, and the API keys issued to them, so a
-- Redis rebuilt from PostgreSQL (`npm run rebuild`) knows every partner, its scopes, limits and
-- suspension, and which of its keys are live, again. The registry's scripts run in Redis's
-- `{partners}` slot, apart from the outbox, so the admin's path writes these rows itself right after
-- each change (engine/partners.ts says why, and what a refused write does); `version` guards a
-- partner row against an older write, and a key's status only goes from active to revoked.
-- Only a key's sha256 is kept: the key itself was shown to the admin once.

-- Up Migration

CREATE TABLE partners (
  partner_id text PRIMARY KEY,
  name text NOT NULL,
  contact text NOT NULL,
  scopes text[] NOT NULL,
  per_minute integer NOT NULL CHECK (per_minute > 0),
  per_day integer NOT NULL CHECK (per_day >= per_minute),
  status text NOT NULL CHECK (status IN ('active', 'suspended')),
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  updated_by text NOT NULL,
  version integer NOT NULL CHECK (version > 0)
);

CREATE TABLE partner_keys (
  partner_id text NOT NULL REFERENCES partners (partner_id),
  key_id text NOT NULL,
  -- sha256 hex of the key's text
  key_hash text NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  status text NOT NULL CHECK (status IN ('active', 'revoked')),
  issued_at_ms bigint NOT NULL,
  issued_by text NOT NULL,
  revoked_at_ms bigint,
  revoked_by text,
  PRIMARY KEY (partner_id, key_id),
  CHECK ((status = 'revoked') = (revoked_at_ms IS NOT NULL))
);

-- Down Migration

DROP TABLE partner_keys;
DROP TABLE partners;
