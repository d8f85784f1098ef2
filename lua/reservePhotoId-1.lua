--[[
  Partitioned registration, step 1 (engine/partitioned-booking.md, "Registering a beneficiary"), in
  the photo ID's own partition: reserve the photo ID (a keyed hash of type and number) for a
  registration, so that no second beneficiary anywhere can have it.

  The entry is a hash: `account` and `ben` once a beneficiary holds it; `account`, `reg` and
  `deadline` while a registration holds it (pending). This step only reads and reserves: resolving a
  pending registration past its deadline, or an entry whose beneficiary was deleted, is the
  engine's (it reads the account's partition, then settles the entry with settlePhotoId).

  Input:
    KEYS[1] the photo ID's entry

    ARGV[1] account id
    ARGV[2] registration id
    ARGV[3] deadline (ms, engine clock)

  Output:
    {Status.OK, 'reserved'}                       reserved now, or already by this registration
    {Status.OK, 'taken', account, beneficiary id} a beneficiary holds it
    {Status.OK, 'pending', account, registration id, deadline}  another registration holds it
]]
local rcall = redis.call
local key = KEYS[1]
local accountId, registrationId, deadline = ARGV[1], ARGV[2], ARGV[3]

local entry = rcall('HMGET', key, 'account', 'ben', 'reg', 'deadline')
if entry[2] then return { Status.OK, 'taken', entry[1], entry[2] } end
if entry[3] then
  if entry[3] == registrationId then return { Status.OK, 'reserved' } end
  return { Status.OK, 'pending', entry[1], entry[3], tonumber(entry[4]) }
end
rcall('HSET', key, 'account', accountId, 'reg', registrationId, 'deadline', deadline)
return { Status.OK, 'reserved' }
