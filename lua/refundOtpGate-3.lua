--[[
  Give back what passOtpGate counted for an OTP the account then refused (engine.issueOtp), so a
  refused request counts toward no limit: the address's window (only the window it was counted in:
  a newer window owes nothing) and the country's minute, and drop the txnId record.

  Input:
    KEYS[1] OTP window hash of the address
    KEYS[2] country-wide OTP counter of the minute the OTP was counted in
    KEYS[3] txnId record

    ARGV[1] when the address window the OTP was counted in opened, as passOtpGate answered
            ('' for a test number: nothing was counted)

  Output:
    {Status.OK}
]]
local rcall = redis.call

local addressKey, countryKey, txnKey = KEYS[1], KEYS[2], KEYS[3]
local countedSince = ARGV[1]

if countedSince ~= '' then
  if rcall('HGET', addressKey, 'since') == countedSince then
    -- the window opened with this very OTP: as if it had never been asked for
    if rcall('HINCRBY', addressKey, 'count', -1) <= 0 then rcall('DEL', addressKey) end
  end
  if tonumber(rcall('GET', countryKey) or '0') > 0 then rcall('DECR', countryKey) end
end
rcall('DEL', txnKey)
return { Status.OK }
