--[[
  Why beneficiary `ben` (decoded JSON) cannot take `dose` at `session` (from readSession), or nil;
  and the check of several beneficiaries read from their account hash.
  The dose intervals are the session's (its vaccine's schedule, see engine/sessions.ts).
  `today` is the local epoch day: an appointment whose day has passed without a vaccination no
  longer counts as live. `ownAppointmentId` is the appointment being moved by a reschedule, which
  must not block itself.
]]
--- @include "includes/readSession"

-- The checks of a new booking before its beneficiaries' (the same order in every booking script):
-- the dose, the session (nil: not found), its booking window, the slot, the beneficiaries named
-- (each once, at least one) and the security code digits (4 per beneficiary, else a script error
-- naming `script`). Returns the distinct ids, or nil and the reply.
local function checkBookingRequest(dose, session, now, named, codeDigits, script)
  if dose ~= 1 and dose ~= 2 and dose ~= 3 then return nil, { Status.INVALID_DOSE } end
  if not session then return nil, { Status.SESSION_NOT_FOUND } end
  local windowProblem = bookingWindowProblem(session, now)
  if windowProblem then return nil, { windowProblem } end
  if not session.slotCap then return nil, { Status.INVALID_SLOT } end
  local ids, seen = {}, {}
  for _, id in ipairs(named) do
    if seen[id] then return nil, { Status.DUPLICATE_BENEFICIARY, id } end
    seen[id] = true
    ids[#ids + 1] = id
  end
  if #ids == 0 then return nil, { Status.BENEFICIARY_NOT_FOUND, '' } end
  if #codeDigits < 4 * #ids or string.find(codeDigits, '%D') then
    return nil, redis.error_reply(script .. ': the security code digits must be 4 random digits per beneficiary')
  end
  return ids
end

local function eligibilityProblem(ben, dose, session, today, ownAppointmentId)
  local age = session.year - ben.birth_year
  if age < session.min_age then return Status.AGE_NOT_ELIGIBLE end
  if session.max_age >= 0 and not session.allow_all_age and age > session.max_age then
    return Status.AGE_NOT_ELIGIBLE
  end
  if (ben['dose' .. dose] or 0) > 0 then return Status.ALREADY_VACCINATED end
  local appointment = ben['appt' .. dose] or ''
  if appointment ~= '' and appointment ~= ownAppointmentId and (ben['appt' .. dose .. '_day'] or 0) >= today then
    return Status.ALREADY_BOOKED
  end
  if dose == 1 then return nil end
  if (ben.dose1 or 0) == 0 then return Status.PREVIOUS_DOSE_MISSING end
  if ben.vaccine ~= session.vaccine then return Status.VACCINE_MISMATCH end
  -- the schedule is the session's vaccine's (the same as dose 1's): -1 marks a dose it lacks, and
  -- the precaution dose follows the last primary dose (dose 1 of a single-dose vaccine)
  local singleDose = session.dose2_after < 0
  local previous, interval = ben.dose1, session.dose2_after
  if dose == 2 and singleDose then return Status.DOSE_NOT_IN_SCHEDULE end
  if dose == 3 then
    if session.precaution_after < 0 then return Status.DOSE_NOT_IN_SCHEDULE end
    interval = session.precaution_after
    if not singleDose then previous = ben.dose2 or 0 end
    if previous == 0 then return Status.PREVIOUS_DOSE_MISSING end
  end
  if session.date - previous < interval then return Status.DOSE_NOT_DUE end
  return nil
end

--[[
  Read beneficiaries `ids` from the account hash and check each for `dose` at `session`.
  Returns the decoded beneficiaries in order, or nil, the refusal status and the id it concerns.
]]
local function eligibleBeneficiaries(accountKey, ids, dose, session, today, ownAppointmentId)
  local fields = {}
  for i, id in ipairs(ids) do fields[i] = 'ben:' .. id end
  local raw = rcall('HMGET', accountKey, unpack(fields))
  local bens = {}
  for i, id in ipairs(ids) do
    if not raw[i] then return nil, Status.BENEFICIARY_NOT_FOUND, id end
    local ben = cjson.decode(raw[i])
    local problem = eligibilityProblem(ben, dose, session, today, ownAppointmentId)
    if problem then return nil, problem, id end
    bens[i] = ben
  end
  return bens
end
