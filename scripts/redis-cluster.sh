#!/usr/bin/env bash
# A local Redis Cluster for development and `npm run test:cluster`: three masters with one replica
# each, plain `redis-server --cluster-enabled yes` processes on 127.0.0.1 ports 7101–7106, data under
# the repository's .cluster/ (ignored by git).
#
#   scripts/redis-cluster.sh start    start (or check) the cluster; prints REDIS_CLUSTER=… for it
#   scripts/redis-cluster.sh stop     stop its processes (data stays; `start` brings the same cluster back)
#   scripts/redis-cluster.sh status   cluster state and each node's role
#   scripts/redis-cluster.sh wipe     stop and delete the data, so the next start creates a new cluster
#   scripts/redis-cluster.sh run CMD  run CMD with REDIS_CLUSTER naming this cluster (npm run test:cluster)
#
# Persistence as the single node of docker-compose.yml: AOF without RDB snapshots, and noeviction
# (Redis must refuse writes rather than drop keys). The fsync policy is `everysec` here, not
# docker-compose's `always`: six nodes fsyncing every write on a development machine slow the suite
# more than they prove; CLUSTER_APPENDFSYNC=always gives the production setting.
set -euo pipefail

cd "$(dirname "$0")/.."
FIRST_PORT=${CLUSTER_FIRST_PORT:-7101}
NODES=6
PORTS=()
for ((i = 0; i < NODES; i++)); do PORTS+=($((FIRST_PORT + i))); done
DIR=${CLUSTER_DIR:-$PWD/.cluster}
APPENDFSYNC=${CLUSTER_APPENDFSYNC:-everysec}

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
up() { cli "$1" ping >/dev/null 2>&1; }
seeds() { local IFS=,; local list=(); for port in "${PORTS[@]}"; do list+=("127.0.0.1:$port"); done; echo "${list[*]}"; }

wait_until() { # description, attempts (of 0.5 s), command...
  local what=$1 tries=$2; shift 2
  for ((t = 0; t < tries; t++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "redis-cluster: $what" >&2
  return 1
}

start_node() {
  local port=$1
  mkdir -p "$DIR/$port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$DIR/$port" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 3000 \
    --appendonly yes --appendfsync "$APPENDFSYNC" --save "" --maxmemory-policy noeviction \
    --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" >/dev/null
}

cluster_ok() { cli "${PORTS[0]}" cluster info | grep -q '^cluster_state:ok'; }

# every node knows every other, and every replica has finished its initial sync with its master
replicas_in_sync() {
  local masters=0 replicas=0
  for port in "${PORTS[@]}"; do
    local info
    info=$(cli "$port" info replication) || return 1
    if grep -q '^role:master' <<<"$info"; then
      masters=$((masters + 1))
    else
      grep -q '^master_link_status:up' <<<"$info" || return 1
      grep -q '^master_sync_in_progress:0' <<<"$info" || return 1
      replicas=$((replicas + 1))
    fi
  done
  ((masters == NODES / 2 && replicas == NODES / 2))
}

start() {
  command -v redis-server >/dev/null || { echo "redis-cluster: redis-server is not installed (Debian package redis-server)" >&2; exit 1; }
  for port in "${PORTS[@]}"; do up "$port" || start_node "$port"; done
  for port in "${PORTS[@]}"; do wait_until "node $port does not answer (see $DIR/$port/redis.log)" 40 up "$port"; done
  # a node that has never joined a cluster knows only itself: create the cluster once
  if [[ $(cli "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p') == 1 ]]; then
    local addresses=()
    for port in "${PORTS[@]}"; do addresses+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
      { cat "$DIR/create.log" >&2; exit 1; }
  fi
  wait_until "cluster_state is not ok (redis-cli -p ${PORTS[0]} cluster info)" 60 cluster_ok
  wait_until "replicas are not in sync (scripts/redis-cluster.sh status)" 60 replicas_in_sync
  echo "REDIS_CLUSTER=$(seeds)"
}

stop() {
  for port in "${PORTS[@]}"; do
    if up "$port"; then cli "$port" shutdown nosave >/dev/null 2>&1 || true; fi
  done
  for port in "${PORTS[@]}"; do wait_until "node $port is still running" 20 bash -c "! redis-cli -h 127.0.0.1 -p $port ping" || true; done
}

status() {
  if ! up "${PORTS[0]}"; then echo "redis-cluster: node ${PORTS[0]} is not running"; return 1; fi
  cli "${PORTS[0]}" cluster info | grep -E '^cluster_(state|slots_assigned|known_nodes|size):'
  cli "${PORTS[0]}" cluster nodes | awk '{ split($2, a, "@"); print a[1], $3 }' | sort
  echo "REDIS_CLUSTER=$(seeds)"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  wipe) stop; rm -rf "$DIR" ;;
  run) shift; REDIS_CLUSTER=$(seeds) exec "$@" ;;
  *) echo "usage: $0 start|stop|status|wipe|run COMMAND…" >&2; exit 2 ;;
esac
