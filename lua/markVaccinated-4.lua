--[[
  A vaccinator records that one beneficiary of an appointment received the dose: the appointment
  completes for them, and their dose date and vaccine are recorded so the next dose's eligibility
  follows. The seat stays consumed. Allowed only on the appointment day, and only with the
  beneficiary's security code (printed on the slip; the citizen says it at the centre). Wrong codes
  are counted per appointment (`code_tries`); after `maxWrong` of them the appointment is locked.
  A vaccinator acts only at their own centres: another centre's appointment is answered exactly
  like a missing one.

  Input:
    KEYS[1] session hash of the appointment
    KEYS[2] account hash owning the appointment
    KEYS[3] appointment hash
    KEYS[4] outbox stream

    ARGV[1] appointment id
    ARGV[2] beneficiary id
    ARGV[3] session id as the caller read it from the appointment
    ARGV[4] now, ms since epoch
    ARGV[5] vaccinator id (for the audit log)
    ARGV[6] the security code the citizen gave
    ARGV[7] wrong security codes allowed per appointment
    ARGV[8] the centre ids the vaccinator works at, comma-separated

  Output:
    {Status.OK, dose, vaccine, session date (epoch day)}
    {Status.APPOINTMENT_NOT_FOUND}    missing, or at a centre the vaccinator does not work at
    {Status.STALE_APPOINTMENT} {Status.BENEFICIARY_NOT_FOUND, id}
    {Status.APPOINTMENT_NOT_ACTIVE}   this beneficiary's appointment is cancelled or already recorded
    {Status.NOT_VACCINATION_DAY}
    {Status.SECURITY_CODE_LOCKED}     too many wrong codes for this appointment
    {Status.WRONG_SECURITY_CODE, wrong codes left before the lock}   (counts one wrong code)
]]
local rcall = redis.call
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"

local sessionKey, accountKey, appointmentKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local appointmentId, beneficiaryId, expectedSessionId = ARGV[1], ARGV[2], ARGV[3]
local now, vaccinatorId = tonumber(ARGV[4]), ARGV[5]
local givenCode, maxWrong = ARGV[6], tonumber(ARGV[7])
local vaccinatorCenters = ARGV[8]

local appointment = readAppointment(appointmentKey)
if not appointment then return { Status.APPOINTMENT_NOT_FOUND } end
if appointment.session_id ~= expectedSessionId then return { Status.STALE_APPOINTMENT } end
local centerId = rcall('HGET', sessionKey, 'center_id')
if not centerId or not string.find(',' .. vaccinatorCenters .. ',', ',' .. centerId .. ',', 1, true) then
  return { Status.APPOINTMENT_NOT_FOUND }
end
local status = appointment.status[beneficiaryId]
if not status then return { Status.BENEFICIARY_NOT_FOUND, beneficiaryId } end
if status ~= 'booked' then return { Status.APPOINTMENT_NOT_ACTIVE } end

local s = rcall('HMGET', sessionKey, 'date', 'vaccine', 'day_start', 'day_end')
local date, vaccine, dayStart, dayEnd = tonumber(s[1]), s[2], tonumber(s[3]), tonumber(s[4])
if now < dayStart or now >= dayEnd then return { Status.NOT_VACCINATION_DAY } end

local wrongSoFar = tonumber(rcall('HGET', appointmentKey, 'code_tries') or '0')
if wrongSoFar >= maxWrong then return { Status.SECURITY_CODE_LOCKED } end

local raw = rcall('HGET', accountKey, 'ben:' .. beneficiaryId)
if not raw then return { Status.BENEFICIARY_NOT_FOUND, beneficiaryId } end

-- the last check: a wrong code is counted (the only write of a refusal)
local code = appointment.code[beneficiaryId]
if code and code ~= givenCode then
  local wrong = rcall('HINCRBY', appointmentKey, 'code_tries', 1)
  return { Status.WRONG_SECURITY_CODE, maxWrong - wrong }
end

-- every check passed: write
local dose = appointment.dose
local ben = cjson.decode(raw)
ben['dose' .. dose] = date
ben.vaccine = vaccine
ben['appt' .. dose] = ''
ben['appt' .. dose .. '_day'] = 0
ben.version = (ben.version or 0) + 1
rcall('HSET', accountKey, 'ben:' .. beneficiaryId, cjson.encode(ben))

appointment.status[beneficiaryId] = 'vaccinated'
rcall('HSET', appointmentKey, 'status:' .. beneficiaryId, 'vaccinated')
appointment.version = rcall('HINCRBY', appointmentKey, 'version', 1)
local event = appointmentEvent(appointmentId, appointment, 'vaccinated', now)
event.vaccinated_beneficiary_id = beneficiaryId
event.vaccinator_id = vaccinatorId
appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment', event)
ben.account_id = appointment.account_id
appendOutbox(outboxKey, 'beneficiary:' .. beneficiaryId .. ':' .. ben.version, 'beneficiary', ben)

return { Status.OK, dose, vaccine, date }
