--[[
  The partitioned layout's vaccination (engine/partitioned-booking.md, "The vaccinator's action"):
  markVaccinated-6.lua's rules and writes (lua/includes/vaccination.lua) in one script in the
  account's partition p(A), where the appointment, the beneficiaries and the certificate live (the
  certificate id was drawn to hash to p(A)). The session lives in its own partition and is not
  read: the appointment carries the facts the checks need (centre, date, the day's window), copied
  from the session when it was booked or rescheduled, and the vaccine comes from the engine, read
  with the session whose id the appointment names (a session id fixes its centre, date and
  vaccine, so those facts never change under an appointment). An appointment with a step still
  pending (a booking waiting for its seats, a reschedule in flight) is not vaccinated:
  STALE_APPOINTMENT, and the engine reads again.

  Input:
    KEYS[1] the account's booking hash (AccountKeys.bookingAccount)
    KEYS[2] appointment hash (keys.partitionAppointment)
    KEYS[3] the account partition's outbox stream
    KEYS[4] certificate hash (new; keys.partitionCertificate)
    KEYS[5] the beneficiary's certificates hash (AccountKeys.beneficiaryCertificates)

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
    ARGV[14] the session's vaccine

  Output:
    {Status.OK, dose, vaccine, session date (epoch day), certificate id}   (as markVaccinated-6.lua)
    {Status.APPOINTMENT_NOT_FOUND}    missing, or at a centre the vaccinator does not work at
    {Status.STALE_APPOINTMENT}        moved since read, a step still pending, the beneficiary changed
                                      since the certificate was made, or no certificate came: read again
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

local appointmentKey = KEYS[2]
local appointmentId, beneficiaryId, expectedSessionId = ARGV[1], ARGV[2], ARGV[3]

local appointment = readAppointment(appointmentKey)
if not appointment then return { Status.APPOINTMENT_NOT_FOUND } end
local facts = rcall('HMGET', appointmentKey, 'pending', 'center_id', 'date', 'day_start', 'day_end')
if appointment.session_id ~= expectedSessionId or facts[1] then return { Status.STALE_APPOINTMENT } end

return recordVaccination(
  { account = KEYS[1], appointment = appointmentKey, outbox = KEYS[3], certificate = KEYS[4], certificates = KEYS[5] },
  {
    appointment_id = appointmentId, beneficiary_id = beneficiaryId, now = tonumber(ARGV[4]), vaccinator_id = ARGV[5],
    code = ARGV[6], max_wrong = tonumber(ARGV[7]), vaccinator_centers = ARGV[8], expected_version = tonumber(ARGV[9]),
    certificate_id = ARGV[10], jws = ARGV[11], kid = ARGV[12], rid = ARGV[13],
  },
  appointment,
  { center_id = facts[2], date = tonumber(facts[3]), vaccine = ARGV[14], day_start = tonumber(facts[4]), day_end = tonumber(facts[5]) }
)
