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
    KEYS[6] the account's partition's set of accounts whose daily quotas changed (the worker's snapshot reads it)

    ARGV[1] login session id from the token
    ARGV[2] now, ms since epoch
    ARGV[3] short window, ms
    ARGV[4] searches allowed in the short window
    ARGV[5] day window, ms
    ARGV[6] searches allowed in the day window
    ARGV[7] block duration, ms
    ARGV[8] revocation stream cap (MAXLEN ~)
    ARGV[9] account id (a block names it in the revocation stream; a daily quota's change, in KEYS[6])

  Output:
    {Status.OK, searches left in the short window, ms until it ends, searches left today}
    {Status.QUOTA_LOGOUT, ms until the short window ends}   one too many: logged out
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
    {Status.UNAUTHENTICATED}              the token's login session was revoked or replaced
]]
local rcall = redis.call
--- @include "includes/searchQuota"

return consumeSearch(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], ARGV[1], ARGV[9], {
  now = tonumber(ARGV[2]),
  windowMs = tonumber(ARGV[3]), windowMax = tonumber(ARGV[4]),
  dayMs = tonumber(ARGV[5]), dayMax = tonumber(ARGV[6]), blockFor = tonumber(ARGV[7]),
  revocationsCap = ARGV[8],
})
