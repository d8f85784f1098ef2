--[[
  Issue one more API key to a partner. Only the key's sha256 is kept; the key itself is shown to the
  admin once. A partner holds several live keys at once, so it can rotate: issue a new key, move
  its app to it, revoke the old one.

  Input:
    KEYS[1] partner hash
    KEYS[2] the new key's hash
    KEYS[3] the partner's key ids (set)

    ARGV[1] key id (random, part of the key's text)
    ARGV[2] sha256 hex of the key's text
    ARGV[3] now, ms since epoch
    ARGV[4] the admin issuing it (for the record)

  Output:
    {Status.OK}
    {Status.PARTNER_NOT_FOUND}
    {Status.PARTNER_KEY_REFUSED}     a key with this id exists already (the caller draws another id)
]]
local rcall = redis.call

local partnerKey, keyKey, keysKey = KEYS[1], KEYS[2], KEYS[3]
local keyId, keyHash, now, by = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

if rcall('EXISTS', partnerKey) == 0 then return { Status.PARTNER_NOT_FOUND } end
if rcall('EXISTS', keyKey) == 1 then return { Status.PARTNER_KEY_REFUSED } end

-- every check passed: write
rcall('HSET', keyKey, 'hash', keyHash, 'status', 'active', 'issued_at', now, 'issued_by', by)
rcall('SADD', keysKey, keyId)
return { Status.OK }
