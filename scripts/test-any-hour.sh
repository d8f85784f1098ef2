#!/usr/bin/env bash
# Time is an input (design.md, invariant 9): run the engine, gateway and web suites with the Node
# processes' clock moved by libfaketime to the hours that used to break them, for both countries:
#   11:10 UTC  after India's 15:00 booking cutoff (the hour that broke CI before issue 9)
#   17:05 UTC  after the booking cutoff in both demo countries (15:00 in Asia/Kolkata, 13:00 in
#              America/Guyana)
#   18:35 UTC  just after midnight in Asia/Kolkata, here on 31 December (a new year there too)
#   02:00 UTC  on 1 January: a new year in UTC, still 22:00 on 31 December in Guyana (UTC−4)
# Only Node runs under faketime: the test support starts redis-server, PostgreSQL and Chromium with
# the real clock (redis-server cannot run under libfaketime, and needs no fake time: Lua scripts
# take `now` as an argument).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v faketime >/dev/null 2>&1 || { echo "test-any-hour: faketime is not installed (Debian package faketime)" >&2; exit 1; }
bash scripts/ensure-services.sh

# The hours are taken on TOMORROW's date, and the year's end a year ahead on the 31st: every instant
# lies ahead of the real clock. The browser of the web tests keeps the real clock (Chromium does not
# run under libfaketime) while the page's clock is the tested processes'; with the faked instant behind
# the real time of day (CI at 13:50 faking 11:10) the citizen page never showed the account after the
# login (found 2026-11-29; the mechanism in Chromium is not found yet), ahead of it everything passes.
year=$(date -u +%Y)
[[ $(date -u +%m-%d) == 12-31 ]] && year=$((year + 1))
tomorrow=$(date -u -d tomorrow +%F)
# The fair admission gateway and browser tests time openings seconds apart between this process and
# the gateways it starts; under libfaketime each process's clock starts at the instant when the process
# starts, so they disagree by the seconds between their starts. They do not depend on the hour (npm
# test and test:cluster run them).
for instant in "$tomorrow 11:10:00" "$tomorrow 17:05:00" "$year-12-31 18:35:00" "$((year + 1))-01-01 02:00:00"; do
  echo "== engine, gateway and web suites with the clock at $instant UTC"
  faketime -f "@$instant" npx vitest run test/engine test/gateway test/web --exclude test/gateway/fair-admission.test.ts --exclude test/web/fair-queue.test.ts
done
