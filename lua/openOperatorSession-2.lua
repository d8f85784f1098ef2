--[[
  Open an operator's login session after the engine checked the secret against the record's hash:
  the record must still be active and hold that same hash (a revocation or new credentials issued
  between the check and this script win). A new login replaces the operator's previous one.
  The deployment's admin key (checked by the gateway against its configuration) has no record:
  it opens the built-in `admin` operator's session.

  Input:
    KEYS[1] operator hash
    KEYS[2] operator login session hash

    ARGV[1] the secret hash the engine verified, or '' for the deployment's admin key
    ARGV[2] new login session id (goes into the token)
    ARGV[3] now, ms since epoch
    ARGV[4] login session lifetime, ms (the token's lifetime)

  Output:
    {Status.OK, role, centre ids (comma-separated)}
    {Status.OPERATOR_REFUSED}       revoked, re-issued or missing since the secret was checked
]]
local rcall = redis.call

local operatorKey, sessionKey = KEYS[1], KEYS[2]
local verifiedHash, sid, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

local role, centers = 'admin', ''
if verifiedHash ~= '' then
  local record = rcall('HMGET', operatorKey, 'status', 'secret_hash', 'role', 'centers')
  if record[1] ~= 'active' or record[2] ~= verifiedHash then return { Status.OPERATOR_REFUSED } end
  role, centers = record[3], record[4]
end

-- every check passed: write
rcall('DEL', sessionKey)
rcall('HSET', sessionKey, 'sid', sid, 'role', role, 'centers', centers, 'since', now)
rcall('PEXPIRE', sessionKey, ttl)
return { Status.OK, role, centers }
