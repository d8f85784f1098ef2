--[[
  Register a partner, or change one (an admin does): its name, contact, scopes, limits and whether
  it is active or suspended. A change to an existing partner is appended to the partner stream, so
  every gateway thread forgets the keys it had verified for it and reads the new scopes and limits
  (or refuses a suspended partner) from the next call on.

  Input:
    KEYS[1] partner hash
    KEYS[2] partner index (sorted set of partner ids by registration time)
    KEYS[3] partner stream (revocations and changes, followed by every gateway thread)

    ARGV[1] partner id
    ARGV[2] name
    ARGV[3] contact
    ARGV[4] scopes, comma-separated (availability, booking)
    ARGV[5] calls allowed per minute
    ARGV[6] calls allowed per day
    ARGV[7] status: active or suspended
    ARGV[8] now, ms since epoch
    ARGV[9] the admin registering it (for the record)
    ARGV[10] partner stream cap (MAXLEN ~)

  Output:
    {Status.OK, version of the partner record, 1 when registered now / 0 when changed}
]]
local rcall = redis.call

local partnerKey, indexKey, streamKey = KEYS[1], KEYS[2], KEYS[3]
local partnerId, name, contact, scopes = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local perMinute, perDay, status = ARGV[5], ARGV[6], ARGV[7]
local now, by, streamCap = tonumber(ARGV[8]), ARGV[9], ARGV[10]

local version = tonumber(rcall('HGET', partnerKey, 'version') or '0') + 1
local created = version == 1 and 1 or 0
if created == 1 then
  rcall('HSET', partnerKey, 'created_at', now)
  rcall('ZADD', indexKey, now, partnerId)
end
rcall('HSET', partnerKey, 'name', name, 'contact', contact, 'scopes', scopes, 'per_minute', perMinute,
  'per_day', perDay, 'status', status, 'updated_at', now, 'updated_by', by, 'version', version)
if created == 0 then
  rcall('XADD', streamKey, 'MAXLEN', '~', streamCap, '*', 'p', partnerId, 'at', now)
end
return { Status.OK, version, created }
