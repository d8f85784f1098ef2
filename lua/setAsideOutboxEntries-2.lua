--[[
  Move outbox entries that PostgreSQL refused for good into the dead-letter stream, with the
  database's error: each one is added there, acknowledged in the consumer group and deleted from
  the outbox, all at once. An entry no longer in the outbox was set aside (or written) by another
  run of the same batch: it is only acknowledged, so it is never set aside twice.

  Input:
    KEYS[1] outbox stream
    KEYS[2] dead-letter stream

    ARGV[1] the outbox consumer group
    ARGV[2..] seven values per entry:
      outbox entry id, event id, kind, error code (SQLSTATE, or `malformed`), error message,
      error detail, the entry's fields as read (a JSON array)

  Output:
    {Status.OK, number of entries added to the dead-letter stream}
]]
local rcall = redis.call

local outboxKey, deadLetterKey = KEYS[1], KEYS[2]
local group = ARGV[1]

local added = 0
for i = 2, #ARGV, 7 do
  local outboxId = ARGV[i]
  if #rcall('XRANGE', outboxKey, outboxId, outboxId) > 0 then
    rcall('XADD', deadLetterKey, '*', 'outbox_id', outboxId, 'event_id', ARGV[i + 1], 'kind', ARGV[i + 2],
      'code', ARGV[i + 3], 'error', ARGV[i + 4], 'detail', ARGV[i + 5], 'entry', ARGV[i + 6])
    added = added + 1
  end
  rcall('XACK', outboxKey, group, outboxId)
  rcall('XDEL', outboxKey, outboxId)
end
return { Status.OK, added }
