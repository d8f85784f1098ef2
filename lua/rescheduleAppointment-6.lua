--[[
  Move every beneficiary still booked on an appointment to another session and slot, atomically:
  seats leave the old session and enter the new one in the same script, so capacity is never
  counted twice or lost. Allowed only before the appointment day, and never to the same centre,
  date and slot. Each beneficiary must be eligible for the new session as for a new booking.

  Input:
    KEYS[1] current session hash of the appointment
    KEYS[2] new session hash (may be the same key: a move to another slot of the same session)
    KEYS[3] account hash of the caller
    KEYS[4] appointment hash
    KEYS[5] outbox stream
    KEYS[6] availability stream

    ARGV[1] appointment id
    ARGV[2] account id of the caller
    ARGV[3] current session id as the caller read it (guards against a concurrent reschedule)
    ARGV[4] new session id
    ARGV[5] new slot label
    ARGV[6] now, ms since epoch
    ARGV[7] today, local epoch day
    ARGV[8] availability stream cap

  Output:
    {Status.OK, available capacity of the dose in the new session after the move}
    {Status.APPOINTMENT_NOT_FOUND} {Status.STALE_APPOINTMENT} {Status.APPOINTMENT_NOT_ACTIVE}
    {Status.TOO_LATE_TO_CHANGE}   on or after the appointment day
    {Status.SESSION_NOT_FOUND} {Status.SESSION_NOT_OPEN} {Status.BOOKING_CLOSED} {Status.INVALID_SLOT}
    {Status.SAME_CENTER_AND_SLOT}
    {Status.AGE_NOT_ELIGIBLE, id} {Status.DOSE_NOT_DUE, id} {Status.VACCINE_MISMATCH, id} ... (as booking)
    {Status.FULL}
]]
local rcall = redis.call
--- @include "includes/readSession"
--- @include "includes/capacityBucket"
--- @include "includes/eligibility"
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"
--- @include "includes/publishAvailability"

local oldSessionKey, newSessionKey, accountKey, appointmentKey, outboxKey, availabilityKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local appointmentId, accountId, expectedSessionId, newSessionId, newSlot = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, today, availabilityCap = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]

local appointment = readAppointment(appointmentKey)
if not appointment or appointment.account_id ~= accountId then return { Status.APPOINTMENT_NOT_FOUND } end
if appointment.session_id ~= expectedSessionId then return { Status.STALE_APPOINTMENT } end

local live = {}
for _, id in ipairs(appointment.bens) do
  if appointment.status[id] == 'booked' then live[#live + 1] = id end
end
if #live == 0 then return { Status.APPOINTMENT_NOT_ACTIVE } end

local oldSlot = appointment.slot
local old = readSession(oldSessionKey, oldSlot)
if not old then return { Status.SESSION_NOT_FOUND } end
if now >= old.day_start then return { Status.TOO_LATE_TO_CHANGE } end

local new = readSession(newSessionKey, newSlot)
if not new then return { Status.SESSION_NOT_FOUND } end
local windowProblem = bookingWindowProblem(new, now)
if windowProblem then return { windowProblem } end
if not new.slotCap then return { Status.INVALID_SLOT } end
if old.center_id == new.center_id and old.date == new.date and oldSlot == newSlot then
  return { Status.SAME_CENTER_AND_SLOT }
end

local dose = appointment.dose
local bens, refusal, refusedId = eligibleBeneficiaries(accountKey, live, dose, new, today, appointmentId)
if not bens then return { refusal, refusedId } end

local count = #live
local bucket = capacityBucket(dose)
local sameSession = oldSessionKey == newSessionKey
local available = new['cap' .. bucket] - new['booked' .. bucket]
if not sameSession and count > available then return { Status.FULL } end
if new.slotBooked + count > new.slotCap then return { Status.FULL } end

-- every check passed: write
if not sameSession then
  rcall('HINCRBY', oldSessionKey, 'booked' .. bucket, -count)
  rcall('HINCRBY', newSessionKey, 'booked' .. bucket, count)
  available = available - count
end
rcall('HINCRBY', oldSessionKey, 'slotbooked:' .. oldSlot, -count)
rcall('HINCRBY', newSessionKey, 'slotbooked:' .. newSlot, count)

for i, ben in ipairs(bens) do
  ben['appt' .. dose .. '_day'] = new.date
  rcall('HSET', accountKey, 'ben:' .. live[i], cjson.encode(ben))
end
appointment.version = rcall('HINCRBY', appointmentKey, 'version', 1)
rcall('HSET', appointmentKey, 'session_id', newSessionId, 'slot', newSlot)
local previousSessionId = appointment.session_id
appointment.session_id = newSessionId
appointment.slot = newSlot
local event = appointmentEvent(appointmentId, appointment, 'rescheduled', now)
event.from_session_id = previousSessionId
event.from_slot = oldSlot
appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment', event)
if sameSession then
  publishAvailability(availabilityKey, newSessionKey, newSessionId, availabilityCap, { oldSlot, newSlot })
else
  publishAvailability(availabilityKey, newSessionKey, newSessionId, availabilityCap, { newSlot })
  publishAvailability(availabilityKey, oldSessionKey, previousSessionId, availabilityCap, { oldSlot })
end

return { Status.OK, available }
