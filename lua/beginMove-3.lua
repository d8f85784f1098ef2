--[[
  Partitioned reschedule, step 1 (engine/partitioned-booking.md), in the account's partition: the
  rules of rescheduleAppointment-6.lua checked against the new session's facts the engine read;
  the appointment is marked `moving` to (new session, slot) under claim `<id>:<n>` with the intent
  `move:<id>:<n>`, and stays booked, live, where it is until step 3 (confirmAppointment-4.lua).

  Input:
    KEYS[1] account hash
    KEYS[2] appointment hash
    KEYS[3] the partition's intents

    ARGV[1] appointment id
    ARGV[2] account id of the caller
    ARGV[3] new session id
    ARGV[4] new slot label
    ARGV[5] now, ms since epoch
    ARGV[6] today, local epoch day
    ARGV[7] the intent's deadline, ms since epoch
    ARGV[8] the new session's facts (includes/sessionFacts), '' when there is no such session

  Output:
    {Status.OK, n, seats, new claim id, current session id, current claim id}
    {Status.APPOINTMENT_NOT_FOUND} {Status.STALE_APPOINTMENT} (a change of it in flight) {Status.APPOINTMENT_NOT_ACTIVE}
    {Status.TOO_LATE_TO_CHANGE} {Status.SESSION_NOT_FOUND} {Status.SESSION_NOT_OPEN} {Status.BOOKING_CLOSED}
    {Status.INVALID_SLOT} {Status.SAME_CENTER_AND_SLOT} {Status.AGE_NOT_ELIGIBLE, id} ... (as booking)
]]
local rcall = redis.call
--- @include "includes/sessionFacts"
--- @include "includes/readSession"
--- @include "includes/eligibility"
--- @include "includes/appointmentState"
--- @include "includes/heldAppointment"

local accountKey, appointmentKey, intentsKey = KEYS[1], KEYS[2], KEYS[3]
local appointmentId, accountId, newSessionId, newSlot = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, today, deadline, factsJson = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], ARGV[8]

local appointment = readAppointment(appointmentKey)
if not appointment or appointment.account_id ~= accountId then return { Status.APPOINTMENT_NOT_FOUND } end
local held = rcall('HMGET', appointmentKey, 'pending', 'claim', 'center_id', 'date', 'day_start')
if held[1] == 'book' then return { Status.APPOINTMENT_NOT_FOUND } end
if held[1] == 'move' then return { Status.STALE_APPOINTMENT } end

local live = liveBeneficiaries(appointment)
if #live == 0 then return { Status.APPOINTMENT_NOT_ACTIVE } end
if now >= tonumber(held[5]) then return { Status.TOO_LATE_TO_CHANGE } end

local new = sessionFromFacts(factsJson)
if not new then return { Status.SESSION_NOT_FOUND } end
local windowProblem = bookingWindowProblem(new, now)
if windowProblem then return { windowProblem } end
if not new.slotCap then return { Status.INVALID_SLOT } end
if held[3] == tostring(new.center_id) and held[4] == tostring(new.date) and appointment.slot == newSlot then
  return { Status.SAME_CENTER_AND_SLOT }
end

local bens, refusal, refusedId = eligibleBeneficiaries(accountKey, live, appointment.dose, new, today, appointmentId)
if not bens then return { refusal, refusedId } end

-- every check passed: mark the move
local n = rcall('HINCRBY', appointmentKey, 'changes', 1)
local claim = appointmentId .. ':' .. n
local move = {
  n = n, session_id = newSessionId, slot = newSlot, claim = claim, count = #live,
  center_id = new.center_id, date = new.date, day_start = new.day_start, day_end = new.day_end, version = new.version,
}
rcall('HSET', appointmentKey, 'pending', 'move', 'move', cjson.encode(move))
rcall('ZADD', intentsKey, deadline, 'move:' .. appointmentId .. ':' .. n)
return { Status.OK, n, #live, claim, appointment.session_id, held[2] }
