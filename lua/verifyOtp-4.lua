--[[
  Confirm a login OTP and open the account's login session. The pending OTP is single-use; wrong
  answers count, and after `maxAttempts` the OTP is discarded. A successful login replaces any
  earlier login session, which revokes the token issued with it (one live login per mobile): the
  replaced session id goes to the revocation stream, so every gateway refuses its token from memory.
  Other OTPs pending for the same mobile (asked for from other addresses) are left alone: each is
  confirmed or discarded under its own txnId.
  Every key is in the account's partition: the engine found the account from the txnId record first
  (a txnId whose OTP was never issued, the gate passed but the issue refused or never ran, finds no
  pending OTP here and fails as an unknown one).

  Input:
    KEYS[1] pending OTP hash of the txnId
    KEYS[2] login session hash
    KEYS[3] block marker
    KEYS[4] the login revocation stream of the account's partition (followed by every gateway thread)

    ARGV[1] sha256 hex of the OTP as the client computed it
    ARGV[2] now, ms since epoch
    ARGV[3] new login session id (goes into the token)
    ARGV[4] wrong answers allowed
    ARGV[5] login session lifetime, ms (the token's lifetime)
    ARGV[6] revocation stream cap (MAXLEN ~)

  Output:
    {Status.OK, the login session id this login replaced, or ''}
    {Status.INVALID_OTP}            wrong, expired, already used or unknown txnId
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
]]
local rcall = redis.call
--- @include "includes/revokeLogin"

local pendingKey, authKey, blockedKey, revocationsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local otpHash, now, sid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local maxAttempts, sessionTtl, revocationsCap = tonumber(ARGV[4]), ARGV[5], ARGV[6]

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
local replaced = rcall('HGET', authKey, 'sid') or ''
rcall('DEL', pendingKey)
rcall('DEL', authKey)
rcall('HSET', authKey, 'sid', sid, 'since', now)
rcall('PEXPIRE', authKey, sessionTtl)
if replaced ~= '' then revokeLogin(revocationsKey, replaced, now, revocationsCap) end
return { Status.OK, replaced }
