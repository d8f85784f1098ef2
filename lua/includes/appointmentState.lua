--[[
  Read an appointment hash into a table, and describe it for the outbox.
  `bens` is the ordered list of beneficiary ids; `status[id]` is booked, cancelled or vaccinated;
  `code[id]` is the beneficiary's security code (nil for an appointment booked before codes existed).
  Every appointment event carries the codes, so whichever version of the appointment reaches
  PostgreSQL first has them.
]]
local function readAppointment(appointmentKey)
  local v = rcall('HMGET', appointmentKey, 'account_id', 'session_id', 'slot', 'dose', 'bens', 'version', 'created_at')
  if not v[1] then return nil end
  local appointment = {
    account_id = v[1], session_id = v[2], slot = v[3], dose = tonumber(v[4]),
    version = tonumber(v[6]), created_at = tonumber(v[7]), bens = {}, status = {}, code = {},
  }
  for id in string.gmatch(v[5], '[^,]+') do
    appointment.bens[#appointment.bens + 1] = id
    local b = rcall('HMGET', appointmentKey, 'status:' .. id, 'code:' .. id)
    appointment.status[id] = b[1]
    appointment.code[id] = b[2] or nil
  end
  return appointment
end

local function appointmentEvent(appointmentId, appointment, action, now)
  local beneficiaries = {}
  for i, id in ipairs(appointment.bens) do
    beneficiaries[i] = { id = id, status = appointment.status[id], security_code = appointment.code[id] }
  end
  return {
    appointment_id = appointmentId, account_id = appointment.account_id, session_id = appointment.session_id,
    slot = appointment.slot, dose = appointment.dose, version = appointment.version, action = action, at = now,
    created_at = appointment.created_at, beneficiaries = beneficiaries,
  }
end

-- The beneficiaries still booked on an appointment read by readAppointment.
local function liveBeneficiaries(appointment)
  local live = {}
  for _, id in ipairs(appointment.bens) do
    if appointment.status[id] == 'booked' then live[#live + 1] = id end
  end
  return live
end

-- The beneficiaries a cancel names (`named`, each counted once), or every one still booked when it
-- names none. Returns the list, or nil and the refusal.
local function cancelTargets(appointment, named)
  if #named == 0 then return liveBeneficiaries(appointment) end
  local targets, seen = {}, {}
  for _, id in ipairs(named) do
    if not appointment.status[id] then return nil, { Status.BENEFICIARY_NOT_FOUND, id } end
    if appointment.status[id] ~= 'booked' then return nil, { Status.APPOINTMENT_NOT_ACTIVE } end
    if not seen[id] then
      seen[id] = true
      targets[#targets + 1] = id
    end
  end
  return targets
end

-- Point a beneficiary's dose at another appointment (or at none: '' and day 0), but only while it
-- still points at `fromAppointmentId`: a later booking of the same dose keeps its pointer.
local function repointDose(accountKey, id, dose, fromAppointmentId, toAppointmentId, toDay)
  local raw = rcall('HGET', accountKey, 'ben:' .. id)
  if not raw then return end
  local ben = cjson.decode(raw)
  if ben['appt' .. dose] ~= fromAppointmentId then return end
  ben['appt' .. dose] = toAppointmentId
  ben['appt' .. dose .. '_day'] = toDay
  rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
end

-- Cancel `targets` (from cancelTargets) on the appointment: their status, their dose pointers, and
-- the appointment's version, which names the outbox entry the caller then appends.
local function cancelBeneficiaries(accountKey, appointmentKey, appointmentId, appointment, targets)
  for _, id in ipairs(targets) do
    appointment.status[id] = 'cancelled'
    rcall('HSET', appointmentKey, 'status:' .. id, 'cancelled')
    repointDose(accountKey, id, appointment.dose, appointmentId, '', 0)
  end
  appointment.version = rcall('HINCRBY', appointmentKey, 'version', 1)
end
