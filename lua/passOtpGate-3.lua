--[[
  The first step of issuing a login OTP (engine.issueOtp): the limits that are not the account's,
  on the OTP gate's slot (`{otp}`). The second step, issueOtp, runs on the account's partition.
  - per address (any mobile): at most `addressMax` in a window that opens with the first;
  - the whole country: at most `countryMax` in the current clock minute (what the SMS provider takes).
  Test numbers (non-production only) send no SMS: they skip both, and only get their txnId record.

  A refused request counts toward neither. A passed one counts one OTP toward both and records the
  txnId (a plain UUID, as CoWIN's was) with the account it is for, so that confirmOTP can find the
  account's partition. When the account then refuses (blocked, cooldown, its requester limit), the
  engine gives both counts back and drops the record (refundOtpGate). When the engine stops between
  the steps (a crash, Redis unreachable), the counts stay (one OTP counted that was never sent, which
  only makes a limit stricter) and the record points at an OTP that was never issued: confirming it
  finds no pending OTP and fails as a wrong txnId does.

  Input:
    KEYS[1] OTP window hash of this address
    KEYS[2] country-wide OTP counter of the current minute (a hot key: one INCR per issued OTP)
    KEYS[3] txnId record (new): the account the txnId belongs to (and its mobile's last 4 digits)

    ARGV[1] now, ms since epoch
    ARGV[2] OTP validity, ms (the txnId record's lifetime)
    ARGV[3] OTPs allowed per address in its window
    ARGV[4] address window, ms
    ARGV[5] OTPs allowed per minute in the whole country
    ARGV[6] ms since epoch when the current minute ends
    ARGV[7] '1' for a configured test number, else '0'
    ARGV[8] the txnId record's value: `<account id>|<the mobile's last 4 digits>`

  Output:
    {Status.OK, when the address window this OTP was counted in opened ('' for a test number)}
    {Status.OTP_ADDRESS_LIMIT, ms until the address's window ends}
    {Status.OTP_COUNTRY_LIMIT, ms until the minute ends}
]]
local rcall = redis.call
--- @include "includes/fixedWindow"

local addressKey, countryKey, txnKey = KEYS[1], KEYS[2], KEYS[3]
local now, validity = tonumber(ARGV[1]), tonumber(ARGV[2])
local addressMax, addressWindow = tonumber(ARGV[3]), tonumber(ARGV[4])
local countryMax, minuteEndsAt, isTestNumber, txnRecord = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8]

local countedSince = ''
if not isTestNumber then
  local addressed, addressLeftMs = windowCount(addressKey, now, addressWindow)
  if addressed >= addressMax then return { Status.OTP_ADDRESS_LIMIT, addressLeftMs } end
  if tonumber(rcall('GET', countryKey) or '0') >= countryMax then return { Status.OTP_COUNTRY_LIMIT, minuteEndsAt - now } end

  -- every check passed: write
  windowAdd(addressKey, now, addressWindow, addressed)
  countedSince = rcall('HGET', addressKey, 'since')
  -- the key lives a little past its minute: it is named by the minute, so it is never reused
  if rcall('INCR', countryKey) == 1 then rcall('PEXPIRE', countryKey, 120000) end
end
rcall('SET', txnKey, txnRecord, 'PX', validity)
return { Status.OK, countedSince }
