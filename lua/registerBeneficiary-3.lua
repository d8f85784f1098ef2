--[[
  Partitioned registration, step 2 (engine/partitioned-booking.md, "Registering a beneficiary"), in
  the account's partition p(A): write the beneficiary into the account, once per registration.

  The account hash keeps `reg:<registration id>` → the beneficiary id it made, or `aborted` when
  recovery found the registration past its deadline without one (the tombstone): a late step 2 is
  then refused, so recovery cannot race it (abortRegistration). The id is unique across the country
  without a country-wide counter: the partition's own counter n gives first + n × stride + partition.

  Input:
    KEYS[1] the account's hash in its partition (beneficiaries as `ben:<id>` JSON)
    KEYS[2] the partition's beneficiary counter
    KEYS[3] the partition's outbox stream

    ARGV[1] account id
    ARGV[2] registration id
    ARGV[3] now, ms since epoch
    ARGV[4] most beneficiaries per account
    ARGV[5] beneficiary, JSON (as addBeneficiary's)
    ARGV[6] first reference number
    ARGV[7] the stride (the most partitions there can be)
    ARGV[8] this partition's number

  Output:
    {Status.OK, beneficiary id}
    {Status.REPLAYED, beneficiary id}   this registration had already written it
    {Status.BENEFICIARY_LIMIT}
    {Status.BOOKING_ABORTED}            recovery aborted the registration: start again
]]
local rcall = redis.call
--- @include "includes/appendOutbox"
--- @include "includes/beneficiaryRecord"

local accountKey, sequenceKey, outboxKey = KEYS[1], KEYS[2], KEYS[3]
local accountId, registrationId, now, maxBeneficiaries = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ben = cjson.decode(ARGV[5])
local first, stride, partition = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

local registration = 'reg:' .. registrationId
local account = rcall('HMGET', accountKey, 'created_at', 'ben_count', registration)
if account[3] == 'aborted' then return { Status.BOOKING_ABORTED } end
if account[3] then return { Status.REPLAYED, account[3] } end
if tonumber(account[2] or '0') >= maxBeneficiaries then return { Status.BENEFICIARY_LIMIT } end

-- every check passed: write
if not account[1] then
  rcall('HSET', accountKey, 'created_at', now, 'ben_count', 0)
  appendOutbox(outboxKey, 'account:' .. accountId .. ':1', 'account', { account_id = accountId, created_at = now })
end
local id = string.format('%.0f', first + rcall('INCR', sequenceKey) * stride + partition)
newBeneficiary(ben, id, now)
rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben), registration, id)
rcall('HINCRBY', accountKey, 'ben_count', 1)

ben.account_id = accountId
appendOutbox(outboxKey, 'beneficiary:' .. id .. ':1', 'beneficiary', ben)
return { Status.OK, id }
