--[[
  Mark an admission used, after the booking it was checked for succeeded (checkAdmission-1.lua): its
  place is done, and its seats stop counting as outstanding (the booking took them from the session).
  Idempotent. An admission that expired while its booking ran was already taken back by an admit
  call (which passed the turn on); it is marked used too, so it can never be handed out or used again.

  Input:
    KEYS[1] queue state hash
    KEYS[2] places hash
    KEYS[3] outstanding admissions (sorted set)
    ARGV[1] account id
    ARGV[2] admission

  Output:
    {Status.OK, 1 when marked now or 0 when it already was}
    {Status.ADMISSION_INVALID}  not this account's admission
]]
local rcall = redis.call
--- @include "includes/fairQueue"

local stateKey, placesKey, outstandingKey = KEYS[1], KEYS[2], KEYS[3]
local account, admission = ARGV[1], ARGV[2]
local place = readPlace(placesKey, account)
if not place or place.adm ~= admission then return { Status.ADMISSION_INVALID } end
if place.st == 'used' then return { Status.OK, 0 } end
if place.st == 'admitted' then
  rcall('ZREM', outstandingKey, account)
  rcall('HINCRBY', stateKey, 'out_seats', -(place.c or place.n))
end
place.st = 'used'
writePlace(placesKey, account, place)
rcall('HINCRBY', stateKey, 'used', 1)
return { Status.OK, 1 }
