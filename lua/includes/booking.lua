--[[
  One booking decided and written (bookAppointment, and each booking of a coalesced batch in
  bookAppointments): the rules are written once, here. Every check comes before the first write, so
  a refused booking changes nothing and the next booking of a batch sees exactly what it would
  have seen had this one been sent alone.
  `b` is the booking: appointmentId, sessionId, accountId, slot, dose (as sent), fingerprint ('' when
  the client sent no idempotency key), codeDigits (4 random digits per beneficiary), ids (the
  beneficiary reference ids, in order), accessRoute and accessAddress: for the access log, the
  route (`METHOD pattern`) and client address of the call that books ('' when the caller logs the
  call itself). An accepted booking's appointment entry carries them as `access`, and its access log
  entry is that appointment entry read as one (engine/access-log.ts bookingAccessEntry): the entry
  reaches the outbox with the booking, in the same call and the same XADD. As a call of its own the
  entry cost a quarter of the gateway's booking rate; as a second XADD of a JSON entry made by the
  gateway, about 10 µs of gateway CPU per booking.
  `c` holds what every booking of a call shares: now, today, idempotencyTtl, availabilityCap.
  `pending` is nil for a booking sent alone: its availability entry is published at once. A batch
  passes a table instead, and publishes each session it booked into once, after the batch
  (publishPending): the stream's readers keep only a session's latest value, so one entry with the
  seats left after the batch tells them what one entry per booking would. The entry was a fifth of
  a booking's script time (measured in batches of 50 into one session: 44 µs of Redis time per
  booking with an entry each, 35 µs with none).
  Returns the script's reply for this booking (see bookAppointment-6.lua).
]]
--- @include "includes/readSession"
--- @include "includes/capacityBucket"
--- @include "includes/eligibility"
--- @include "includes/appendOutbox"
--- @include "includes/publishAvailability"
--- @include "includes/idempotency"

-- Remember that `slot` of a session changed, to publish the session once after the batch.
local function notePending(pending, sessionKey, sessionId, slot)
  local session = pending[sessionKey]
  if not session then
    session = { sessionId = sessionId, slots = {}, seen = {} }
    pending[sessionKey] = session
    pending[#pending + 1] = sessionKey
  end
  if not session.seen[slot] then
    session.seen[slot] = true
    session.slots[#session.slots + 1] = slot
  end
end

-- Publish every session a batch booked into, in the order first booked, with every slot it changed.
local function publishPending(pending, availabilityKey, availabilityCap)
  for _, sessionKey in ipairs(pending) do
    local session = pending[sessionKey]
    publishAvailability(availabilityKey, sessionKey, session.sessionId, availabilityCap, session.slots)
  end
end

local function bookAppointment(sessionKey, accountKey, appointmentKey, idempotencyKey, outboxKey, availabilityKey, b, c, pending)
  local appointmentId, sessionId, accountId, slot = b.appointmentId, b.sessionId, b.accountId, b.slot
  local dose, now, today, fingerprint, codeDigits = tonumber(b.dose), c.now, c.today, b.fingerprint, b.codeDigits

  local replay = replayOrMismatch(idempotencyKey, fingerprint)
  if replay then return replay end

  local session = readSession(sessionKey, slot)
  local ids, problem = checkBookingRequest(dose, session, now, b.ids, codeDigits, 'bookAppointment')
  if not ids then return problem end
  local count = #ids

  local bens, refusal, refusedId = eligibleBeneficiaries(accountKey, ids, dose, session, today, nil)
  if not bens then return { refusal, refusedId } end

  local bucket = capacityBucket(dose)
  local available = session['cap' .. bucket] - session['booked' .. bucket]
  if count > available or session.slotBooked + count > session.slotCap then return { Status.FULL } end

  -- every check passed: write
  rcall('HINCRBY', sessionKey, 'booked' .. bucket, count)
  rcall('HINCRBY', sessionKey, 'slotbooked:' .. slot, count)

  local event = {
    appointment_id = appointmentId, account_id = accountId, session_id = sessionId, slot = slot, dose = dose,
    version = 1, action = 'booked', at = now, created_at = now, beneficiaries = {},
  }
  local appointmentFields = {
    'account_id', accountId, 'session_id', sessionId, 'slot', slot, 'dose', dose,
    'bens', table.concat(ids, ','), 'version', 1, 'created_at', now,
  }
  for i, ben in ipairs(bens) do
    local id = ids[i]
    local superseded = ben['appt' .. dose] or ''
    if superseded ~= '' then
      -- a past appointment of this dose that was never vaccinated: the worker marks it expired
      event.expired = event.expired or {}
      event.expired[#event.expired + 1] = { appointment_id = superseded, beneficiary_id = id }
    end
    ben['appt' .. dose] = appointmentId
    ben['appt' .. dose .. '_day'] = session.date
    rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
    local code = string.sub(codeDigits, 4 * i - 3, 4 * i)
    appointmentFields[#appointmentFields + 1] = 'status:' .. id
    appointmentFields[#appointmentFields + 1] = 'booked'
    appointmentFields[#appointmentFields + 1] = 'code:' .. id
    appointmentFields[#appointmentFields + 1] = code
    event.beneficiaries[i] = { id = id, status = 'booked', security_code = code }
  end
  rcall('HSET', appointmentKey, unpack(appointmentFields))
  if fingerprint ~= '' then
    rcall('SET', idempotencyKey, fingerprint .. '|' .. appointmentId, 'PX', c.idempotencyTtl)
  end
  if b.accessRoute ~= '' then event.access = { route = b.accessRoute, address = b.accessAddress } end
  appendOutbox(outboxKey, 'appointment:' .. appointmentId .. ':1', 'appointment', event)
  if pending then
    notePending(pending, sessionKey, sessionId, slot)
  else
    publishAvailability(availabilityKey, sessionKey, sessionId, c.availabilityCap, { slot })
  end

  return { Status.OK, appointmentId, available - count }
end
