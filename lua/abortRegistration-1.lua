--[[
  Partitioned registration, recovery (engine/partitioned-booking.md, "Registering a beneficiary"),
  in the account's partition: what became of a registration whose photo ID reservation is past its
  deadline. A registration that wrote its beneficiary answers its id; one that did not gets the
  `aborted` tombstone, so its late step 2 is refused (registerBeneficiary). Whichever runs first
  in this partition decides.

  Input:
    KEYS[1] the account's hash in its partition

    ARGV[1] registration id

  Output:
    {Status.OK, beneficiary id | 'aborted'}
]]
local rcall = redis.call
local field = 'reg:' .. ARGV[1]
local made = rcall('HGET', KEYS[1], field)
if made then return { Status.OK, made } end
rcall('HSET', KEYS[1], field, 'aborted')
return { Status.OK, 'aborted' }
