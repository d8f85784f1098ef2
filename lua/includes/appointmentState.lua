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
