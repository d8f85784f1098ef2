--[[
  Publish a vaccination session, or update one. A session already holding bookings keeps its
  centre, date, vaccine and slot labels, and its capacities (per dose and per slot) never drop
  below what is booked. Publishing an identical definition again changes nothing and appends no
  event, so re-seeding master data is harmless.

  Input:
    KEYS[1] session hash
    KEYS[2] sessions-by-date index (sorted set)
    KEYS[3] outbox stream
    KEYS[4] availability stream

    ARGV[1] session id
    ARGV[2] definition, JSON: {center_id, district_id, date, year, vaccine, min_age, max_age (-1 none),
            allow_all_age (0/1), cap1, cap2, slots: [label...], slot_caps: [n...], opens_at, cutoff_at,
            day_start, day_end, dose2_after (-1: a single-dose vaccine), precaution_after (-1: none),
            status ('open' or 'closed')}
    ARGV[3] now, ms since epoch
    ARGV[4] availability stream cap

  Output:
    {Status.OK, version, 1 when changed or 0 when identical}
    {Status.SESSION_CONFLICT}        centre, date, vaccine or slots differ on a session with bookings
    {Status.CAPACITY_BELOW_BOOKED}
]]
local rcall = redis.call
--- @include "includes/appendOutbox"
--- @include "includes/publishAvailability"

local sessionKey, byDateKey, outboxKey, availabilityKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local sessionId, definitionJson, now, availabilityCap = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local definition = cjson.decode(definitionJson)

local current = rcall('HMGET', sessionKey, 'definition', 'booked1', 'booked2', 'version', 'center_id', 'date', 'vaccine', 'slots')
local exists = current[1] ~= false
if exists and current[1] == definitionJson then return { Status.OK, tonumber(current[4]), 0 } end

local booked1, booked2 = tonumber(current[2] or '0'), tonumber(current[3] or '0')
local slotBooked = {}
if exists then
  local oldSlots = cjson.decode(current[8])
  local anyBooked = booked1 + booked2 > 0
  for _, label in ipairs(oldSlots) do
    slotBooked[label] = tonumber(rcall('HGET', sessionKey, 'slotbooked:' .. label) or '0')
    if slotBooked[label] > 0 then anyBooked = true end
  end
  if anyBooked then
    local sameSlots = #oldSlots == #definition.slots
    for i, label in ipairs(oldSlots) do
      if definition.slots[i] ~= label then sameSlots = false end
    end
    if tostring(definition.center_id) ~= current[5] or tostring(definition.date) ~= current[6]
      or definition.vaccine ~= current[7] or not sameSlots then
      return { Status.SESSION_CONFLICT }
    end
  end
  if definition.cap1 < booked1 or definition.cap2 < booked2 then return { Status.CAPACITY_BELOW_BOOKED } end
  for i, label in ipairs(definition.slots) do
    if definition.slot_caps[i] < (slotBooked[label] or 0) then return { Status.CAPACITY_BELOW_BOOKED } end
  end
end

-- every check passed: write
if exists then
  local keep = {}
  for _, label in ipairs(definition.slots) do keep[label] = true end
  for label in pairs(slotBooked) do
    if not keep[label] then rcall('HDEL', sessionKey, 'slotcap:' .. label, 'slotbooked:' .. label) end
  end
end
local fields = {
  'definition', definitionJson,
  'center_id', definition.center_id, 'district_id', definition.district_id, 'date', definition.date,
  'year', definition.year, 'vaccine', definition.vaccine, 'min_age', definition.min_age,
  'max_age', definition.max_age, 'allow_all_age', definition.allow_all_age,
  'cap1', definition.cap1, 'cap2', definition.cap2, 'booked1', booked1, 'booked2', booked2,
  'slots', cjson.encode(definition.slots), 'opens_at', definition.opens_at, 'cutoff_at', definition.cutoff_at,
  'day_start', definition.day_start, 'day_end', definition.day_end, 'dose2_after', definition.dose2_after,
  'precaution_after', definition.precaution_after, 'status', definition.status,
}
for i, label in ipairs(definition.slots) do
  fields[#fields + 1] = 'slotcap:' .. label
  fields[#fields + 1] = definition.slot_caps[i]
  fields[#fields + 1] = 'slotbooked:' .. label
  fields[#fields + 1] = slotBooked[label] or 0
end
rcall('HSET', sessionKey, unpack(fields))
local version = rcall('HINCRBY', sessionKey, 'version', 1)
rcall('ZADD', byDateKey, definition.date, sessionId)

definition.session_id = sessionId
definition.version = version
definition.at = now
-- the exact text stored in the hash: a rebuild from PostgreSQL writes it back byte for byte, so
-- publishing the same definition again is still recognised as unchanged
definition.definition_json = definitionJson
appendOutbox(outboxKey, 'session:' .. sessionId .. ':' .. version, 'session', definition)
-- a new version: readers fetch the whole session (its slot counters with it)
publishAvailability(availabilityKey, sessionKey, sessionId, availabilityCap, {})

return { Status.OK, version, 1 }
