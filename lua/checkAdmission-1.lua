--[[
  Check, before booking, that an admission lets this account book these beneficiaries in a session
  under fair admission: it is the admission of the account's place, still within its time, not used,
  and the beneficiaries are among those the place joined with. Writes nothing: the booking that
  follows marks it used (useAdmission-3.lua) only once it succeeded, so a crash between the two
  leaves an admission that simply expires, and never a place that lost its turn without booking.

  Input:
    KEYS[1] places hash
    ARGV[1] account id
    ARGV[2] admission
    ARGV[3] now, ms
    ARGV[4] 1: a used admission passes (a retry under an idempotency key, which the booking answers
            with its first answer), else 0
    ARGV[5..] the beneficiaries to book

  Output:
    {Status.OK, the place's beneficiary count}
    {Status.ADMISSION_INVALID}  no place, not this place's admission, or a beneficiary the place did not join with
                                (no admission at all is ADMISSION_REQUIRED, answered before this script)
    {Status.ADMISSION_EXPIRED} {Status.ADMISSION_USED}
]]
local rcall = redis.call
--- @include "includes/fairQueue"

local account, admission, now, allowUsed = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local place = readPlace(KEYS[1], account)
if not place or place.adm ~= admission then return { Status.ADMISSION_INVALID } end
local joined = {}
for _, id in ipairs(place.b) do joined[id] = true end
for i = 5, #ARGV do
  if not joined[ARGV[i]] then return { Status.ADMISSION_INVALID } end
end
if place.st == 'used' then
  if allowUsed then return { Status.OK, place.n } end
  return { Status.ADMISSION_USED }
end
if place.st ~= 'admitted' or place.exp <= now then return { Status.ADMISSION_EXPIRED } end
return { Status.OK, place.n }
