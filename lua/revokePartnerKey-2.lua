--[[
  Revoke one API key of a partner: refused from now on. The revocation is appended to the partner
  stream in the same step, so every gateway thread drops the key from its memory of verified keys
  within the stream's delay (the thread that ran this script at once). The record stays (who issued
  and revoked it, and when).

  Input:
    KEYS[1] the key's hash
    KEYS[2] partner stream (revocations and changes, followed by every gateway thread)

    ARGV[1] partner id
    ARGV[2] key id
    ARGV[3] now, ms since epoch
    ARGV[4] the admin revoking it (for the record)
    ARGV[5] partner stream cap (MAXLEN ~)

  Output:
    {Status.OK, 1 when revoked now / 0 when it was revoked already}
    {Status.PARTNER_KEY_NOT_FOUND}
]]
local rcall = redis.call

local keyKey, streamKey = KEYS[1], KEYS[2]
local partnerId, keyId, now, by, streamCap = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]

local status = rcall('HGET', keyKey, 'status')
if not status then return { Status.PARTNER_KEY_NOT_FOUND } end
if status == 'revoked' then return { Status.OK, 0 } end

-- every check passed: write
rcall('HSET', keyKey, 'status', 'revoked', 'revoked_at', now, 'revoked_by', by)
rcall('XADD', streamKey, 'MAXLEN', '~', streamCap, '*', 'p', partnerId, 'k', keyId, 'at', now)
return { Status.OK, 1 }
