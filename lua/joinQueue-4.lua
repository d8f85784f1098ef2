--[[
  Join the fair admission queue of a session: one place per account and per beneficiary. A second
  join by the same account (another device, another token) answers its place as it is. Before the
  opening the place is in the pre-queue (no position until the shuffle); at or after it, at the end of
  the line. A place that expired unused or was skipped may join again: at the end, as a late arrival.
  The caller checked that the session is under fair admission and that the beneficiaries are the
  account's (engine/fair-admission.ts); the booking script checks them again when they book.

  Checks come before the first write, except the shuffle, which is due at the opening whoever calls.

  Input:
    KEYS[1] queue state hash
    KEYS[2] line (sorted set)
    KEYS[3] places hash
    KEYS[4] beneficiaries hash
    ARGV[1] account id
    ARGV[2] now, ms
    ARGV[3] opens_at, ms
    ARGV[4] when the pre-queue opens, ms (opens_at − prequeue)
    ARGV[5] the session's booking cutoff, ms
    ARGV[6] seats left in the session (dose 1 and 2 together)
    ARGV[7] a shuffle seed, 1 ≤ seed < 2^31 − 1 (used only if this call is the first after the opening)
    ARGV[8..] beneficiary reference ids

  Output:
    {Status.OK, state, position number, ahead, admission, expiry, 1 when joined now or 0 when the place existed}
    {Status.BOOKING_CLOSED} {Status.QUEUE_NOT_OPEN_YET} {Status.FULL}
    {Status.DUPLICATE_BENEFICIARY, id} {Status.QUEUE_BENEFICIARY_TAKEN, id}
]]
local rcall = redis.call
--- @include "includes/fairQueue"

local stateKey, lineKey, placesKey, bensKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local account = ARGV[1]
local now, opensAt, prequeueFrom, cutoffAt = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local seatsLeft, seed = tonumber(ARGV[6]), tonumber(ARGV[7])

if now >= cutoffAt then return { Status.BOOKING_CLOSED } end
if now < prequeueFrom then return { Status.QUEUE_NOT_OPEN_YET } end
ensureShuffled(stateKey, lineKey, placesKey, now, opensAt, seed)

local place = readPlace(placesKey, account)
if place and place.st ~= 'expired' and place.st ~= 'lapsed' then
  place = settlePlace(stateKey, lineKey, account, place)
  place.seen = now
  writePlace(placesKey, account, place)
  local reply = describePlace(lineKey, account, place, now)
  reply[#reply + 1] = 0
  return reply
end
if seatsLeft <= 0 then return { Status.FULL } end

local bens, listed = {}, {}
for i = 8, #ARGV do
  local id = ARGV[i]
  if listed[id] then return { Status.DUPLICATE_BENEFICIARY, id } end
  listed[id] = true
  local holder = rcall('HGET', bensKey, id)
  if holder and holder ~= account then return { Status.QUEUE_BENEFICIARY_TAKEN, id } end
  bens[#bens + 1] = id
end

-- every check passed: write
local seq = rcall('HINCRBY', stateKey, 'seq', 1)
for _, id in ipairs(bens) do rcall('HSET', bensKey, id, account) end
local shuffledAs = place
place = { seq = seq, b = bens, n = #bens, seen = now, joined = now }
if shuffledAs then place.ps, place.sn = shuffledAs.ps, shuffledAs.sn end
if now < opensAt then
  place.st = 'pre'
  rcall('ZADD', lineKey, seq, account)
else
  place.st = 'waiting'
  place.num = rcall('HINCRBY', stateKey, 'tail', 1)
  rcall('ZADD', lineKey, place.num, account)
end
writePlace(placesKey, account, place)
local reply = describePlace(lineKey, account, place, now)
reply[#reply + 1] = 1
return reply
