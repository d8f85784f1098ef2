--[[
  Tell every gateway that a login session (the `sid` in its tokens) has ended: a new login replaced
  it, a quota logout, or a block. Gateways follow this capped stream and refuse the tokens from
  memory, so the booking and search paths need no Redis read for the login (gateway/revocations.ts).
  For a block, the account and the instant the block ends come too: every gateway then answers the
  account's searches as blocked until then, without a script.
  Entry fields: s the ended login session id, t when (ms since epoch, the engine's clock), and for a
  block a the account id, b when the block ends (same clock).
]]
local function revokeLogin(revocationsKey, sid, now, maxLen, blockedAccount, blockedUntil)
  if blockedAccount then
    rcall('XADD', revocationsKey, 'MAXLEN', '~', maxLen, '*', 's', sid, 't', now, 'a', blockedAccount, 'b', blockedUntil)
  else
    rcall('XADD', revocationsKey, 'MAXLEN', '~', maxLen, '*', 's', sid, 't', now)
  end
end
