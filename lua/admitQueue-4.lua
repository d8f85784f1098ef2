--[[
  One turn of admission for a session's queue: shuffle the pre-queue if the opening has come, take
  back admissions that expired unused, then admit waiting places from the head of the line, as many
  as the rate allows by now and the seats left can serve. Every gateway thread calls it a few times
  a second for every session whose opening is on; the bookkeeping lives here (a token bucket refilled
  by the time since its last call, at `rate` places a second, holding at most one second's worth), so
  however many gateways call, admissions follow the rate and a place is admitted once.

  Seats: the caller reads the seats left from the session hash just before (another slot: the
  booking runs on `{bk}`, the queue on the session's partition, so no script sees both). The queue
  never has admissions outstanding for more beneficiaries than those seats. Bookings only lower the
  seats left, and an admission that booked is marked used after its booking (useAdmission-3.lua), so
  between the two its seats are counted twice: the bound errs on the side of admitting fewer, never
  more. A place counts its beneficiaries, or the seats free when it was admitted if fewer (`c`: it may
  book some of them; a head that waited for all would hold the line while seats are left). Counting
  the seats in the queue's own keys instead would need the booking script to write
  them: a second slot in every booking. Cancellations give seats back, and admission resumes.

  Input:
    KEYS[1] queue state hash
    KEYS[2] line
    KEYS[3] places hash
    KEYS[4] outstanding admissions (sorted set)
    ARGV[1] now, ms
    ARGV[2] opens_at, ms
    ARGV[3] a shuffle seed (see joinQueue-4.lua)
    ARGV[4] rate, places a second
    ARGV[5] admission lifetime, ms
    ARGV[6] grace, ms (a waiting place not seen for this long after the opening is skipped at its turn; 0 never)
    ARGV[7] seats left in the session (dose 1 and 2 together)
    ARGV[8] a random nonce, 16 hex digits: admissions of this call are `<nonce>.<position number>`
    ARGV[9] most places admitted by this call
    ARGV[10..] accounts seen since the last call (WebSocket holders): their `seen` is set to now

  Output:
    {Status.OK, admitted now, places waiting, admitted ever, used, expired, skipped, beneficiaries
     outstanding, seats left, last position number handed out, first waiting position number (0: none),
     1 when shuffled, accounts whose place changed (admitted, expired or skipped)...}
]]
local rcall = redis.call
--- @include "includes/fairQueue"

local stateKey, lineKey, placesKey, outstandingKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, opensAt, seed = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local rate, admissionMs, graceMs = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local seatsLeft, nonce, most = tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])

ensureShuffled(stateKey, lineKey, placesKey, now, opensAt, seed)

for i = 10, #ARGV do
  local place = readPlace(placesKey, ARGV[i])
  if place then
    place.seen = now
    writePlace(placesKey, ARGV[i], place)
  end
end

local changed = {}
local admittedNow = 0
local s = rcall('HMGET', stateKey, 'out_seats', 'tokens', 'tokens_at')
local outSeats = tonumber(s[1] or '0')

if now >= opensAt then
  -- admissions that expired unused: their places are over, and each passes its turn to the next place
  local refunds = 0
  local expired = rcall('ZRANGEBYSCORE', outstandingKey, '-inf', now)
  for _, account in ipairs(expired) do
    local place = readPlace(placesKey, account)
    if place and place.st == 'admitted' then
      place.st = 'expired'
      writePlace(placesKey, account, place)
      outSeats = outSeats - (place.c or place.n)
      refunds = refunds + 1
      changed[#changed + 1] = account
    end
    rcall('ZREM', outstandingKey, account)
  end
  if #expired > 0 then rcall('HINCRBY', stateKey, 'expired', refunds) end

  -- the rate's bucket: full (one second's worth) at the opening
  local burst = math.max(1, rate)
  local tokens, tokensAt = tonumber(s[2] or burst), tonumber(s[3] or opensAt)
  tokens = math.min(burst, tokens + rate * math.max(0, now - tokensAt) / 1000) + refunds

  local skipped, SKIP_MOST = 0, 1000
  while admittedNow < most and skipped < SKIP_MOST do
    local headEntry = rcall('ZRANGE', lineKey, 0, 0, 'WITHSCORES')
    local head = headEntry[1]
    if not head then break end
    local place = settlePlace(stateKey, lineKey, head, readPlace(placesKey, head), headEntry[2])
    if graceMs > 0 and now - math.max(place.seen or 0, opensAt) > graceMs then
      place.st = 'lapsed'
      writePlace(placesKey, head, place)
      rcall('ZREM', lineKey, head)
      skipped = skipped + 1
      changed[#changed + 1] = head
    else
      -- the head waits for a seat; one that wants more than are free is admitted for those free
      -- (it can book some of its beneficiaries), so it never blocks the line while seats are left
      local free = seatsLeft - outSeats
      if tokens < 1 or free < 1 then break end
      place.st = 'admitted'
      place.adm = nonce .. '.' .. place.num
      place.exp = now + admissionMs
      place.c = math.min(place.n, free)
      writePlace(placesKey, head, place)
      rcall('ZREM', lineKey, head)
      rcall('ZADD', outstandingKey, place.exp, head)
      outSeats = outSeats + place.c
      tokens = tokens - 1
      admittedNow = admittedNow + 1
      changed[#changed + 1] = head
    end
  end
  if skipped > 0 then rcall('HINCRBY', stateKey, 'lapsed', skipped) end
  if admittedNow > 0 then rcall('HINCRBY', stateKey, 'admitted', admittedNow) end
  rcall('HSET', stateKey, 'tokens', tostring(tokens), 'tokens_at', now, 'out_seats', outSeats)
end
rcall('HSET', stateKey, 'seats_left', seatsLeft)

local c = rcall('HMGET', stateKey, 'admitted', 'used', 'expired', 'lapsed', 'tail', 'shuffled')
local first = rcall('ZRANGE', lineKey, 0, 0, 'WITHSCORES')
local reply = {
  Status.OK, admittedNow, rcall('ZCARD', lineKey), tonumber(c[1] or '0'), tonumber(c[2] or '0'),
  tonumber(c[3] or '0'), tonumber(c[4] or '0'), outSeats, seatsLeft, tonumber(c[5] or '0'),
  (c[6] == '1' and first[2]) and tonumber(first[2]) or 0, c[6] == '1' and 1 or 0,
}
for _, account in ipairs(changed) do reply[#reply + 1] = account end
return reply
