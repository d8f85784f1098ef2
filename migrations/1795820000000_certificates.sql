-- Vaccination certificates (issue 14): one row per certificate, as signed (a SMART Health Card, the
-- compact JWS kept byte for byte), fed by the outbox with the vaccination that issued it (version 1)
-- and, for one issued in error, its revocation (version 2). Version-guarded like the booking tables,
-- so each certificate lands exactly once and a late version 1 never undoes a revocation. `kid` and
-- `rid` place it on its key's revocation list (/.well-known/crl/<kid>.json), which rebuild restores.

-- Up Migration

CREATE TABLE certificates (
  certificate_id text PRIMARY KEY,
  beneficiary_id bigint NOT NULL,
  account_id text NOT NULL,
  appointment_id text NOT NULL,
  dose smallint NOT NULL CHECK (dose IN (1, 2, 3)),
  vaccine text NOT NULL,
  vaccinated_on date NOT NULL,
  center_id integer NOT NULL,
  -- the signing key (RFC 7638 thumbprint) and the revocation id in the card
  kid text NOT NULL,
  rid text NOT NULL,
  jws text NOT NULL,
  issued_at timestamptz NOT NULL,
  issued_by text NOT NULL,
  status text NOT NULL CHECK (status IN ('issued', 'revoked')),
  revoked_at timestamptz,
  revoked_by text,
  revocation_reason text,
  version integer NOT NULL
);
-- one certificate per dose given
CREATE UNIQUE INDEX certificates_one_per_dose ON certificates (beneficiary_id, dose);

-- Down Migration

DROP TABLE certificates;
