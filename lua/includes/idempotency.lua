--[[
  A booking's idempotency record: `<fingerprint>|<appointment id>` under the client's key.
  `replayOrMismatch` is the first check of every booking script (single-slot and the partitioned
  hold): the same request again is answered with the booking it made, another request under the
  same key is refused. nil means the key is new (or the client sent none: fingerprint '').
]]
local function replayOrMismatch(idempotencyKey, fingerprint)
  if fingerprint == '' then return nil end
  local previous = rcall('GET', idempotencyKey)
  if not previous then return nil end
  local sep = string.find(previous, '|', 1, true)
  if string.sub(previous, 1, sep - 1) == fingerprint then
    return { Status.REPLAYED, string.sub(previous, sep + 1) }
  end
  return { Status.IDEMPOTENCY_MISMATCH }
end
