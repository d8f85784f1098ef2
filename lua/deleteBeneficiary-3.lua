--[[
  Delete a beneficiary of the caller's account, releasing their photo ID. A beneficiary with a
  live appointment or any recorded dose stays: their history must not disappear.

  Input:
    KEYS[1] account hash of the caller
    KEYS[2] photo-ID index entry of the beneficiary (the caller read `photo_id_hash` first)
    KEYS[3] outbox stream

    ARGV[1] account id
    ARGV[2] beneficiary id
    ARGV[3] photo-ID hash the caller read (must still match)
    ARGV[4] now, ms since epoch
    ARGV[5] today, local epoch day

  Output:
    {Status.OK}
    {Status.BENEFICIARY_NOT_FOUND}   not a beneficiary of this account
    {Status.BENEFICIARY_LOCKED}      has a live appointment or a recorded dose
]]
local rcall = redis.call
--- @include "includes/appendOutbox"
--- @include "includes/beneficiaryRecord"

local accountKey, photoIdKey, outboxKey = KEYS[1], KEYS[2], KEYS[3]
local accountId, id, photoIdHash = ARGV[1], ARGV[2], ARGV[3]
local now, today = tonumber(ARGV[4]), tonumber(ARGV[5])

local raw = rcall('HGET', accountKey, 'ben:' .. id)
if not raw then return { Status.BENEFICIARY_NOT_FOUND } end
local ben = cjson.decode(raw)
if ben.photo_id_hash ~= photoIdHash then return { Status.BENEFICIARY_NOT_FOUND } end
if beneficiaryLocked(ben, today) then return { Status.BENEFICIARY_LOCKED } end

-- every check passed: write
rcall('HDEL', accountKey, 'ben:' .. id)
rcall('HINCRBY', accountKey, 'ben_count', -1)
if rcall('GET', photoIdKey) == accountId .. '|' .. id then rcall('DEL', photoIdKey) end

deletedBeneficiary(ben, accountId, now)
appendOutbox(outboxKey, 'beneficiary:' .. id .. ':' .. ben.version, 'beneficiary', ben)
return { Status.OK }
