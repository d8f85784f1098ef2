--[[
  Partitioned booking step 3 and reschedule step 3 (engine/partitioned-booking.md), in the account's
  partition, once the claim in the session's partition is `taken` (the engine just took it, or
  recovery's decide read it):
  - a pending booking becomes booked: the intent `book:<id>` is removed and the outbox gets the
    `booked` entry bookAppointment-6.lua writes (the worker persists it as it does today);
  - a pending reschedule moves: the appointment names the new session, slot and claim, the
    beneficiaries' dose day follows, the outbox gets `rescheduled`, and the intent `move:<id>:<n>`
    becomes `release:<id>:<n>`: the old claim's seats, owed back to the old session (releaseSeats-3.lua).

  Input:
    KEYS[1] account hash
    KEYS[2] appointment hash
    KEYS[3] the partition's intents
    KEYS[4] the partition's outbox stream

    ARGV[1] appointment id
    ARGV[2] now, ms since epoch
    ARGV[3] the release intent's deadline (a reschedule), ms since epoch
    ARGV[4] the move's change number <n> whose seats were taken ('' for a booking): a later move is not confirmed

  Output:
    {Status.OK, 'book'}
    {Status.OK, 'move', n, old session id, old claim id, seats}
    {Status.REPLAYED}               nothing pending: confirmed before
    {Status.APPOINTMENT_NOT_FOUND}  no such appointment (a booking released before)
]]
local rcall = redis.call
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"
--- @include "includes/heldAppointment"

local accountKey, appointmentKey, intentsKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local appointmentId, now, releaseDeadline, moveNumber = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]

local appointment = readAppointment(appointmentKey)
if not appointment then return { Status.APPOINTMENT_NOT_FOUND } end
local held = rcall('HMGET', appointmentKey, 'pending', 'expired', 'move', 'claim')
local pending = held[1]

if pending == 'book' and moveNumber == '' then
  rcall('HDEL', appointmentKey, 'pending')
  rcall('ZREM', intentsKey, 'book:' .. appointmentId)
  local event = appointmentEvent(appointmentId, appointment, 'booked', now)
  if held[2] then
    event.expired = {}
    for i, superseded in ipairs(cjson.decode(held[2])) do
      event.expired[i] = { appointment_id = superseded.appointment_id, beneficiary_id = superseded.beneficiary_id }
    end
  end
  appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment', event)
  return { Status.OK, 'book' }
end

local move = pending == 'move' and cjson.decode(held[3])
if move and tostring(move.n) == moveNumber then
  local live = liveBeneficiaries(appointment)
  for _, id in ipairs(live) do setDosePointer(accountKey, id, appointment.dose, appointmentId, move.date) end
  local fromSessionId, fromSlot, fromClaim = appointment.session_id, appointment.slot, held[4]
  appointment.version = rcall('HINCRBY', appointmentKey, 'version', 1)
  rcall('HSET', appointmentKey, 'session_id', move.session_id, 'slot', move.slot, 'claim', move.claim,
    'center_id', move.center_id, 'date', move.date, 'day_start', move.day_start, 'day_end', move.day_end,
    'release:' .. move.n, cjson.encode({ session_id = fromSessionId, claim = fromClaim, count = move.count }))
  rcall('HDEL', appointmentKey, 'pending', 'move')
  rcall('ZREM', intentsKey, 'move:' .. appointmentId .. ':' .. move.n)
  rcall('ZADD', intentsKey, releaseDeadline, 'release:' .. appointmentId .. ':' .. move.n)
  appointment.session_id = move.session_id
  appointment.slot = move.slot
  local event = appointmentEvent(appointmentId, appointment, 'rescheduled', now)
  event.from_session_id = fromSessionId
  event.from_slot = fromSlot
  appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment', event)
  return { Status.OK, 'move', move.n, fromSessionId, fromClaim, move.count }
end

return { Status.REPLAYED }
