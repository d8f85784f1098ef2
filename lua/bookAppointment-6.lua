--[[
  Book one or more beneficiaries of one account into one slot of a session: all of them or none.

  Checks, all before the first write: idempotency record, dose, session exists and is open and
  before its cutoff, slot exists, every beneficiary belongs to the account, is listed once, is
  within the age limits, has no live appointment and no record of this dose, has the previous dose
  of the same vaccine long enough before the session date; then capacity of the dose and of the
  slot for all of them together.

  Input:
    KEYS[1] session hash
    KEYS[2] account hash (beneficiaries as `ben:<id>` JSON)
    KEYS[3] appointment hash (new)
    KEYS[4] idempotency record
    KEYS[5] outbox stream
    KEYS[6] availability stream

    ARGV[1] appointment id (new, unique)
    ARGV[2] session id
    ARGV[3] account id
    ARGV[4] slot label, e.g. 09:00AM-11:00AM
    ARGV[5] dose: 1, 2 or 3 (precaution)
    ARGV[6] now, ms since epoch
    ARGV[7] today, local epoch day
    ARGV[8] request fingerprint under the idempotency key, '' when the client sent no key
    ARGV[9] idempotency record lifetime, ms
    ARGV[10] availability stream cap
    ARGV[11] random decimal digits, 4 per beneficiary in order: each one's security code. The engine
             draws them (node:crypto): Redis seeds Lua's math.random alike for every script run
    ARGV[12..] beneficiary reference ids

  Output:
    {Status.OK, appointment id, available capacity of the dose after booking}
    {Status.REPLAYED, appointment id}                 same key, same request: the first answer
    {Status.IDEMPOTENCY_MISMATCH}                     same key, different request
    {Status.INVALID_DOSE} {Status.SESSION_NOT_FOUND} {Status.SESSION_NOT_OPEN} {Status.BOOKING_CLOSED}
    {Status.INVALID_SLOT} {Status.DUPLICATE_BENEFICIARY, id} {Status.BENEFICIARY_NOT_FOUND, id}
    {Status.AGE_NOT_ELIGIBLE, id} {Status.ALREADY_VACCINATED, id} {Status.ALREADY_BOOKED, id}
    {Status.PREVIOUS_DOSE_MISSING, id} {Status.VACCINE_MISMATCH, id} {Status.DOSE_NOT_DUE, id} {Status.DOSE_NOT_IN_SCHEDULE, id}
    {Status.FULL}
]]
local rcall = redis.call
--- @include "includes/readSession"
--- @include "includes/capacityBucket"
--- @include "includes/eligibility"
--- @include "includes/appendOutbox"
--- @include "includes/publishAvailability"

local sessionKey, accountKey, appointmentKey, idempotencyKey, outboxKey, availabilityKey =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local appointmentId, sessionId, accountId, slot = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dose, now, today = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fingerprint, idempotencyTtl, availabilityCap = ARGV[8], ARGV[9], ARGV[10]
local codeDigits = ARGV[11]
local FIRST_BENEFICIARY_ARG = 12

if fingerprint ~= '' then
  local previous = rcall('GET', idempotencyKey)
  if previous then
    local sep = string.find(previous, '|', 1, true)
    if string.sub(previous, 1, sep - 1) == fingerprint then
      return { Status.REPLAYED, string.sub(previous, sep + 1) }
    end
    return { Status.IDEMPOTENCY_MISMATCH }
  end
end

if dose ~= 1 and dose ~= 2 and dose ~= 3 then return { Status.INVALID_DOSE } end

local session = readSession(sessionKey, slot)
if not session then return { Status.SESSION_NOT_FOUND } end
local windowProblem = bookingWindowProblem(session, now)
if windowProblem then return { windowProblem } end
if not session.slotCap then return { Status.INVALID_SLOT } end

local ids, seen = {}, {}
for i = FIRST_BENEFICIARY_ARG, #ARGV do
  local id = ARGV[i]
  if seen[id] then return { Status.DUPLICATE_BENEFICIARY, id } end
  seen[id] = true
  ids[#ids + 1] = id
end
local count = #ids
if count == 0 then return { Status.BENEFICIARY_NOT_FOUND, '' } end
if #codeDigits < 4 * count or string.find(codeDigits, '%D') then
  return redis.error_reply('bookAppointment: ARGV[11] must hold 4 random digits per beneficiary')
end

local bens, refusal, refusedId = eligibleBeneficiaries(accountKey, ids, dose, session, today, nil)
if not bens then return { refusal, refusedId } end

local bucket = capacityBucket(dose)
local available = session['cap' .. bucket] - session['booked' .. bucket]
if count > available or session.slotBooked + count > session.slotCap then return { Status.FULL } end

-- every check passed: write
rcall('HINCRBY', sessionKey, 'booked' .. bucket, count)
rcall('HINCRBY', sessionKey, 'slotbooked:' .. slot, count)

local event = {
  appointment_id = appointmentId, account_id = accountId, session_id = sessionId, slot = slot, dose = dose,
  version = 1, action = 'booked', at = now, created_at = now, beneficiaries = {},
}
local appointmentFields = {
  'account_id', accountId, 'session_id', sessionId, 'slot', slot, 'dose', dose,
  'bens', table.concat(ids, ','), 'version', 1, 'created_at', now,
}
for i, ben in ipairs(bens) do
  local id = ids[i]
  local superseded = ben['appt' .. dose] or ''
  if superseded ~= '' then
    -- a past appointment of this dose that was never vaccinated: the worker marks it expired
    event.expired = event.expired or {}
    event.expired[#event.expired + 1] = { appointment_id = superseded, beneficiary_id = id }
  end
  ben['appt' .. dose] = appointmentId
  ben['appt' .. dose .. '_day'] = session.date
  rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
  local code = string.sub(codeDigits, 4 * i - 3, 4 * i)
  appointmentFields[#appointmentFields + 1] = 'status:' .. id
  appointmentFields[#appointmentFields + 1] = 'booked'
  appointmentFields[#appointmentFields + 1] = 'code:' .. id
  appointmentFields[#appointmentFields + 1] = code
  event.beneficiaries[i] = { id = id, status = 'booked', security_code = code }
end
rcall('HSET', appointmentKey, unpack(appointmentFields))
if fingerprint ~= '' then
  rcall('SET', idempotencyKey, fingerprint .. '|' .. appointmentId, 'PX', idempotencyTtl)
end
appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':1', 'appointment', event)
publishAvailability(availabilityKey, sessionKey, sessionId, availabilityCap, { slot })

return { Status.OK, appointmentId, available - count }
