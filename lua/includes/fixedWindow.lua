--[[
  A count over a fixed window that opens with its first count and lasts `windowMs`. It is kept in a
  hash (`since`, `count`) and timed by the caller's `now`, not by the key's TTL, so the window ends
  exactly when the engine's clock says (a test moves time with its clock); the TTL only clears the
  key away afterwards. Other fields of the hash are left alone.
]]

-- The count of the window open at `now` (0 when none is open), and the ms until that window ends
-- (`windowMs` when none is open: a window opened now would last that long).
local function windowCount(key, now, windowMs)
  local window = rcall('HMGET', key, 'since', 'count')
  local since = tonumber(window[1])
  if not since or now >= since + windowMs then return 0, windowMs end
  return tonumber(window[2]) or 0, since + windowMs - now
end

-- Count one more at `now`; `counted` is what windowCount answered for the same `now`. A count of 0
-- opens a new window. Returns the new count.
local function windowAdd(key, now, windowMs, counted)
  if counted == 0 then
    rcall('HSET', key, 'since', now, 'count', 1)
    rcall('PEXPIRE', key, windowMs)
    return 1
  end
  return rcall('HINCRBY', key, 'count', 1)
end
