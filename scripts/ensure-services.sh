#!/usr/bin/env bash
# Make sure Redis and PostgreSQL answer, starting local ones when they do not (a fresh machine has
# them installed but not running); with --cluster, the local Redis Cluster of scripts/redis-cluster.sh
# as well. Services elsewhere (REDIS_URL / DATABASE_URL pointing at another host, e.g. in docker
# compose) are only waited for, never started.
set -euo pipefail

REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}

# --cluster: also the local Redis Cluster of scripts/redis-cluster.sh (npm run test:cluster)
with_cluster=false
[[ ${1:-} == --cluster ]] && with_cluster=true

# host and port out of a URL like scheme://user:pass@host:port/db
url_host() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; echo "${rest%%:*}"; }
url_port() { local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}; [[ $rest == *:* ]] && echo "${rest##*:}" || echo "$2"; }
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

wait_for() { # description, attempts, command...
  local what=$1 tries=$2; shift 2
  for ((i = 0; i < tries; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  echo "ensure-services: $what does not answer" >&2
  return 1
}

install_if_missing() { # command, debian package
  command -v "$1" >/dev/null 2>&1 && return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-services: installing $2" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null
  else
    echo "ensure-services: $1 is not installed; install the Debian package $2" >&2
    return 1
  fi
}

redis_host=$(url_host "$REDIS_URL"); redis_port=$(url_port "$REDIS_URL" 6379)
install_if_missing redis-cli redis-tools
if ! redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
  if is_local "$redis_host"; then
    install_if_missing redis-server redis-server
    echo "ensure-services: starting redis-server on port $redis_port" >&2
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$redis_port" --save "" --appendonly no \
      --maxmemory-policy noeviction >/dev/null
  fi
  wait_for "Redis at $redis_host:$redis_port" 40 redis-cli -h "$redis_host" -p "$redis_port" ping
fi

if $with_cluster; then
  install_if_missing redis-server redis-server
  bash "$(dirname "$0")/redis-cluster.sh" start >/dev/null
fi

pg_host=$(url_host "$DATABASE_URL"); pg_port=$(url_port "$DATABASE_URL" 5432)
install_if_missing pg_isready postgresql-client
if ! pg_isready -q -h "$pg_host" -p "$pg_port"; then
  if is_local "$pg_host" && command -v pg_ctlcluster >/dev/null 2>&1 && [[ -d /etc/postgresql ]]; then
    version=$(ls /etc/postgresql | sort -V | tail -1)
    echo "ensure-services: starting PostgreSQL $version" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  wait_for "PostgreSQL at $pg_host:$pg_port" 60 pg_isready -q -h "$pg_host" -p "$pg_port"
fi
