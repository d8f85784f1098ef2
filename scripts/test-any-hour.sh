#!/usr/bin/env bash
# Time is an input (design.md, invariant 9): run the engine, gateway and web suites with the Node
# processes' clock moved by libfaketime to the hours that used to break them, for both countries:
#   11:10 UTC  after India's 15:00 booking cutoff (the hour that broke CI before issue 9)
#   17:05 UTC  after the booking cutoff in both demo countries (15:00 in Asia/Kolkata, 13:00 in
#              America/Guyana)
#   18:35 UTC  just after midnight in Asia/Kolkata, here on 31 December (a new year there too)
#   02:00 UTC  on 1 January: a new year in UTC, still 22:00 on 31 December in Guyana (UTC−4)
# Node and Chromium run under faketime, all on the one faked clock (test/support/clock.ts gives each
# process it starts the test's clock as an offset from the real one); the test support starts
# redis-server and PostgreSQL with the real clock (redis-server cannot run under libfaketime, and
# needs no fake time: Lua scripts take `now` as an argument).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v faketime >/dev/null 2>&1 || { echo "test-any-hour: faketime is not installed (Debian package faketime)" >&2; exit 1; }
bash scripts/ensure-services.sh

# Today's hours lie behind or ahead of the real clock depending on when this runs, the year's end
# is a past one (behind) and the new year a coming one (ahead): the run must pass either way. Two
# things made a faked clock behind the real one fail before (2026-11-29), both in the test support:
# Chromium kept the real clock, and Playwright's clock install, stamped with the test's faked clock,
# moved the page on by the browser's real one (hours past every token's expiry); and libfaketime's
# '@' form starts each process's clock at the instant when the process starts, so a gateway started
# seconds after its test disagreed with it by those seconds.
year=$(date -u +%Y)
today=$(date -u +%F)
for instant in "$today 11:10:00" "$today 17:05:00" "$((year - 1))-12-31 18:35:00" "$((year + 1))-01-01 02:00:00"; do
  echo "== engine, gateway and web suites with the clock at $instant UTC"
  faketime -f "@$instant" npx vitest run test/engine test/gateway test/web
done
