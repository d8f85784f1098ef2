--[[
  Count one protected search against the caller's account, and check the caller's login is still
  live. More than `windowMax` searches in the short window logs the user out (the login session is
  deleted, so the token stops working); more than `dayMax` in the day window blocks the account.
  A refused search does not count. A logout or a block ends the login session and appends its id to
  the revocation stream (a block with the account and its end), so every gateway refuses the token,
  and a blocked account's searches, from memory.

  The short window belongs to the account, not to a login: it opens with the first search and lasts
  `windowMs` whatever happens in between. A logout leaves it as it is, so a new login's searches are
  refused (and logged out again) until the window that was used up has ended.

  Input:
    KEYS[1] login session hash
    KEYS[2] short-window hash (when it opened, searches in it)
    KEYS[3] day-window counter
    KEYS[4] block marker
    KEYS[5] the login revocation stream of the account's partition (followed by every gateway thread)

    ARGV[1] login session id from the token
    ARGV[2] now, ms since epoch
    ARGV[3] short window, ms
    ARGV[4] searches allowed in the short window
    ARGV[5] day window, ms
    ARGV[6] searches allowed in the day window
    ARGV[7] block duration, ms
    ARGV[8] revocation stream cap (MAXLEN ~)
    ARGV[9] account id (a block names it in the revocation stream)

  Output:
    {Status.OK, searches left in the short window, ms until it ends, searches left today}
    {Status.QUOTA_LOGOUT, ms until the short window ends}   one too many: logged out
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
    {Status.UNAUTHENTICATED}              the token's login session was revoked or replaced
]]
local rcall = redis.call
--- @include "includes/fixedWindow"
--- @include "includes/revokeLogin"

local authKey, windowKey, dayKey, blockedKey, revocationsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local sid, now = ARGV[1], tonumber(ARGV[2])
local windowMs, windowMax = tonumber(ARGV[3]), tonumber(ARGV[4])
local dayMs, dayMax, blockFor = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local revocationsCap, accountId = ARGV[8], ARGV[9]

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end
if rcall('HGET', authKey, 'sid') ~= sid then return { Status.UNAUTHENTICATED } end

local today = tonumber(rcall('GET', dayKey) or '0')
if today >= dayMax then
  rcall('SET', blockedKey, 'search', 'PX', blockFor)
  rcall('DEL', authKey)
  revokeLogin(revocationsKey, sid, now, revocationsCap, accountId, now + blockFor)
  return { Status.ACCOUNT_BLOCKED, blockFor }
end
local inWindow, windowLeftMs = windowCount(windowKey, now, windowMs)
if inWindow >= windowMax then
  rcall('DEL', authKey)
  revokeLogin(revocationsKey, sid, now, revocationsCap)
  return { Status.QUOTA_LOGOUT, windowLeftMs }
end

-- every check passed: write
if rcall('INCR', dayKey) == 1 then rcall('PEXPIRE', dayKey, dayMs) end
inWindow = windowAdd(windowKey, now, windowMs, inWindow)
return { Status.OK, windowMax - inWindow, windowLeftMs, dayMax - today - 1 }
