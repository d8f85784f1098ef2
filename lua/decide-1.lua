--[[
  Partitioned booking, recovery (engine/partitioned-booking.md), in the session's partition: what
  became of a booking's (or a reschedule's) seats. A claim that exists answers its state; none
  means the seats step never ran (or its write was lost in a failover): the `aborted` tombstone is
  written, so a late takeSeats for the same id is refused. Whichever of the two runs first in this
  partition decides, so recovery never races the booking.

  Input:
    KEYS[1] the claim
    ARGV[1] how long the tombstone is kept, ms (far longer than a step can be delayed)

  Output:
    {Status.OK, 'taken' | 'refused' | 'aborted'}
]]
local rcall = redis.call
local state = rcall('HGET', KEYS[1], 'state')
if state then return { Status.OK, state } end
rcall('HSET', KEYS[1], 'state', 'aborted')
rcall('PEXPIRE', KEYS[1], ARGV[1])
return { Status.OK, 'aborted' }
