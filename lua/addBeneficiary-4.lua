--[[
  Register a beneficiary under an account, creating the account on its first beneficiary.
  An account holds at most the configured number of beneficiaries; a photo ID (as a keyed hash,
  never the number itself) can belong to one beneficiary only. The reference id comes from a
  counter so it is unique across the country.

  Input:
    KEYS[1] account hash
    KEYS[2] photo-ID index entry
    KEYS[3] beneficiary sequence counter
    KEYS[4] outbox stream

    ARGV[1] account id
    ARGV[2] now, ms since epoch
    ARGV[3] most beneficiaries per account
    ARGV[4] beneficiary, JSON: {name, birth_year, gender_id, photo_id_type, photo_id_last4,
            photo_id_hash, comorbidity, consent_version}
    ARGV[5] first reference number (the counter starts here)

  Output:
    {Status.OK, beneficiary reference id}
    {Status.BENEFICIARY_LIMIT}
    {Status.DUPLICATE_PHOTO_ID}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"
--- @include "includes/beneficiaryRecord"

local accountKey, photoIdKey, sequenceKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local accountId, now, maxBeneficiaries = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ben = cjson.decode(ARGV[4])
local firstReference = ARGV[5]

local account = rcall('HMGET', accountKey, 'created_at', 'ben_count')
local count = tonumber(account[2] or '0')
if count >= maxBeneficiaries then return { Status.BENEFICIARY_LIMIT } end
if rcall('EXISTS', photoIdKey) == 1 then return { Status.DUPLICATE_PHOTO_ID } end

-- every check passed: write
if not account[1] then
  rcall('HSET', accountKey, 'created_at', now, 'ben_count', 0)
  appendOutbox(outboxKey, 'account:' .. accountId .. ':1', 'account', { account_id = accountId, created_at = now })
end
if rcall('EXISTS', sequenceKey) == 0 then rcall('SET', sequenceKey, firstReference) end
local id = tostring(rcall('INCR', sequenceKey))

newBeneficiary(ben, id, now)
rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
rcall('HINCRBY', accountKey, 'ben_count', 1)
rcall('SET', photoIdKey, accountId .. '|' .. id)

ben.account_id = accountId
appendOutbox(outboxKey, 'beneficiary:' .. id .. ':1', 'beneficiary', ben)
return { Status.OK, id }
