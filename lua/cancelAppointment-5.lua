--[[
  Cancel some or all beneficiaries of an appointment; their seats return to the session's dose
  and slot counters exactly. Allowed until the end of the appointment day.

  Input:
    KEYS[1] session hash (the appointment's current session)
    KEYS[2] account hash of the caller
    KEYS[3] appointment hash
    KEYS[4] outbox stream
    KEYS[5] availability stream

    ARGV[1] appointment id
    ARGV[2] account id of the caller
    ARGV[3] session id the caller read from the appointment (guards against a concurrent reschedule)
    ARGV[4] now, ms since epoch
    ARGV[5] availability stream cap
    ARGV[6..] beneficiary ids to cancel; none means every beneficiary still booked

  Output:
    {Status.OK, number of beneficiaries cancelled}
    {Status.APPOINTMENT_NOT_FOUND}       missing, or another account's (never revealed as such)
    {Status.STALE_APPOINTMENT}           moved since the caller read it: read again and retry
    {Status.BENEFICIARY_NOT_FOUND, id}   not part of this appointment
    {Status.APPOINTMENT_NOT_ACTIVE}      nothing left to cancel (already cancelled or vaccinated)
    {Status.TOO_LATE_TO_CHANGE}          the appointment day is over
]]
local rcall = redis.call
--- @include "includes/capacityBucket"
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"
--- @include "includes/publishAvailability"

local sessionKey, accountKey, appointmentKey, outboxKey, availabilityKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local appointmentId, accountId, expectedSessionId = ARGV[1], ARGV[2], ARGV[3]
local now, availabilityCap = tonumber(ARGV[4]), ARGV[5]
local FIRST_BENEFICIARY_ARG = 6

local appointment = readAppointment(appointmentKey)
if not appointment or appointment.account_id ~= accountId then return { Status.APPOINTMENT_NOT_FOUND } end
if appointment.session_id ~= expectedSessionId then return { Status.STALE_APPOINTMENT } end

local targets, refusal = cancelTargets(appointment, { unpack(ARGV, FIRST_BENEFICIARY_ARG) })
if not targets then return refusal end
if #targets == 0 then return { Status.APPOINTMENT_NOT_ACTIVE } end

local dayEnd = tonumber(rcall('HGET', sessionKey, 'day_end'))
if dayEnd and now >= dayEnd then return { Status.TOO_LATE_TO_CHANGE } end

-- every check passed: write
local bucket = capacityBucket(appointment.dose)
local count = #targets
rcall('HINCRBY', sessionKey, 'booked' .. bucket, -count)
rcall('HINCRBY', sessionKey, 'slotbooked:' .. appointment.slot, -count)
cancelBeneficiaries(accountKey, appointmentKey, appointmentId, appointment, targets)
appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment',
  appointmentEvent(appointmentId, appointment, 'cancelled', now))
publishAvailability(availabilityKey, sessionKey, appointment.session_id, availabilityCap, { appointment.slot })

return { Status.OK, count }
