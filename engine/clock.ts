/**
 * The one source of "now" for every decision that depends on the time: booking windows, cutoffs,
 * "today" in the country's calendar, OTP validity, token expiry, birth-year limits.
 *
 * Production runs on the system clock. A demo deployment (and every test that starts a gateway or a
 * worker process) may run on the system clock shifted by a fixed offset, `TEEKA_CLOCK_OFFSET_MS`:
 * the test support picks an instant (a working morning of a fixed date) and every process of that
 * test shifts by the same amount, so the suite passes at any hour, on any date, in any time zone of
 * the machine. Redis keeps counting TTLs in real time; only instants compared by the engine shift,
 * which is why Lua scripts take `now` as an argument and never call TIME.
 *
 * Timers, heartbeats and cache ages are measured durations, not instants of the booking calendar:
 * they stay on `Date.now()`.
 */

/** Milliseconds since the epoch, as the engine sees them. */
export type Clock = () => number;

export const systemClock: Clock = Date.now;

/** The system clock shifted by `offsetMs` (the system clock itself when 0). */
export function offsetClock(offsetMs: number): Clock {
  return offsetMs === 0 ? systemClock : () => Date.now() + offsetMs;
}
