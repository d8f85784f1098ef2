--[[
  Partitioned registration: delete a beneficiary of the caller's account, in its partition p(A)
  (engine/partitioned-booking.md, "Registering a beneficiary"). The engine then frees the photo ID's
  entry in its own partition (settlePhotoId `free`); a stop in between leaves the entry naming a
  beneficiary that no longer exists, which the next reservation of that photo ID finds and frees.
  A beneficiary with a live appointment or any recorded dose stays.

  Input:
    KEYS[1] the account's hash in its partition
    KEYS[2] the partition's outbox stream

    ARGV[1] account id
    ARGV[2] beneficiary id
    ARGV[3] now, ms since epoch
    ARGV[4] today, local epoch day

  Output:
    {Status.OK, the beneficiary's photo ID hash}
    {Status.BENEFICIARY_NOT_FOUND}
    {Status.BENEFICIARY_LOCKED}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"
--- @include "includes/beneficiaryRecord"

local accountKey, outboxKey = KEYS[1], KEYS[2]
local accountId, id, now, today = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local raw = rcall('HGET', accountKey, 'ben:' .. id)
if not raw then return { Status.BENEFICIARY_NOT_FOUND } end
local ben = cjson.decode(raw)
if beneficiaryLocked(ben, today) then return { Status.BENEFICIARY_LOCKED } end

-- every check passed: write
rcall('HDEL', accountKey, 'ben:' .. id)
rcall('HINCRBY', accountKey, 'ben_count', -1)
deletedBeneficiary(ben, accountId, now)
appendOutbox(outboxKey, 'beneficiary:' .. id .. ':' .. ben.version, 'beneficiary', ben)
return { Status.OK, ben.photo_id_hash }
