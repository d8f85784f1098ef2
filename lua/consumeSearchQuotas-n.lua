--[[
  Several protected searches of accounts in one partition, coalesced into one call (the gateway
  thread's searches that arrived in the same event-loop turn): each is decided on its own, in the
  order given, by the same rules as consumeSearchQuota (includes/searchQuota), so two searches of
  one account in a batch see each other as two calls would. One call pays Redis's per-script cost
  and the client's per-command cost once for the batch.

  Input:
    (any number of keys: ioredis is given their count)
    KEYS[1]   the login revocation stream of the partition
    KEYS[2]   the partition's set of accounts whose daily quotas changed (consumeSearchQuota's KEYS[6])
    KEYS[3..] four per search, in order: login session hash, short-window hash, day-window counter,
              block marker (consumeSearchQuota's KEYS[1..4])

    ARGV[1] now, ms since epoch
    ARGV[2] short window, ms
    ARGV[3] searches allowed in the short window
    ARGV[4] day window, ms
    ARGV[5] searches allowed in the day window
    ARGV[6] block duration, ms
    ARGV[7] revocation stream cap (MAXLEN ~)
    ARGV[8..] two per search, in order: login session id from the token, account id

  Output: one reply per search, in order, each as consumeSearchQuota's.
]]
local rcall = redis.call
--- @include "includes/searchQuota"

local revocationsKey, changesKey = KEYS[1], KEYS[2]
local q = {
  now = tonumber(ARGV[1]),
  windowMs = tonumber(ARGV[2]), windowMax = tonumber(ARGV[3]),
  dayMs = tonumber(ARGV[4]), dayMax = tonumber(ARGV[5]), blockFor = tonumber(ARGV[6]),
  revocationsCap = ARGV[7],
}
local replies = {}
for i = 1, (#KEYS - 2) / 4 do
  local k, a = 3 + 4 * (i - 1), 8 + 2 * (i - 1)
  replies[i] = consumeSearch(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], revocationsKey, changesKey, ARGV[a], ARGV[a + 1], q)
end
return replies
