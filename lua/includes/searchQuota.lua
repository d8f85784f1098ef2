--[[
  One protected search counted against one account (consumeSearchQuota, and each search of a
  coalesced batch in consumeSearchQuotas): the rules are written once, here.
  `q` holds the quota's settings: now, windowMs, windowMax, dayMs, dayMax, blockFor, revocationsCap.
  A change of a daily quota (the day's count, a block) names the account in the partition's
  `changesKey` set, which the worker's quota snapshot reads instead of scanning every key.
  Returns the script's reply for this search (see consumeSearchQuota-6.lua).
]]
--- @include "includes/fixedWindow"
--- @include "includes/revokeLogin"

local function consumeSearch(authKey, windowKey, dayKey, blockedKey, revocationsKey, changesKey, sid, accountId, q)
  local blockedFor = rcall('PTTL', blockedKey)
  if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end
  if rcall('HGET', authKey, 'sid') ~= sid then return { Status.UNAUTHENTICATED } end

  local today = tonumber(rcall('GET', dayKey) or '0')
  if today >= q.dayMax then
    rcall('SET', blockedKey, 'search', 'PX', q.blockFor)
    rcall('SADD', changesKey, accountId)
    rcall('DEL', authKey)
    revokeLogin(revocationsKey, sid, q.now, q.revocationsCap, accountId, q.now + q.blockFor)
    return { Status.ACCOUNT_BLOCKED, q.blockFor }
  end
  local inWindow, windowLeftMs = windowCount(windowKey, q.now, q.windowMs)
  if inWindow >= q.windowMax then
    rcall('DEL', authKey)
    revokeLogin(revocationsKey, sid, q.now, q.revocationsCap)
    return { Status.QUOTA_LOGOUT, windowLeftMs }
  end

  -- every check passed: write
  if rcall('INCR', dayKey) == 1 then rcall('PEXPIRE', dayKey, q.dayMs) end
  rcall('SADD', changesKey, accountId)
  inWindow = windowAdd(windowKey, q.now, q.windowMs, inWindow)
  return { Status.OK, q.windowMax - inWindow, windowLeftMs, q.dayMax - today - 1 }
end
