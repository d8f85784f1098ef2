--[[
  Revoke a certificate issued in error: it is marked revoked and its revocation id (rid) joins the
  revocation list of the key that signed it, which verifiers download (the list's version is its
  length plus one, as SMART Health Cards count: 1 for the empty list). Revoking twice changes nothing.

  Input:
    KEYS[1] certificate hash
    KEYS[2] revocation list (sorted set of rids) of the certificate's key
    KEYS[3] outbox stream

    ARGV[1] certificate id
    ARGV[2] now, ms since epoch
    ARGV[3] the admin revoking it
    ARGV[4] why (kept with the record)

  Output:
    {Status.OK, version of the certificate record}
    {Status.CERTIFICATE_NOT_FOUND}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"

local certificateKey, revocationsKey, outboxKey = KEYS[1], KEYS[2], KEYS[3]
local certificateId, now, revokedBy, reason = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

local fields = { 'certificate_id', 'beneficiary_id', 'account_id', 'appointment_id', 'dose', 'vaccine', 'date',
  'center_id', 'kid', 'rid', 'jws', 'issued_at', 'issued_by', 'status', 'version' }
local values = rcall('HMGET', certificateKey, unpack(fields))
if not values[1] then return { Status.CERTIFICATE_NOT_FOUND } end
local record = {}
for i, name in ipairs(fields) do record[name] = values[i] end
if record.status == 'revoked' then return { Status.OK, tonumber(record.version) } end

-- every check passed: write
local version = tonumber(record.version) + 1
rcall('HSET', certificateKey, 'status', 'revoked', 'revoked_at', now, 'revoked_by', revokedBy, 'revocation_reason', reason,
  'version', version)
rcall('ZADD', revocationsKey, now, record.rid)
for _, name in ipairs({ 'dose', 'date', 'center_id', 'issued_at' }) do record[name] = tonumber(record[name]) end
record.status, record.version = 'revoked', version
record.revoked_at, record.revoked_by, record.revocation_reason = now, revokedBy, reason
appendOutbox(outboxKey, 'certificate:' .. certificateId .. ':' .. version, 'certificate', record)
return { Status.OK, version }
