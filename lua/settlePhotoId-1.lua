--[[
  Partitioned registration, steps 3 and recovery (engine/partitioned-booking.md, "Registering a
  beneficiary"), in the photo ID's partition: settle the photo ID's entry.

  - `confirm` (registration id, beneficiary id): the registration holding the entry gave it a
    beneficiary; the entry now names the beneficiary.
  - `release` (registration id): the registration holding the entry made no beneficiary (refused, or
    aborted by recovery); the entry goes.
  - `free` (account, beneficiary id): that beneficiary was deleted; the entry goes if it still names it.
  Each acts only on the entry as described, so a late or repeated call changes nothing.

  Input:
    KEYS[1] the photo ID's entry

    ARGV[1] 'confirm' | 'release' | 'free'
    ARGV[2] registration id (confirm, release) or account id (free)
    ARGV[3] beneficiary id (confirm, free)

  Output:
    {Status.OK, 1 when the entry changed, 0 when it was not as described}
]]
local rcall = redis.call
local key = KEYS[1]
local action, holder, beneficiaryId = ARGV[1], ARGV[2], ARGV[3]

local entry = rcall('HMGET', key, 'account', 'ben', 'reg')
if action == 'confirm' and entry[3] == holder then
  rcall('HDEL', key, 'reg', 'deadline')
  rcall('HSET', key, 'ben', beneficiaryId)
  return { Status.OK, 1 }
end
if action == 'release' and entry[3] == holder then
  rcall('DEL', key)
  return { Status.OK, 1 }
end
if action == 'free' and entry[1] == holder and entry[2] == beneficiaryId then
  rcall('DEL', key)
  return { Status.OK, 1 }
end
return { Status.OK, 0 }
