--[[
  Issue an operator's credentials (an admin does, outside the booking hot path): a new operator, or
  new credentials for an existing one (a lost secret, new centres, a new role, or a revoked operator
  taken back). Only the secret's hash is kept; the secret itself is shown to the admin once. Any
  login session of the operator ends, so a token issued before never works again.

  Input:
    KEYS[1] operator hash
    KEYS[2] operator login session hash
    KEYS[3] outbox stream

    ARGV[1] operator id
    ARGV[2] role: vaccinator or admin
    ARGV[3] centre ids the operator works at, comma-separated ('' for an admin)
    ARGV[4] hash of the secret (scrypt, with its parameters and salt)
    ARGV[5] now, ms since epoch
    ARGV[6] the admin issuing them (for the record)

  Output:
    {Status.OK, version of the operator record}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"

local operatorKey, sessionKey, outboxKey = KEYS[1], KEYS[2], KEYS[3]
local operatorId, role, centers, secretHash = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, issuedBy = tonumber(ARGV[5]), ARGV[6]

local version = tonumber(rcall('HGET', operatorKey, 'version') or '0') + 1
rcall('DEL', sessionKey)
rcall('HDEL', operatorKey, 'revoked_at', 'revoked_by')
rcall('HSET', operatorKey, 'role', role, 'centers', centers, 'secret_hash', secretHash, 'status', 'active',
  'issued_at', now, 'issued_by', issuedBy, 'version', version)
appendOutbox(outboxKey, 'operator:' .. operatorId .. ':' .. version, 'operator', {
  operator_id = operatorId, role = role, centers = centers, secret_hash = secretHash, status = 'active',
  issued_at = now, issued_by = issuedBy, version = version, at = now,
})
return { Status.OK, version }
