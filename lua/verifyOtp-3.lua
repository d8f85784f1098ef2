--[[
  Confirm a login OTP and open the account's login session. The pending OTP is single-use; wrong
  answers count, and after `maxAttempts` the OTP is discarded. A successful login replaces any
  earlier login session, which revokes the token issued with it (one live login per mobile).

  Input:
    KEYS[1] pending OTP hash
    KEYS[2] login session hash
    KEYS[3] block marker

    ARGV[1] txnId from issueOtp
    ARGV[2] sha256 hex of the OTP as the client computed it
    ARGV[3] now, ms since epoch
    ARGV[4] new login session id (goes into the token)
    ARGV[5] wrong answers allowed
    ARGV[6] login session lifetime, ms (the token's lifetime)

  Output:
    {Status.OK}
    {Status.INVALID_OTP}            wrong, expired, already used or unknown txnId
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
]]
local rcall = redis.call

local otpKey, authKey, blockedKey = KEYS[1], KEYS[2], KEYS[3]
local txnId, otpHash, now, sid = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local maxAttempts, sessionTtl = tonumber(ARGV[5]), ARGV[6]

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end

local otp = rcall('HMGET', otpKey, 'txn', 'hash', 'expires_at', 'attempts')
if not otp[1] or otp[1] ~= txnId or now >= tonumber(otp[3]) then return { Status.INVALID_OTP } end
if otp[2] ~= otpHash then
  if tonumber(otp[4]) + 1 >= maxAttempts then
    -- keep issued_at so the resend cooldown still holds: only the answer is discarded
    rcall('HDEL', otpKey, 'txn', 'hash')
  else
    rcall('HINCRBY', otpKey, 'attempts', 1)
  end
  return { Status.INVALID_OTP }
end

-- every check passed: write
rcall('HDEL', otpKey, 'txn', 'hash')
rcall('DEL', authKey)
rcall('HSET', authKey, 'sid', sid, 'since', now)
rcall('PEXPIRE', authKey, sessionTtl)
return { Status.OK }
