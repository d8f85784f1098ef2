--[[
  Check a captcha answer. Each captcha can be tried once: right or wrong, it is used up, so a bot
  cannot try answers against the same image.

  Input:
    KEYS[1] captcha answer of the account

    ARGV[1] sha256 hex of the given answer, lower-cased

  Output:
    {Status.OK}
    {Status.INVALID_CAPTCHA}     wrong, expired, or none was issued
]]
local rcall = redis.call
local expected = rcall('GET', KEYS[1])
if not expected then return { Status.INVALID_CAPTCHA } end
-- the check is done: use the captcha up
rcall('DEL', KEYS[1])
if expected ~= ARGV[1] then return { Status.INVALID_CAPTCHA } end
return { Status.OK }
