--[[
  Partitioned booking and reschedule: release a hold whose seats were refused or never taken
  (engine/partitioned-booking.md), in the account's partition, after takeSeats refused or decide
  read `refused` or wrote `aborted`:
  - a pending booking is removed: each beneficiary's dose pointer goes back to what it was before
    the hold (none, or the past appointment it superseded), the intent `book:<id>` is removed, and
    the idempotency record that named this booking is dropped, so a retry books afresh;
  - a pending reschedule is dropped: the appointment stays booked where it was; the intent
    `move:<id>:<n>` is removed.

  Input:
    KEYS[1] account hash
    KEYS[2] appointment hash
    KEYS[3] the partition's intents
    KEYS[4] the booking's idempotency record (any key of this partition when it had none)

    ARGV[1] appointment id
    ARGV[2] the move's change number <n> ('' for a booking): a later move is not released

  Output:
    {Status.OK}
    {Status.REPLAYED}   nothing pending (released or confirmed before)
]]
local rcall = redis.call
--- @include "includes/appointmentState"
--- @include "includes/heldAppointment"

local accountKey, appointmentKey, intentsKey, idempotencyKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local appointmentId, moveNumber = ARGV[1], ARGV[2]

local appointment = readAppointment(appointmentKey)
if not appointment then return { Status.REPLAYED } end
local held = rcall('HMGET', appointmentKey, 'pending', 'expired', 'move')
local pending = held[1]

if pending == 'book' and moveNumber == '' then
  local before = {}
  for _, superseded in ipairs(held[2] and cjson.decode(held[2]) or {}) do before[superseded.beneficiary_id] = superseded end
  local dose = appointment.dose
  for _, id in ipairs(appointment.bens) do
    local previous = before[id]
    repointDose(accountKey, id, dose, appointmentId, previous and previous.appointment_id or '', previous and previous.day or 0)
  end
  rcall('DEL', appointmentKey)
  rcall('ZREM', intentsKey, 'book:' .. appointmentId)
  local record = rcall('GET', idempotencyKey)
  if record and string.sub(record, -(#appointmentId + 1)) == '|' .. appointmentId then rcall('DEL', idempotencyKey) end
  return { Status.OK }
end

local move = pending == 'move' and cjson.decode(held[3])
if move and tostring(move.n) == moveNumber then
  rcall('HDEL', appointmentKey, 'pending', 'move')
  rcall('ZREM', intentsKey, 'move:' .. appointmentId .. ':' .. move.n)
  return { Status.OK }
end

return { Status.REPLAYED }
