--[[
  Revoke an operator: the credentials stop working and the live login session ends, so the token
  the operator holds is refused from the next request on. The record stays (who was issued what,
  and when it was revoked); issuing again takes the operator back with a new secret.

  Input:
    KEYS[1] operator hash
    KEYS[2] operator login session hash
    KEYS[3] outbox stream

    ARGV[1] operator id
    ARGV[2] now, ms since epoch
    ARGV[3] the admin revoking them (for the record)

  Output:
    {Status.OK, version of the operator record}   also when already revoked (nothing changes then)
    {Status.OPERATOR_NOT_FOUND}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"

local operatorKey, sessionKey, outboxKey = KEYS[1], KEYS[2], KEYS[3]
local operatorId, now, revokedBy = ARGV[1], tonumber(ARGV[2]), ARGV[3]

local record = rcall('HMGET', operatorKey, 'role', 'centers', 'secret_hash', 'status', 'issued_at', 'issued_by', 'version')
if not record[1] then return { Status.OPERATOR_NOT_FOUND } end
if record[4] == 'revoked' then
  rcall('DEL', sessionKey)
  return { Status.OK, tonumber(record[7]) }
end

-- every check passed: write
local version = tonumber(record[7]) + 1
rcall('DEL', sessionKey)
rcall('HSET', operatorKey, 'status', 'revoked', 'revoked_at', now, 'revoked_by', revokedBy, 'version', version)
appendOutbox(outboxKey, 'operator:' .. operatorId .. ':' .. version, 'operator', {
  operator_id = operatorId, role = record[1], centers = record[2], secret_hash = record[3], status = 'revoked',
  issued_at = tonumber(record[5]), issued_by = record[6], revoked_at = now, revoked_by = revokedBy, version = version, at = now,
})
return { Status.OK, version }
