--[[
  Partitioned booking, step 1 (engine/partitioned-booking.md), in the account's partition: check
  the beneficiaries as bookAppointment-6.lua does, against the session facts the engine read, and
  hold them: the appointment is written `pending`, each beneficiary's dose points at it (so a second
  booking of the dose is refused as ALREADY_BOOKED while it is pending), and the intent `book:<id>`
  waits in the partition's intents until its deadline. No seat is taken here (takeSeats does that).

  Input:
    KEYS[1] account hash (beneficiaries as `ben:<id>` JSON)
    KEYS[2] appointment hash (new; its id was drawn in this partition)
    KEYS[3] idempotency record
    KEYS[4] the partition's intents (sorted set)

    ARGV[1] appointment id (the booking id)
    ARGV[2] session id
    ARGV[3] account id
    ARGV[4] slot label
    ARGV[5] dose: 1, 2 or 3
    ARGV[6] now, ms since epoch
    ARGV[7] today, local epoch day
    ARGV[8] request fingerprint under the idempotency key, '' when the client sent no key
    ARGV[9] idempotency record lifetime, ms
    ARGV[10] random decimal digits, 4 per beneficiary in order: their security codes
    ARGV[11] the intent's deadline, ms since epoch
    ARGV[12] the session's facts (includes/sessionFacts), '' when there is no such session
    ARGV[13] the client's idempotency key, '' none
    ARGV[14..] beneficiary reference ids

  Output:
    {Status.OK}
    {Status.REPLAYED, appointment id}     same key, same request (that booking may still be pending)
    {Status.IDEMPOTENCY_MISMATCH}     same key, different request
    the refusals of bookAppointment-6.lua but FULL (takeSeats decides that), in its order:
    {Status.INVALID_DOSE} {Status.SESSION_NOT_FOUND} {Status.SESSION_NOT_OPEN} {Status.BOOKING_CLOSED}
    {Status.INVALID_SLOT} {Status.DUPLICATE_BENEFICIARY, id} {Status.BENEFICIARY_NOT_FOUND, id}
    {Status.AGE_NOT_ELIGIBLE, id} {Status.ALREADY_VACCINATED, id} {Status.ALREADY_BOOKED, id}
    {Status.PREVIOUS_DOSE_MISSING, id} {Status.VACCINE_MISMATCH, id} {Status.DOSE_NOT_DUE, id} {Status.DOSE_NOT_IN_SCHEDULE, id}
]]
local rcall = redis.call
--- @include "includes/sessionFacts"
--- @include "includes/readSession"
--- @include "includes/eligibility"
--- @include "includes/idempotency"

local accountKey, appointmentKey, idempotencyKey, intentsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local appointmentId, sessionId, accountId, slot = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local dose, now, today = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local fingerprint, idempotencyTtl, codeDigits, deadline = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local factsJson, clientKey = ARGV[12], ARGV[13]
local FIRST_BENEFICIARY_ARG = 14

-- on a replay the engine reads whether that booking is still pending, and if so finishes it
local replay = replayOrMismatch(idempotencyKey, fingerprint)
if replay then return replay end

local session = sessionFromFacts(factsJson)
local ids, problem = checkBookingRequest(dose, session, now, { unpack(ARGV, FIRST_BENEFICIARY_ARG) }, codeDigits, 'holdAppointment')
if not ids then return problem end
local count = #ids

local bens, refusal, refusedId = eligibleBeneficiaries(accountKey, ids, dose, session, today, nil)
if not bens then return { refusal, refusedId } end

-- every check passed: hold
local expired = {}
local fields = {
  'account_id', accountId, 'session_id', sessionId, 'slot', slot, 'dose', dose,
  'bens', table.concat(ids, ','), 'version', 1, 'created_at', now,
  'pending', 'book', 'claim', appointmentId, 'idem', clientKey,
  'center_id', session.center_id, 'date', session.date, 'day_start', session.day_start, 'day_end', session.day_end,
  'session_version', session.version,
}
for i, ben in ipairs(bens) do
  local id = ids[i]
  local superseded = ben['appt' .. dose] or ''
  if superseded ~= '' then
    expired[#expired + 1] = { appointment_id = superseded, beneficiary_id = id, day = ben['appt' .. dose .. '_day'] or 0 }
  end
  ben['appt' .. dose] = appointmentId
  ben['appt' .. dose .. '_day'] = session.date
  rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
  fields[#fields + 1] = 'status:' .. id
  fields[#fields + 1] = 'booked'
  fields[#fields + 1] = 'code:' .. id
  fields[#fields + 1] = string.sub(codeDigits, 4 * i - 3, 4 * i)
end
if #expired > 0 then
  fields[#fields + 1] = 'expired'
  fields[#fields + 1] = cjson.encode(expired)
end
rcall('HSET', appointmentKey, unpack(fields))
if fingerprint ~= '' then
  rcall('SET', idempotencyKey, fingerprint .. '|' .. appointmentId, 'PX', idempotencyTtl)
end
rcall('ZADD', intentsKey, deadline, 'book:' .. appointmentId)
return { Status.OK }
