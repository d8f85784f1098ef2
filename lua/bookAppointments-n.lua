--[[
  Several bookings coalesced into one call (the bookings a gateway thread received for the booking
  partition in one event-loop turn): each is decided and written on its own, in the order given, by
  the same rules as bookAppointment (includes/booking), so a booking sees every earlier booking of
  the batch exactly as it would had they been sent one by one: the seats they took, the
  beneficiaries they booked, the idempotency records they wrote. Each accepted booking appends its
  own outbox entry, as bookAppointment does; each session booked into gets one availability entry
  after the batch, with the seats left then and every slot the batch changed (readers keep only the
  latest value of a session). One call pays Redis's per-script cost and the client's per-command
  cost once for the batch.

  Input:
    (any number of keys: ioredis is given their count)
    KEYS[1]   outbox stream
    KEYS[2]   availability stream
    KEYS[3..] four per booking, in order: session hash, account hash, appointment hash (new),
              idempotency record (bookAppointment's KEYS[1..4])

    ARGV[1] now, ms since epoch
    ARGV[2] today, local epoch day
    ARGV[3] idempotency record lifetime, ms
    ARGV[4] availability stream cap
    ARGV[5..] per booking, in order: appointment id (new, unique), session id, account id, slot label,
              dose, request fingerprint ('' without an idempotency key), security code digits (4 per
              beneficiary), access log route ('' for none), client address, the number of
              beneficiaries n, then the n beneficiary reference ids (bookAppointment's ARGV[1..5], ARGV[8],
              ARGV[11..13] and ARGV[14..])

  Output: one reply per booking, in order, each as bookAppointment's (an error reply in place of a
  booking whose security code digits are malformed).
]]
local rcall = redis.call
--- @include "includes/booking"

local outboxKey, availabilityKey = KEYS[1], KEYS[2]
local shared = { now = tonumber(ARGV[1]), today = tonumber(ARGV[2]), idempotencyTtl = ARGV[3], availabilityCap = ARGV[4] }
local replies, pending = {}, {}
local a = 5
for i = 1, (#KEYS - 2) / 4 do
  local k = 3 + 4 * (i - 1)
  local count = tonumber(ARGV[a + 9])
  local ids = {}
  for j = 1, count do ids[j] = ARGV[a + 9 + j] end
  replies[i] = bookAppointment(KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], outboxKey, availabilityKey, {
    appointmentId = ARGV[a], sessionId = ARGV[a + 1], accountId = ARGV[a + 2], slot = ARGV[a + 3], dose = ARGV[a + 4],
    fingerprint = ARGV[a + 5], codeDigits = ARGV[a + 6], accessRoute = ARGV[a + 7], accessAddress = ARGV[a + 8], ids = ids,
  }, shared, pending)
  a = a + 10 + count
end
publishPending(pending, availabilityKey, shared.availabilityCap)
return replies
