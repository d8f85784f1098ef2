--[[
  Partitioned booking, step 2 (engine/partitioned-booking.md), in the session's partition: take the
  seats of a booking (or of a reschedule into this session) under its claim, with the capacity rules
  of bookAppointment-6.lua (per dose bucket and per slot). Idempotent by the booking id: a claim
  already `taken` answers as the first time; one `refused` gives its refusal again; the `aborted`
  tombstone (decide-1.lua, written by recovery) refuses for good, so a late call cannot take seats
  for a booking already resolved as failed. A refusal is recorded too, so recovery reads it.

  A reschedule to another slot of the same session moves the seats in this one step, as
  rescheduleAppointment-6.lua does (the dose bucket is unchanged, only the slots' counters move):
  KEYS[4] is then the appointment's current claim, which gives back its seats under `released:<n>`,
  so the later release step (releaseSeats-3.lua) finds them given back already.

  Input:
    KEYS[1] session hash
    KEYS[2] the claim (new, or this booking's from an earlier call)
    KEYS[3] the partition's availability stream
    KEYS[4] the claim the seats move from (same session), else KEYS[2] again

    ARGV[1] booking id
    ARGV[2] session id
    ARGV[3] slot label
    ARGV[4] dose: 1, 2 or 3
    ARGV[5] seats
    ARGV[6] the session version the hold checked the beneficiaries against
    ARGV[7] now, ms since epoch
    ARGV[8] availability stream cap
    ARGV[9] how long a refusal or tombstone is kept, ms (far longer than a step can be delayed)
    ARGV[10] the change number `<n>` under which KEYS[4] gives back its seats, '' when not a move within this session

  Output:
    {Status.OK, available capacity of the dose after taking}    (the first answer again on a replay)
    {Status.BOOKING_ABORTED}      the tombstone: the booking was resolved as failed
    {Status.SESSION_CHANGED}      the session's definition changed since the hold
    {Status.SESSION_NOT_FOUND} {Status.SESSION_NOT_OPEN} {Status.BOOKING_CLOSED} {Status.INVALID_SLOT} {Status.FULL}
]]
local rcall = redis.call
--- @include "includes/readSession"
--- @include "includes/capacityBucket"
--- @include "includes/publishAvailability"

local sessionKey, claimKey, availabilityKey, fromClaimKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local bookingId, sessionId, slot, dose, count = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local version, now, availabilityCap, keepMs, fromChange = ARGV[6], tonumber(ARGV[7]), ARGV[8], ARGV[9], ARGV[10]

local claim = rcall('HMGET', claimKey, 'state', 'status', 'available_after')
if claim[1] == 'taken' then return { Status.OK, tonumber(claim[3]) } end
if claim[1] == 'refused' then return { tonumber(claim[2]) } end
if claim[1] == 'aborted' then return { Status.BOOKING_ABORTED } end

local function refuse(status)
  rcall('HSET', claimKey, 'state', 'refused', 'status', status)
  rcall('PEXPIRE', claimKey, keepMs)
  return { status }
end

local session = readSession(sessionKey, slot)
if not session then return refuse(Status.SESSION_NOT_FOUND) end
if tostring(rcall('HGET', sessionKey, 'version')) ~= version then return refuse(Status.SESSION_CHANGED) end
local windowProblem = bookingWindowProblem(session, now)
if windowProblem then return refuse(windowProblem) end
if not session.slotCap then return refuse(Status.INVALID_SLOT) end

local bucket = capacityBucket(dose)
local available = session['cap' .. bucket] - session['booked' .. bucket]
local from = nil
if fromChange ~= '' then
  local v = rcall('HMGET', fromClaimKey, 'state', 'slot', 'seats', 'released:' .. fromChange)
  if v[1] == 'taken' and not v[4] then from = { slot = v[2], seats = tonumber(v[3]) } end
end
if not from and count > available then return refuse(Status.FULL) end
if session.slotBooked + count > session.slotCap then return refuse(Status.FULL) end

-- every check passed: take
local slots = { slot }
if from then
  rcall('HINCRBY', sessionKey, 'slotbooked:' .. from.slot, -count)
  rcall('HSET', fromClaimKey, 'seats', from.seats - count, 'released:' .. fromChange, count)
  slots[2] = from.slot
else
  rcall('HINCRBY', sessionKey, 'booked' .. bucket, count)
  available = available - count
end
rcall('HINCRBY', sessionKey, 'slotbooked:' .. slot, count)
rcall('HSET', claimKey, 'state', 'taken', 'booking_id', bookingId, 'session_id', sessionId, 'slot', slot, 'dose', dose, 'seats', count,
  'available_after', available, 'at', now)
publishAvailability(availabilityKey, sessionKey, sessionId, availabilityCap, slots)
return { Status.OK, available }
