--[[
  Issue a login OTP for a mobile (its account), asked for from one client address: the second step
  of engine.issueOtp, on the account's partition, after passOtpGate counted it at the OTP gate.

  Every limit is checked before the first write, and a refused request counts toward none of them
  (the engine gives back what the gate counted: refundOtpGate):
  - the account is not blocked. Only too many searches block an account (consumeSearchQuota): an
    OTP request never does, so nobody can lock a citizen out of their own number by asking for OTPs;
  - per requester (this mobile asked for from this address): a new OTP only after the resend
    cooldown, and at most `requesterMax` in a day window that opens with the first. A stranger's
    requests fill the stranger's own record, never the cooldown or the count of the owner's.
  Test numbers (non-production only) send no SMS: they skip these, never the block.

  Each OTP is pending under its own txnId, so a newer OTP (a stranger's) never replaces the owner's.

  Input:
    KEYS[1] pending OTP hash of this txnId (new)
    KEYS[2] requester record hash (this mobile from this address): last issue, day window
    KEYS[3] block marker of the account

    ARGV[1] sha256 hex of the OTP (the client sends the same hash with the txnId)
    ARGV[2] now, ms since epoch
    ARGV[3] OTP validity, ms
    ARGV[4] resend cooldown, ms
    ARGV[5] OTPs allowed per requester in its day window
    ARGV[6] requester day window, ms
    ARGV[7] '1' for a configured test number, else '0'

  Output:
    {Status.OK, OTPs this requester has left in its day window}
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
    {Status.OTP_COOLDOWN, ms until this requester can have a new OTP}
    {Status.OTP_REQUESTER_LIMIT, ms until the requester's day window ends}
]]
local rcall = redis.call
--- @include "includes/fixedWindow"

local pendingKey, requesterKey, blockedKey = KEYS[1], KEYS[2], KEYS[3]
local otpHash, now, validity, cooldown = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local requesterMax, requesterWindow, isTestNumber = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end

local requested = 0
if not isTestNumber then
  local lastIssued = tonumber(rcall('HGET', requesterKey, 'last') or '0')
  if lastIssued > 0 and now - lastIssued < cooldown then return { Status.OTP_COOLDOWN, cooldown - (now - lastIssued) } end
  local requesterLeftMs
  requested, requesterLeftMs = windowCount(requesterKey, now, requesterWindow)
  if requested >= requesterMax then return { Status.OTP_REQUESTER_LIMIT, requesterLeftMs } end
end

-- every check passed: write
if not isTestNumber then
  requested = windowAdd(requesterKey, now, requesterWindow, requested)
  rcall('HSET', requesterKey, 'last', now)
end
rcall('HSET', pendingKey, 'hash', otpHash, 'expires_at', now + validity, 'attempts', 0)
rcall('PEXPIRE', pendingKey, validity)
return { Status.OK, requesterMax - requested }
