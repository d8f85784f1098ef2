--[[
  Partitioned cancel step 3 and reschedule step 5 (engine/partitioned-booking.md), in the account's
  partition: the seats a change owed back were given back (releaseSeats-3.lua), so its intent
  `release:<id>:<n>` and the record of what it owed go.

  Input:
    KEYS[1] appointment hash
    KEYS[2] the partition's intents
    ARGV[1] appointment id
    ARGV[2] the change number <n>

  Output:
    {Status.OK}
]]
local rcall = redis.call
rcall('ZREM', KEYS[2], 'release:' .. ARGV[1] .. ':' .. ARGV[2])
rcall('HDEL', KEYS[1], 'release:' .. ARGV[2])
return { Status.OK }
