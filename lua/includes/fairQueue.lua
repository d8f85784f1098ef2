--[[
  The fair admission queue's shared parts (its keys: engine/keys.ts FairQueueKeys).

  A place, JSON in the places hash under its account id: `seq` (join order, 1, 2, …), `b` (beneficiary
  ids), `n` (their count: the seats it may book), `st` (pre | waiting | admitted | used | expired |
  lapsed), `num` (its position number in the line once the opening shuffled it or it joined after),
  `adm`, `exp` and `c` (its admission, when that expires, ms, and the seats it counts for while
  outstanding: its beneficiaries, or fewer when fewer seats were free), `seen` (when its holder last showed up),
  and for a place the opening shuffled, `ps` and `sn` (its join order and the number the shuffle gave),
  written when it leaves the line (settlePlace).

  The line (a sorted set) holds the waiting places only. Before the opening they are scored by `seq`;
  the shuffle gives them the numbers 1..m (the places' JSON says `pre` until they leave the line: see
  settlePlace), and later arrivals get m+1, m+2, … Places only ever leave
  the line at its head (admitted, or skipped after the grace period), so the waiting numbers are
  contiguous and a place's rank in the line is exactly how many wait ahead of it.

  The shuffle (replayable: engine/fair-admission.ts replayShuffle does the same in TypeScript):
  the pre-queue's accounts in join order, then Fisher–Yates from the last element, drawing from the
  Park–Miller "minimal standard" generator x' = x × 48271 mod (2^31 − 1) started at the stored seed
  (1 ≤ seed < 2^31 − 1): for i = m down to 2, x = next(x), j = x mod i + 1, swap items i and j. Every
  product is below 2^47, so Lua's doubles and JavaScript's numbers compute it exactly. (x mod i is
  biased by at most i / 2^31, a few in a million for a queue of 20,000.)
]]
local function nextRandom(x)
  return (x * 48271) % 2147483647
end

local function readPlace(placesKey, account)
  local raw = rcall('HGET', placesKey, account)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function writePlace(placesKey, account, place)
  rcall('HSET', placesKey, account, cjson.encode(place))
end

--[[
  At the first call at or after the opening, shuffle the pre-queue with `seed` (the caller's draw;
  only the first caller's is used and stored). Idempotent: once `shuffled` is set, nothing happens,
  however many gateways call. Returns true when it shuffled now.

  Only the line is rescored: the places' JSON is left as it is (rewriting 20,000 of them held Redis
  for about 0.3 s at the opening instant, when it is busiest). A place still reading `pre` once the
  line is shuffled is waiting, its number its score (`settlePlace`).
]]
local function ensureShuffled(stateKey, lineKey, placesKey, now, opensAt, seed)
  if now < opensAt then return false end
  if rcall('HGET', stateKey, 'shuffled') == '1' then return false end
  local members = rcall('ZRANGE', lineKey, 0, -1)
  local m = #members
  local x = seed
  for i = m, 2, -1 do
    x = nextRandom(x)
    local j = (x % i) + 1
    members[i], members[j] = members[j], members[i]
  end
  local CHUNK = 1000
  for from = 1, m, CHUNK do
    local args = {}
    for i = from, math.min(m, from + CHUNK - 1) do
      args[#args + 1] = i
      args[#args + 1] = members[i]
    end
    rcall('ZADD', lineKey, unpack(args))
  end
  rcall('HSET', stateKey, 'shuffled', 1, 'seed', seed, 'prequeue', m, 'tail', m, 'shuffled_at', now)
  return true
end

--[[
  A place as it is once the line was shuffled: one that joined before the opening and is still in
  the line is waiting, with its score as its number; it keeps the shuffle's record for an auditor
  (`ps` its join order, `sn` its number), also should it join again later. `score`: its score when the
  caller has it, else read.
]]
local function settlePlace(stateKey, lineKey, account, place, score)
  if place.st ~= 'pre' or rcall('HGET', stateKey, 'shuffled') ~= '1' then return place end
  local number = tonumber(score or rcall('ZSCORE', lineKey, account))
  place.st = 'waiting'
  place.num = number
  place.ps = place.seq
  place.sn = number
  return place
end

--[[
  A place as the scripts answer it: {Status.OK, state, position number (0: none yet), places waiting
  ahead (-1: not waiting), admission ('' none), its expiry (0 none)}. An admission past its expiry
  reads `expired` at once, before an admit call reclaims it.
]]
local function describePlace(lineKey, account, place, now)
  local st = place.st
  if st == 'admitted' and place.exp <= now then st = 'expired' end
  local ahead = -1
  if st == 'waiting' or st == 'pre' then
    ahead = rcall('ZRANK', lineKey, account) or -1
    if st == 'pre' then ahead = -1 end
  end
  local admission, expires = '', 0
  if st == 'admitted' then admission, expires = place.adm, place.exp end
  return { Status.OK, st, place.num or 0, ahead, admission, expires }
end
