--[[
  Publish a session's available capacity (dose 1, dose 2), the seats left in each slot whose counter
  just changed (`slots`, a list of labels; empty when none did), and its definition version (a
  reader refetches the session when the version is new to it) to the capped availability stream
  that every gateway thread tails, so searches and WebSocket subscribers see a change within
  milliseconds, and a gateway can refuse a booking into a full dose or slot without Redis.
  The stream is capped (MAXLEN ~) because only the latest value of each session matters.
  Entry fields: s session id, d district, a1 / a2 seats left per dose bucket, v version, and
  `slot:<label>` seats left in that slot.
]]
local function publishAvailability(availabilityKey, sessionKey, sessionId, maxLen, slots)
  local v = rcall('HMGET', sessionKey, 'cap1', 'booked1', 'cap2', 'booked2', 'district_id', 'version')
  local entry = { 's', sessionId, 'd', v[5], 'a1', tonumber(v[1]) - tonumber(v[2]), 'a2', tonumber(v[3]) - tonumber(v[4]), 'v', v[6] }
  for _, label in ipairs(slots) do
    local slot = rcall('HMGET', sessionKey, 'slotcap:' .. label, 'slotbooked:' .. label)
    entry[#entry + 1] = 'slot:' .. label
    entry[#entry + 1] = tonumber(slot[1] or '0') - tonumber(slot[2] or '0')
  end
  rcall('XADD', availabilityKey, 'MAXLEN', '~', maxLen, '*', unpack(entry))
end
