--[[
  Append one booking-domain change to the outbox stream, inside the script that makes the change,
  so persistence can never miss it. `eventId` is `<kind>:<entity id>:<version>`: unique per change
  and the same if the entry is ever read twice, so the worker's ON CONFLICT makes a replay harmless.
]]
local function appendOutbox(outboxKey, eventId, kind, payload)
  rcall('XADD', outboxKey, '*', 'id', eventId, 'kind', kind, 'data', cjson.encode(payload))
end
