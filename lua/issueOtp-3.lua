--[[
  Issue a login OTP for a mobile (its account). One OTP is pending at a time; a new one only after
  the resend cooldown; at most `maxPerDay` per 24 h, and the request after that blocks the account.
  Test numbers (non-production only) skip the cooldown and the daily count, never the block.

  Input:
    KEYS[1] pending OTP hash
    KEYS[2] OTPs-of-the-day counter
    KEYS[3] block marker

    ARGV[1] txnId (returned to the client, sent back with the answer)
    ARGV[2] sha256 hex of the OTP (the client sends the same hash)
    ARGV[3] now, ms since epoch
    ARGV[4] OTP validity, ms
    ARGV[5] resend cooldown, ms
    ARGV[6] OTPs allowed per day
    ARGV[7] day window, ms
    ARGV[8] block duration, ms
    ARGV[9] '1' for a configured test number, else '0'

  Output:
    {Status.OK, OTPs left today}
    {Status.OTP_COOLDOWN, ms until a new OTP can be issued}
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
]]
local rcall = redis.call

local otpKey, otpDayKey, blockedKey = KEYS[1], KEYS[2], KEYS[3]
local txnId, otpHash, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local validity, cooldown, maxPerDay = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local dayWindow, blockFor, isTestNumber = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end

local issuedToday = tonumber(rcall('GET', otpDayKey) or '0')
if not isTestNumber then
  local issuedAt = tonumber(rcall('HGET', otpKey, 'issued_at') or '0')
  if issuedAt > 0 and now - issuedAt < cooldown then return { Status.OTP_COOLDOWN, cooldown - (now - issuedAt) } end
  if issuedToday >= maxPerDay then
    rcall('SET', blockedKey, 'otp', 'PX', blockFor)
    rcall('DEL', otpKey)
    return { Status.ACCOUNT_BLOCKED, blockFor }
  end
end

-- every check passed: write
if not isTestNumber then
  if rcall('INCR', otpDayKey) == 1 then rcall('PEXPIRE', otpDayKey, dayWindow) end
  issuedToday = issuedToday + 1
end
rcall('DEL', otpKey)
rcall('HSET', otpKey, 'txn', txnId, 'hash', otpHash, 'issued_at', now, 'expires_at', now + validity, 'attempts', 0)
rcall('PEXPIRE', otpKey, math.max(validity, cooldown))
return { Status.OK, maxPerDay - issuedToday }
