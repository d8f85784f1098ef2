--[[
  Append one access log entry to the outbox (the worker writes it to PostgreSQL's chained, append-only
  access_log) and, when the reader is an operator or a partner, count the distinct people it read in
  its current window, for the watch on readers who read more people than their work explains. One
  step, so a reader is counted exactly for what the log holds.

  Input:
    KEYS[1] outbox stream
    KEYS[2] the reader's distinct people (hash: `_since` and one field per person)

    ARGV[1] entry id (`access:<uuid>`)
    ARGV[2] the entry (JSON, engine/access-log.ts AccessEntry)
    ARGV[3] now, ms since epoch
    ARGV[4] counting window, ms; 0: the reader is not counted (a citizen, an anonymous caller)
    ARGV[5..] the people the entry names (`beneficiary:<id>`, …)

  Output:
    {Status.OK, distinct people the reader read in its window (0 when not counted)}
]]
local rcall = redis.call

local outboxKey, readerKey = KEYS[1], KEYS[2]
local entryId, data, now, windowMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

rcall('XADD', outboxKey, '*', 'id', entryId, 'kind', 'access', 'data', data)
if windowMs == 0 then return { Status.OK, 0 } end

local since = tonumber(rcall('HGET', readerKey, '_since'))
if not since or now >= since + windowMs then
  rcall('DEL', readerKey)
  rcall('HSET', readerKey, '_since', now)
  rcall('PEXPIRE', readerKey, windowMs)
end
for i = 5, #ARGV do rcall('HSETNX', readerKey, ARGV[i], 1) end
return { Status.OK, rcall('HLEN', readerKey) - 1 }
