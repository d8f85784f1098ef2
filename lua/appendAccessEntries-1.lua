--[[
  Append several access log entries to the outbox in one call: the entries of calls a gateway
  thread answered together, by readers the watch does not count (citizens; an operator's or a
  partner's entry goes through appendAccessEntry-2, which counts them). The worker writes them to
  PostgreSQL's chained access_log.

  Input:
    KEYS[1] outbox stream

    ARGV[1..] pairs, one per entry: its id (`access:<uuid>`), then the entry (JSON, engine/access-log.ts
              AccessEntry)

  Output:
    {Status.OK, entries appended}
]]
local rcall = redis.call

local outboxKey = KEYS[1]
for i = 1, #ARGV, 2 do
  rcall('XADD', outboxKey, '*', 'id', ARGV[i], 'kind', 'access', 'data', ARGV[i + 1])
end
return { Status.OK, #ARGV / 2 }
