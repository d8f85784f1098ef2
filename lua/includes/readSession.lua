--[[
  Read the fields of a session hash that booking decisions need, plus the counters of one slot.
  Returns nil when the session does not exist. Numbers come back as numbers; `slotCap` is nil when
  `slot` is not one of the session's slots.
]]
local function readSession(sessionKey, slot)
  local v = rcall('HMGET', sessionKey, 'center_id', 'date', 'year', 'vaccine', 'min_age', 'max_age',
    'allow_all_age', 'cap1', 'cap2', 'booked1', 'booked2', 'opens_at', 'cutoff_at', 'day_start', 'day_end',
    'dose2_after', 'precaution_after', 'status', 'slotcap:' .. slot, 'slotbooked:' .. slot)
  if not v[1] then return nil end
  return {
    center_id = v[1], date = tonumber(v[2]), year = tonumber(v[3]), vaccine = v[4],
    min_age = tonumber(v[5]), max_age = tonumber(v[6]), allow_all_age = v[7] == '1',
    cap1 = tonumber(v[8]), cap2 = tonumber(v[9]), booked1 = tonumber(v[10]), booked2 = tonumber(v[11]),
    opens_at = tonumber(v[12]), cutoff_at = tonumber(v[13]), day_start = tonumber(v[14]), day_end = tonumber(v[15]),
    dose2_after = tonumber(v[16]), precaution_after = tonumber(v[17]), status = v[18],
    slotCap = tonumber(v[19]), slotBooked = tonumber(v[20] or '0'),
  }
end

-- Why a new booking into `session` is not allowed at `now`, or nil when it is.
local function bookingWindowProblem(session, now)
  if session.status ~= 'open' or now < session.opens_at then return Status.SESSION_NOT_OPEN end
  if now >= session.cutoff_at then return Status.BOOKING_CLOSED end
  return nil
end

