--[[
  Recording a dose and issuing its certificate, the rules both layouts share: markVaccinated-6.lua
  (the single-slot layout, the session read from its hash) and recordVaccination-5.lua (the
  partitioned layout, where the appointment carries its session's facts). See markVaccinated-6.lua
  for what each check means; needs includes/appointmentState and includes/appendOutbox.

  k: {account, appointment, outbox, certificate, certificates} keys
  v: {appointment_id, beneficiary_id, now, vaccinator_id, code, max_wrong, vaccinator_centers,
      expected_version, certificate_id, jws, kid, rid}
  appointment: as readAppointment gives it
  facts: the appointment's session {center_id (text), date, vaccine, day_start, day_end}
]]
local function recordVaccination(k, v, appointment, facts)
  local centerId = facts.center_id
  if not centerId or not string.find(',' .. v.vaccinator_centers .. ',', ',' .. centerId .. ',', 1, true) then
    return { Status.APPOINTMENT_NOT_FOUND }
  end
  local beneficiaryId = v.beneficiary_id
  local status = appointment.status[beneficiaryId]
  if not status then return { Status.BENEFICIARY_NOT_FOUND, beneficiaryId } end
  if status ~= 'booked' then return { Status.APPOINTMENT_NOT_ACTIVE } end

  local date, vaccine = facts.date, facts.vaccine
  if v.now < facts.day_start or v.now >= facts.day_end then return { Status.NOT_VACCINATION_DAY } end

  local wrongSoFar = tonumber(rcall('HGET', k.appointment, 'code_tries') or '0')
  if wrongSoFar >= v.max_wrong then return { Status.SECURITY_CODE_LOCKED } end

  local raw = rcall('HGET', k.account, 'ben:' .. beneficiaryId)
  if not raw then return { Status.BENEFICIARY_NOT_FOUND, beneficiaryId } end

  -- the last check: a wrong code is counted (the only write of a refusal)
  local code = appointment.code[beneficiaryId]
  if code and code ~= v.code then
    local wrong = rcall('HINCRBY', k.appointment, 'code_tries', 1)
    return { Status.WRONG_SECURITY_CODE, v.max_wrong - wrong }
  end

  local ben = cjson.decode(raw)
  if (ben.version or 0) ~= v.expected_version or v.certificate_id == '' then return { Status.STALE_APPOINTMENT } end

  -- every check passed: write
  local appointmentId, certificateId = v.appointment_id, v.certificate_id
  local dose = appointment.dose
  ben['dose' .. dose] = date
  ben.vaccine = vaccine
  ben['appt' .. dose] = ''
  ben['appt' .. dose .. '_day'] = 0
  ben.version = (ben.version or 0) + 1
  rcall('HSET', k.account, 'ben:' .. beneficiaryId, cjson.encode(ben))

  appointment.status[beneficiaryId] = 'vaccinated'
  rcall('HSET', k.appointment, 'status:' .. beneficiaryId, 'vaccinated')
  appointment.version = rcall('HINCRBY', k.appointment, 'version', 1)
  local event = appointmentEvent(appointmentId, appointment, 'vaccinated', v.now)
  event.vaccinated_beneficiary_id = beneficiaryId
  event.vaccinator_id = v.vaccinator_id
  appendOutbox(k.outbox, 'appointment:' .. appointmentId .. ':' .. appointment.version, 'appointment', event)
  ben.account_id = appointment.account_id
  appendOutbox(k.outbox, 'beneficiary:' .. beneficiaryId .. ':' .. ben.version, 'beneficiary', ben)

  local certificate = {
    certificate_id = certificateId, beneficiary_id = beneficiaryId, account_id = appointment.account_id,
    appointment_id = appointmentId, dose = dose, vaccine = vaccine, date = date, center_id = tonumber(centerId),
    kid = v.kid, rid = v.rid, jws = v.jws, issued_at = v.now, issued_by = v.vaccinator_id, status = 'issued', version = 1,
  }
  rcall('HSET', k.certificate, 'certificate_id', certificateId, 'beneficiary_id', beneficiaryId,
    'account_id', appointment.account_id, 'appointment_id', appointmentId, 'dose', dose, 'vaccine', vaccine,
    'date', date, 'center_id', centerId, 'kid', v.kid, 'rid', v.rid, 'jws', v.jws, 'issued_at', v.now,
    'issued_by', v.vaccinator_id, 'status', 'issued', 'version', 1)
  rcall('HSET', k.certificates, dose, certificateId)
  appendOutbox(k.outbox, 'certificate:' .. certificateId .. ':1', 'certificate', certificate)

  return { Status.OK, dose, vaccine, date, certificateId }
end
