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
    ARGV[12] for the access log: the route that books, `METHOD pattern`, carried with ARGV[13] in the
             appointment's outbox entry when the booking is accepted; '' when the caller logs the call
             itself (includes/booking)
    ARGV[13] for the access log: the client's address
    ARGV[14..] beneficiary reference ids

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
--- @include "includes/booking"

local ids = {}
for i = 14, #ARGV do ids[#ids + 1] = ARGV[i] end
return bookAppointment(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], {
  appointmentId = ARGV[1], sessionId = ARGV[2], accountId = ARGV[3], slot = ARGV[4], dose = ARGV[5],
  fingerprint = ARGV[8], codeDigits = ARGV[11], accessRoute = ARGV[12], accessAddress = ARGV[13], ids = ids,
}, { now = tonumber(ARGV[6]), today = tonumber(ARGV[7]), idempotencyTtl = ARGV[9], availabilityCap = ARGV[10] })
