--[[
  A vaccinator records that one beneficiary of an appointment received the dose: the appointment
  completes for them, and their dose date and vaccine are recorded so the next dose's eligibility
  follows. The seat stays consumed. Allowed only on the appointment day, and only with the
  beneficiary's security code (printed on the slip; the citizen says it at the centre). Wrong codes
  are counted per appointment (`code_tries`); after `maxWrong` of them the appointment is locked.
  A vaccinator acts only at their own centres: another centre's appointment is answered exactly
  like a missing one.

  The dose's certificate is issued in the same step: the engine signed it beforehand from what it
  read (the beneficiary at `expectedVersion`, the session, the dose), and the script keeps it and
  appends it to the outbox with the vaccination, so there is never a vaccination without its
  certificate, nor a certificate without its vaccination. If the beneficiary changed since the
  engine read it, the certificate may state something else: STALE_APPOINTMENT, and the engine reads
  and signs again. A refused vaccination drops the signed certificate unseen.

  Input:
    KEYS[1] session hash of the appointment
    KEYS[2] account hash owning the appointment
    KEYS[3] appointment hash
    KEYS[4] outbox stream
    KEYS[5] certificate hash (new)
    KEYS[6] the beneficiary's certificates hash (dose → certificate id)

    ARGV[1] appointment id
    ARGV[2] beneficiary id
    ARGV[3] session id as the caller read it from the appointment
    ARGV[4] now, ms since epoch
    ARGV[5] vaccinator id (for the audit log)
    ARGV[6] the security code the citizen gave
    ARGV[7] wrong security codes allowed per appointment
    ARGV[8] the centre ids the vaccinator works at, comma-separated
    ARGV[9] the beneficiary's version the certificate was made from
    ARGV[10] certificate id ('' when the engine foresaw a refusal and signed nothing)
    ARGV[11] the signed certificate (compact JWS)
    ARGV[12] id of the key that signed it (kid)
    ARGV[13] its revocation id (rid)

  Output:
    {Status.OK, dose, vaccine, session date (epoch day), certificate id}
    {Status.APPOINTMENT_NOT_FOUND}    missing, or at a centre the vaccinator does not work at
    {Status.STALE_APPOINTMENT}        moved since read, the beneficiary changed since the certificate
                                      was made, or no certificate came: read again and retry
    {Status.BENEFICIARY_NOT_FOUND, id}
    {Status.APPOINTMENT_NOT_ACTIVE}   this beneficiary's appointment is cancelled or already recorded
    {Status.NOT_VACCINATION_DAY}
    {Status.SECURITY_CODE_LOCKED}     too many wrong codes for this appointment
    {Status.WRONG_SECURITY_CODE, wrong codes left before the lock}   (counts one wrong code)
]]
local rcall = redis.call
--- @include "includes/appointmentState"
--- @include "includes/appendOutbox"

local sessionKey, accountKey, appointmentKey, outboxKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local certificateKey, certificatesKey = KEYS[5], KEYS[6]
local appointmentId, beneficiaryId, expectedSessionId = ARGV[1], ARGV[2], ARGV[3]
local now, vaccinatorId = tonumber(ARGV[4]), ARGV[5]
local givenCode, maxWrong = ARGV[6], tonumber(ARGV[7])
local vaccinatorCenters = ARGV[8]
local expectedVersion, certificateId, certificateJws, kid, rid = tonumber(ARGV[9]), ARGV[10], ARGV[11], ARGV[12], ARGV[13]

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

local ben = cjson.decode(raw)
if (ben.version or 0) ~= expectedVersion or certificateId == '' then return { Status.STALE_APPOINTMENT } end

-- every check passed: write
local dose = appointment.dose
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

local certificate = {
  certificate_id = certificateId, beneficiary_id = beneficiaryId, account_id = appointment.account_id,
  appointment_id = appointmentId, dose = dose, vaccine = vaccine, date = date, center_id = tonumber(centerId),
  kid = kid, rid = rid, jws = certificateJws, issued_at = now, issued_by = vaccinatorId, status = 'issued', version = 1,
}
rcall('HSET', certificateKey, 'certificate_id', certificateId, 'beneficiary_id', beneficiaryId,
  'account_id', appointment.account_id, 'appointment_id', appointmentId, 'dose', dose, 'vaccine', vaccine,
  'date', date, 'center_id', centerId, 'kid', kid, 'rid', rid, 'jws', certificateJws, 'issued_at', now,
  'issued_by', vaccinatorId, 'status', 'issued', 'version', 1)
rcall('HSET', certificatesKey, dose, certificateId)
appendOutbox(outboxKey, 'certificate:' .. certificateId .. ':1', 'certificate', certificate)

return { Status.OK, dose, vaccine, date, certificateId }
