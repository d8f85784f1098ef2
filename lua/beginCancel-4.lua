--[[
  Partitioned cancel, step 1 (engine/partitioned-booking.md), in the account's partition: the
  rules of cancelAppointment-5.lua, and the account's side of it: the beneficiaries are cancelled,
  their dose pointers cleared and the outbox gets `cancelled` at once; the seats are owed back to
  the session (intent `release:<id>:<n>`), which step 2 (releaseSeats-3.lua) gives. The appointment
  is cancelled before its seats return: a stop in between leaves a seat nobody holds (an undersell
  the intent repairs), never a seat given to another citizen while the appointment still stands.

  Input:
    KEYS[1] account hash
    KEYS[2] appointment hash
    KEYS[3] the partition's intents
    KEYS[4] the partition's outbox stream

    ARGV[1] appointment id
    ARGV[2] account id of the caller
    ARGV[3] now, ms since epoch
    ARGV[4] the release intent's deadline, ms since epoch
    ARGV[5..] beneficiary ids to cancel; none means every beneficiary still booked

  Output:
    {Status.OK, number cancelled, n, session id, claim id}
    {Status.APPOINTMENT_NOT_FOUND}       missing, another account's, or a booking not yet made
    {Status.STALE_APPOINTMENT}           a reschedule of it is in flight: retry
    {Status.BENEFICIARY_NOT_FOUND, id} {Status.APPOINTMENT_NOT_ACTIVE} {Status.TOO_LATE_TO_CHANGE}
]]
local rcall = redis.call
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"
--- @include "includes/heldAppointment"

local accountKey, appointmentKey, intentsKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local appointmentId, accountId, now, deadline = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local FIRST_BENEFICIARY_ARG = 5

local appointment = readAppointment(appointmentKey)
if not appointment or appointment.account_id ~= accountId then return { Status.APPOINTMENT_NOT_FOUND } end
local held = rcall('HMGET', appointmentKey, 'pending', 'claim', 'day_end')
if held[1] == 'book' then return { Status.APPOINTMENT_NOT_FOUND } end
if held[1] == 'move' then return { Status.STALE_APPOINTMENT } end

local targets, refusal = cancelTargets(appointment, { unpack(ARGV, FIRST_BENEFICIARY_ARG) })
if not targets then return refusal end
if #targets == 0 then return { Status.APPOINTMENT_NOT_ACTIVE } end
if now >= tonumber(held[3]) then return { Status.TOO_LATE_TO_CHANGE } end

-- every check passed: write
local count = #targets
cancelBeneficiaries(accountKey, appointmentKey, appointmentId, appointment, targets)
local n = rcall('HINCRBY', appointmentKey, 'changes', 1)
rcall('HSET', appointmentKey, 'release:' .. n, cjson.encode({ session_id = appointment.session_id, claim = held[2], count = count }))
rcall('ZADD', intentsKey, deadline, 'release:' .. appointmentId .. ':' .. n)
appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment',
  appointmentEvent(appointmentId, appointment, 'cancelled', now))
return { Status.OK, count, n, appointment.session_id, held[2] }
