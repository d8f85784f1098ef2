--[[
  Issue a login OTP for a mobile (its account), asked for from one client address.

  Every limit is checked before the first write, and a refused request counts toward none of them:
  - the account is not blocked. Only too many searches block an account (consumeSearchQuota): an
    OTP request never does, so nobody can lock a citizen out of their own number by asking for OTPs;
  - per requester (this mobile asked for from this address): a new OTP only after the resend
    cooldown, and at most `requesterMax` in a day window that opens with the first. A stranger's
    requests fill the stranger's own record, never the cooldown or the count of the owner's;
  - per address (any mobile): at most `addressMax` in a window that opens with the first;
  - the whole country: at most `countryMax` in the current clock minute (what the SMS provider takes).
  Test numbers (non-production only) send no SMS: they skip all of these, never the block.

  Each OTP is pending under its own txnId, so a newer OTP (a stranger's) never replaces the owner's.
  The txnId is a plain UUID, as CoWIN's was; KEYS[6] tells confirmOTP which account it belongs to.

  Input:
    KEYS[1] pending OTP hash of this txnId (new)
    KEYS[2] requester record hash (this mobile from this address): last issue, day window
    KEYS[3] block marker of the account
    KEYS[4] OTP window hash of this address
    KEYS[5] country-wide OTP counter of the current minute (a hot key: one INCR per issued OTP)
    KEYS[6] txnId record (new): the account the txnId belongs to (and its mobile's last 4 digits)

    ARGV[1] sha256 hex of the OTP (the client sends the same hash with the txnId)
    ARGV[2] now, ms since epoch
    ARGV[3] OTP validity, ms
    ARGV[4] resend cooldown, ms
    ARGV[5] OTPs allowed per requester in its day window
    ARGV[6] requester day window, ms
    ARGV[7] OTPs allowed per address in its window
    ARGV[8] address window, ms
    ARGV[9] OTPs allowed per minute in the whole country
    ARGV[10] ms since epoch when the current minute ends
    ARGV[11] '1' for a configured test number, else '0'
    ARGV[12] the txnId record's value: `<account id>|<the mobile's last 4 digits>`

  Output:
    {Status.OK, OTPs this requester has left in its day window}
    {Status.ACCOUNT_BLOCKED, ms until the block lifts}
    {Status.OTP_COOLDOWN, ms until this requester can have a new OTP}
    {Status.OTP_REQUESTER_LIMIT, ms until the requester's day window ends}
    {Status.OTP_ADDRESS_LIMIT, ms until the address's window ends}
    {Status.OTP_COUNTRY_LIMIT, ms until the minute ends}
]]
local rcall = redis.call
--- @include "includes/fixedWindow"

local pendingKey, requesterKey, blockedKey, addressKey, countryKey, txnKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local otpHash, now, validity, cooldown = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local requesterMax, requesterWindow = tonumber(ARGV[5]), tonumber(ARGV[6])
local addressMax, addressWindow = tonumber(ARGV[7]), tonumber(ARGV[8])
local countryMax, minuteEndsAt, isTestNumber, txnRecord = tonumber(ARGV[9]), tonumber(ARGV[10]), ARGV[11] == '1', ARGV[12]

local blockedFor = rcall('PTTL', blockedKey)
if blockedFor > 0 then return { Status.ACCOUNT_BLOCKED, blockedFor } end

local requested, addressed = 0, 0
if not isTestNumber then
  local lastIssued = tonumber(rcall('HGET', requesterKey, 'last') or '0')
  if lastIssued > 0 and now - lastIssued < cooldown then return { Status.OTP_COOLDOWN, cooldown - (now - lastIssued) } end
  local requesterLeftMs
  requested, requesterLeftMs = windowCount(requesterKey, now, requesterWindow)
  if requested >= requesterMax then return { Status.OTP_REQUESTER_LIMIT, requesterLeftMs } end
  local addressLeftMs
  addressed, addressLeftMs = windowCount(addressKey, now, addressWindow)
  if addressed >= addressMax then return { Status.OTP_ADDRESS_LIMIT, addressLeftMs } end
  if tonumber(rcall('GET', countryKey) or '0') >= countryMax then return { Status.OTP_COUNTRY_LIMIT, minuteEndsAt - now } end
end

-- every check passed: write
if not isTestNumber then
  requested = windowAdd(requesterKey, now, requesterWindow, requested)
  rcall('HSET', requesterKey, 'last', now)
  windowAdd(addressKey, now, addressWindow, addressed)
  -- the key lives a little past its minute: it is named by the minute, so it is never reused
  if rcall('INCR', countryKey) == 1 then rcall('PEXPIRE', countryKey, 120000) end
end
rcall('HSET', pendingKey, 'hash', otpHash, 'expires_at', now + validity, 'attempts', 0)
rcall('PEXPIRE', pendingKey, validity)
rcall('SET', txnKey, txnRecord, 'PX', validity)
return { Status.OK, requesterMax - requested }
