-- A country without postal codes (the Guyana demo: rules.search_by_pincode off) has centres without
-- a pincode. NULL says "none" in the system of record; the API answers 0 where CoWIN's shapes
-- need the field (engine/masterdata.ts `pincodeOf`).

-- Up Migration

ALTER TABLE centers ALTER COLUMN pincode DROP NOT NULL;

-- Down Migration

ALTER TABLE centers ALTER COLUMN pincode SET NOT NULL;
