--[[
  Tell every gateway that a login session (the `sid` in its tokens) has ended: a new login replaced
  it, a quota logout, or a block. Gateways follow this capped stream and refuse the tokens from
  memory, so the booking and search paths need no Redis read for the login (gateway/revocations.ts).
  Entry fields: s the revoked login session id, t when (ms since epoch, the engine's clock).
]]
local function revokeLogin(revocationsKey, sid, now, maxLen)
  rcall('XADD', revocationsKey, 'MAXLEN', '~', maxLen, '*', 's', sid, 't', now)
end
