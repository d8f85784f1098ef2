--[[
  Remember the answer to the captcha just shown to an account (only the latest counts).

  Input:
    KEYS[1] captcha answer of the account

    ARGV[1] sha256 hex of the answer, lower-cased
    ARGV[2] how long the captcha can be answered, ms

  Output:
    {Status.OK}
]]
local rcall = redis.call
rcall('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return { Status.OK }
