--[[
  The partitioned booking's appointment record (engine/partitioned-booking.md), in the account's
  partition, beside the fields the single-slot scripts write (includes/appointmentState):
    pending   'book' while a booking waits for its seats, 'move' while a reschedule does; absent once decided
    claim     the claim (in the session's partition) holding the appointment's seats
    idem      the client's idempotency key ('' none), so recovery can drop the record of a failed booking
    center_id, date, day_start, day_end   the session's facts that cancel and reschedule check
    session_version   the session's version the hold checked against (a resumed booking takes seats with it)
    expired   JSON list of {appointment_id, beneficiary_id, day}: past unvaccinated appointments this
              booking superseded (the outbox entry names them; a release restores their pointers)
    move      JSON of a pending reschedule: {n, session_id, slot, claim, count, center_id, date, day_start,
              day_end, version (the new session's, as checked)}
    changes   counter of cancels and reschedules begun: `<n>` names their intents and claims
    release:<n>  JSON {session_id, claim, count}: seats a cancel or reschedule owes back to a session
  Intents (the partition's sorted set, scored by deadline): `book:<id>`, `move:<id>:<n>`, `release:<id>:<n>`.
]]

-- Point (or un-point) beneficiaries' dose at an appointment in the account hash.
local function setDosePointer(accountKey, id, dose, appointmentId, day)
  local raw = rcall('HGET', accountKey, 'ben:' .. id)
  if not raw then return end
  local ben = cjson.decode(raw)
  ben['appt' .. dose] = appointmentId
  ben['appt' .. dose .. '_day'] = day
  rcall('HSET', accountKey, 'ben:' .. id, cjson.encode(ben))
end
