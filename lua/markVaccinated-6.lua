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
--- @include "includes/vaccination"

local appointmentId, beneficiaryId, expectedSessionId = ARGV[1], ARGV[2], ARGV[3]

local appointment = readAppointment(KEYS[3])
if not appointment then return { Status.APPOINTMENT_NOT_FOUND } end
if appointment.session_id ~= expectedSessionId then return { Status.STALE_APPOINTMENT } end
local s = rcall('HMGET', KEYS[1], 'center_id', 'date', 'vaccine', 'day_start', 'day_end')

return recordVaccination(
  { account = KEYS[2], appointment = KEYS[3], outbox = KEYS[4], certificate = KEYS[5], certificates = KEYS[6] },
  {
    appointment_id = appointmentId, beneficiary_id = beneficiaryId, now = tonumber(ARGV[4]), vaccinator_id = ARGV[5],
    code = ARGV[6], max_wrong = tonumber(ARGV[7]), vaccinator_centers = ARGV[8], expected_version = tonumber(ARGV[9]),
    certificate_id = ARGV[10], jws = ARGV[11], kid = ARGV[12], rid = ARGV[13],
  },
  appointment,
  { center_id = s[1], date = tonumber(s[2]), vaccine = s[3], day_start = tonumber(s[4]), day_end = tonumber(s[5]) }
)
