--[[
  Count one call of a partner against both its limits at once: at most `perMinute` calls in a
  minute window and `perDay` in a day window, each a fixed window that opens with its first call
  (includes/fixedWindow, timed by the engine's clock). A call either counts in both windows or, when
  either is used up, in neither: a refused call does not count.

  Input:
    KEYS[1] the partner's minute window (hash)
    KEYS[2] the partner's day window (hash)

    ARGV[1] now, ms since epoch
    ARGV[2] minute window, ms
    ARGV[3] calls allowed in the minute window
    ARGV[4] day window, ms
    ARGV[5] calls allowed in the day window

  Output: (the counts include this call when it was allowed)
    {Status.OK, calls in the minute window, ms until it ends, calls in the day window, ms until it ends}
    {Status.PARTNER_RATE_LIMITED, the same four numbers}
]]
local rcall = redis.call
--- @include "includes/fixedWindow"

local minuteKey, dayKey = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local minuteMs, perMinute = tonumber(ARGV[2]), tonumber(ARGV[3])
local dayMs, perDay = tonumber(ARGV[4]), tonumber(ARGV[5])

local inMinute, minuteLeftMs = windowCount(minuteKey, now, minuteMs)
local inDay, dayLeftMs = windowCount(dayKey, now, dayMs)
if inMinute >= perMinute or inDay >= perDay then
  return { Status.PARTNER_RATE_LIMITED, inMinute, minuteLeftMs, inDay, dayLeftMs }
end

-- every check passed: write
inMinute = windowAdd(minuteKey, now, minuteMs, inMinute)
inDay = windowAdd(dayKey, now, dayMs, inDay)
return { Status.OK, inMinute, minuteLeftMs, inDay, dayLeftMs }
