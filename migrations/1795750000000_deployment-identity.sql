-- Which deployment this system of record belongs to. Redis carries the same id (engine/keys.ts
-- `deployment`), written when the deployment first uses an empty Redis and at the end of every
-- rebuild; the gateway, the worker and setup compare the two at start (worker/deployment.ts), so
-- teeka never serves on a Redis that was emptied or belongs to another deployment.

-- Up Migration

CREATE TABLE deployment (
  -- exactly one row
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  deployment_id uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment DEFAULT VALUES;

-- Down Migration

DROP TABLE deployment;
