--[[
  Confirm a login OTP and open the account's login session. The pending OTP is single-use; wrong
  answers count, and after `maxAttempts` the OTP is discarded. A successful login replaces any
  earlier login session, which revokes the token issued with it (one live login per mobile).
  Other OTPs pending for the same mobile (asked for from other addresses) are left alone: each is
  confirmed or discarded under its own txnId.

  Input:
    KEYS[1] pending OTP hash of the txnId
    KEYS[2] login session hash
    KEYS[3] block marker

    ARGV[1] sha256 hex of the OTP as the client computed it
    ARGV[2] now, ms since epoch
    ARGV[3] new login session id (goes into the token)
    ARGV[4] wrong answers allowed
    ARGV[5] login session lifetime, ms (the token's lifetime)

  Output:
    {Status.OK}
    {Status.INVALID_OTP}            wrong, expired, already used or unknown txnId
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
]]
local rcall = redis.call

local pendingKey, authKey, blockedKey = KEYS[1], KEYS[2], KEYS[3]
local otpHash, now, sid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local maxAttempts, sessionTtl = tonumber(ARGV[4]), ARGV[5]

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end

local otp = rcall('HMGET', pendingKey, 'hash', 'expires_at', 'attempts')
if not otp[1] or now >= tonumber(otp[2]) then return { Status.INVALID_OTP } end
if otp[1] ~= otpHash then
  if tonumber(otp[3]) + 1 >= maxAttempts then
    rcall('DEL', pendingKey)
  else
    rcall('HINCRBY', pendingKey, 'attempts', 1)
  end
  return { Status.INVALID_OTP }
end

-- every check passed: write
rcall('DEL', pendingKey)
rcall('DEL', authKey)
rcall('HSET', authKey, 'sid', sid, 'since', now)
rcall('PEXPIRE', authKey, sessionTtl)
return { Status.OK }
