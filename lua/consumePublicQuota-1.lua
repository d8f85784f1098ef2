--[[
  Count one call to the public (unauthenticated) API against the caller's address: at most
  `maxCalls` per fixed window that starts at the first call. A refused call does not count.

  Input:
    KEYS[1] per-address counter

    ARGV[1] window, ms
    ARGV[2] calls allowed in the window

  Output:
    {Status.OK, calls left, ms until the window resets}
    {Status.RATE_LIMITED, ms until the window resets}
]]
local rcall = redis.call

local counterKey = KEYS[1]
local windowMs, maxCalls = tonumber(ARGV[1]), tonumber(ARGV[2])

local calls = tonumber(rcall('GET', counterKey) or '0')
if calls >= maxCalls then return { Status.RATE_LIMITED, rcall('PTTL', counterKey) } end

-- the check passed: write
if rcall('INCR', counterKey) == 1 then rcall('PEXPIRE', counterKey, windowMs) end
return { Status.OK, maxCalls - calls - 1, rcall('PTTL', counterKey) }
