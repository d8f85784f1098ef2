--[[
  Count one protected search against the caller's quota, and check the caller's login is still live.
  More than `windowMax` searches in the short window logs the user out (the login session is
  deleted, so the token stops working); more than `dayMax` in the day window blocks the account.
  A refused search does not count. The short window restarts after a logout.

  Input:
    KEYS[1] login session hash
    KEYS[2] short-window counter
    KEYS[3] day-window counter
    KEYS[4] block marker

    ARGV[1] login session id from the token
    ARGV[2] short window, ms
    ARGV[3] searches allowed in the short window
    ARGV[4] day window, ms
    ARGV[5] searches allowed in the day window
    ARGV[6] block duration, ms

  Output:
    {Status.OK, searches left in the short window, ms until it resets, searches left today}
    {Status.QUOTA_LOGOUT}                 this search was one too many: logged out
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
    {Status.UNAUTHENTICATED}              the token's login session was revoked or replaced
]]
local rcall = redis.call

local authKey, windowKey, dayKey, blockedKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sid = ARGV[1]
local windowMs, windowMax = tonumber(ARGV[2]), tonumber(ARGV[3])
local dayMs, dayMax, blockFor = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end
if rcall('HGET', authKey, 'sid') ~= sid then return { Status.UNAUTHENTICATED } end

local today = tonumber(rcall('GET', dayKey) or '0')
if today >= dayMax then
  rcall('SET', blockedKey, 'search', 'PX', blockFor)
  rcall('DEL', authKey, windowKey)
  return { Status.ACCOUNT_BLOCKED, blockFor }
end
local inWindow = tonumber(rcall('GET', windowKey) or '0')
if inWindow >= windowMax then
  rcall('DEL', authKey, windowKey)
  return { Status.QUOTA_LOGOUT }
end

-- every check passed: write
if rcall('INCR', dayKey) == 1 then rcall('PEXPIRE', dayKey, dayMs) end
if rcall('INCR', windowKey) == 1 then rcall('PEXPIRE', windowKey, windowMs) end
return { Status.OK, windowMax - inWindow - 1, rcall('PTTL', windowKey), dayMax - today - 1 }
