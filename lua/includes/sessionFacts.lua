--[[
  The partitioned booking (engine/partitioned-booking.md): a script in the account's partition
  cannot read the session, which lives in the session's partition. The engine reads the session
  there and passes its facts as JSON; they come back here as the table readSession gives, so the
  eligibility and window checks are the single-slot scripts' own. The seats step (takeSeats) then
  refuses with SESSION_CHANGED when the session's version is no longer the one these facts had.
  JSON: {center_id, date, year, vaccine, min_age, max_age, allow_all_age (0/1), opens_at, cutoff_at,
  day_start, day_end, dose2_after, precaution_after, status, version, slot_cap (-1: no such slot)};
  '' when the session does not exist.
]]
local function sessionFromFacts(json)
  if json == '' then return nil end
  local session = cjson.decode(json)
  session.allow_all_age = session.allow_all_age == 1
  if session.slot_cap >= 0 then session.slotCap = session.slot_cap end
  return session
end
