-- The 4-digit security code of each beneficiary's appointment (issue 14), as the booking script drew
-- it: printed on the slip, given by the citizen to the vaccinator, required to mark the dose given.
-- Kept here so a rebuilt Redis still accepts the code on the citizen's slip. Null for an appointment
-- booked before codes existed (the vaccination then needs none).
--
-- Wrong codes entered at the centre are counted in Redis only (like wrong OTPs): a rebuild resets the
-- count, which gives a guesser at most a few more tries after a disaster.

-- Up Migration

ALTER TABLE appointments ADD COLUMN security_code text CHECK (security_code ~ '^[0-9]{4}$');

-- Down Migration

ALTER TABLE appointments DROP COLUMN security_code;
