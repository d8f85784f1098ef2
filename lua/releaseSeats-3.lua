--[[
  Partitioned cancel step 2 and reschedule step 4 (engine/partitioned-booking.md), in the session's
  partition: a claim gives back seats a cancel or a reschedule released, once per change number
  (`released:<n>`), so a retried or recovered step never gives them back twice.

  Input:
    KEYS[1] session hash
    KEYS[2] the claim holding the seats
    KEYS[3] the partition's availability stream

    ARGV[1] the change number <n>
    ARGV[2] seats to give back
    ARGV[3] session id
    ARGV[4] availability stream cap

  Output:
    {Status.OK}
    {Status.REPLAYED}                given back already under this change number
    {Status.APPOINTMENT_NOT_FOUND}   no taken claim (a bug: a release is only owed for taken seats)
]]
local rcall = redis.call
--- @include "includes/capacityBucket"
--- @include "includes/publishAvailability"

local sessionKey, claimKey, availabilityKey = KEYS[1], KEYS[2], KEYS[3]
local change, count, sessionId, availabilityCap = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

local claim = rcall('HMGET', claimKey, 'state', 'slot', 'dose', 'seats', 'released:' .. change)
if claim[1] ~= 'taken' then return { Status.APPOINTMENT_NOT_FOUND } end
if claim[5] then return { Status.REPLAYED } end
local slot, bucket = claim[2], capacityBucket(tonumber(claim[3]))
rcall('HINCRBY', sessionKey, 'booked' .. bucket, -count)
rcall('HINCRBY', sessionKey, 'slotbooked:' .. slot, -count)
rcall('HSET', claimKey, 'seats', tonumber(claim[4]) - count, 'released:' .. change, count)
publishAvailability(availabilityKey, sessionKey, sessionId, availabilityCap, { slot })
return { Status.OK }
