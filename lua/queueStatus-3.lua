--[[
  A place in the fair admission queue as its holder sees it, and a sign of life: the place's `seen`
  is set to now (a waiting place not seen for the grace period after the opening is skipped at its
  turn: lua/admitQueue-4.lua). Shuffles the pre-queue if this is the first call after the opening.

  Input:
    KEYS[1] queue state hash
    KEYS[2] line
    KEYS[3] places hash
    ARGV[1] account id
    ARGV[2] now, ms
    ARGV[3] opens_at, ms
    ARGV[4] a shuffle seed (see joinQueue-4.lua)

  Output:
    {Status.OK, state, position number, ahead, admission, expiry, places waiting, seats left as the
     last admit saw them (-1 before any), beneficiaries of the admissions outstanding}
    {Status.QUEUE_PLACE_NOT_FOUND}
]]
local rcall = redis.call
--- @include "includes/fairQueue"

local stateKey, lineKey, placesKey = KEYS[1], KEYS[2], KEYS[3]
local account, now, opensAt, seed = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])

ensureShuffled(stateKey, lineKey, placesKey, now, opensAt, seed)
local place = readPlace(placesKey, account)
if not place then return { Status.QUEUE_PLACE_NOT_FOUND } end
place = settlePlace(stateKey, lineKey, account, place)
place.seen = now
writePlace(placesKey, account, place)

local reply = describePlace(lineKey, account, place, now)
local counts = rcall('HMGET', stateKey, 'seats_left', 'out_seats')
reply[#reply + 1] = rcall('ZCARD', lineKey)
reply[#reply + 1] = tonumber(counts[1] or '-1')
reply[#reply + 1] = tonumber(counts[2] or '0')
return reply
