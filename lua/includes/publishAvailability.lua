--[[
  Publish a session's available capacity (dose 1, dose 2) and definition version (a reader refetches
  the session when the version is new to it) to the capped availability stream that
  every gateway thread tails, so searches and WebSocket subscribers see a change within milliseconds.
  The stream is capped (MAXLEN ~) because only the latest value of each session matters.
]]
local function publishAvailability(availabilityKey, sessionKey, sessionId, maxLen)
  local v = rcall('HMGET', sessionKey, 'cap1', 'booked1', 'cap2', 'booked2', 'district_id', 'version')
  rcall('XADD', availabilityKey, 'MAXLEN', '~', maxLen, '*',
    's', sessionId, 'd', v[5], 'a1', tonumber(v[1]) - tonumber(v[2]), 'a2', tonumber(v[3]) - tonumber(v[4]), 'v', v[6])
end
