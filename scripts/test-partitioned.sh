#!/usr/bin/env bash
# The API's flows on the partitioned record layout (TEEKA_LAYOUT=partitioned, engine/keys.ts
# `Layout`): the gateways these suites start, and the engines the tests make, book, cancel,
# reschedule, register and vaccinate through engine/partitioned-booking.ts. The files are the ones
# that exercise those flows end to end over HTTP and are written against the engine's API, not
# against one layout's keys; the suites that read the single layout's records by key (the engine's
# booking and differential tests, the coalescing and memory tests) run on it in `npm test`, and the
# partitioned booking's own tests (test/engine/partitioned-*.test.ts) run there too.
# With --cluster the same files run on the local Redis Cluster (scripts/redis-cluster.sh), where
# the partitions' slots lie on three masters. The rebuild's tests lay the partitioned layout out again
# from PostgreSQL, by the function and by `npm start` on an emptied Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
on=()
if [[ "${1:-}" == "--cluster" ]]; then
  bash scripts/ensure-services.sh --cluster
  on=(bash scripts/redis-cluster.sh run)
else
  bash scripts/ensure-services.sh
fi
"${on[@]}" env TEEKA_LAYOUT=partitioned npx vitest run \
  test/gateway/api.test.ts \
  test/gateway/cowin-compat.test.ts \
  test/gateway/bot-flow.test.ts \
  test/gateway/concurrency.test.ts \
  test/gateway/fair-admission.test.ts \
  test/gateway/operators.test.ts \
  test/gateway/certificates.test.ts \
  test/gateway/country-flow.test.ts \
  test/gateway/isolation.test.ts \
  test/engine/vaccination.test.ts \
  test/web/citizen-country.test.ts \
  test/worker/rebuild.test.ts \
  test/worker/redis-loss.test.ts
