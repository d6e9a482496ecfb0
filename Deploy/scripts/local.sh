#!/usr/bin/env bash
# The local system in the background: a private PostgreSQL and the three daemons on loopback, with
# a freshly generated internal secret and token key. For scripts, benchmarks and trying AURORA out.
#   local.sh start          build (release) if needed, start everything, print how to reach it
#   local.sh token USER [SCOPES]   print a token for USER (scopes: analyze,feedback by default)
#   local.sh status         what runs, and where
#   local.sh stop           stop the daemons (graceful drain), then PostgreSQL
# Settings (environment):
#   AURORA_LOCAL_DIR   state, logs and keys (default /tmp/aurora-local)
#   AURORA_PG_PORT     PostgreSQL port (default 55432)
#   AURORA_GATEWAY_PORT / AURORA_PARSER_PORT / AURORA_LEARNING_PORT   default 7101 / 7102 / 7103
#   AURORA_GATEWAY_ADMIN_PORT / AURORA_PARSER_ADMIN_PORT / AURORA_LEARNING_ADMIN_PORT   default 9101 / 9102 / 9103
#   AURORA_LOCAL_BUILD=0  use the existing .build/release binaries without building
# Any other AURORA_* variable the daemons read (rate limits, epsilon, ...) passes through.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${AURORA_LOCAL_DIR:-/tmp/aurora-local}
bin="$root/.build/release"
gateway_port=${AURORA_GATEWAY_PORT:-7101}
parser_port=${AURORA_PARSER_PORT:-7102}
learning_port=${AURORA_LEARNING_PORT:-7103}
gateway_admin=${AURORA_GATEWAY_ADMIN_PORT:-9101}
parser_admin=${AURORA_PARSER_ADMIN_PORT:-9102}
learning_admin=${AURORA_LEARNING_ADMIN_PORT:-9103}
export AURORA_PG_DIR="$dir/pg" AURORA_PG_PORT=${AURORA_PG_PORT:-55432}

wait_ready() { # wait_ready NAME: until the daemon wrote its ready file (or died)
  local name=$1
  for _ in $(seq 1 600); do
    [ -s "$dir/$name.ready" ] && return 0
    if ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
      echo "$name exited during start-up; its log ($dir/$name.log) ends with:" >&2
      tail -20 "$dir/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not become ready within 60 s; see $dir/$name.log" >&2
  return 1
}

launch() { # launch NAME BINARY [ARGS...]: in the background, logs to $dir/NAME.log
  local name=$1; shift
  rm -f "$dir/$name.ready"
  AURORA_READY_FILE="$dir/$name.ready" MALLOC_ARENA_MAX=2 nohup "$@" >>"$dir/$name.log" 2>&1 </dev/null &
  echo $! >"$dir/$name.pid"
  wait_ready "$name"
}

stop_daemon() { # stop_daemon NAME: SIGTERM, wait for the drain, SIGKILL after 30 s
  local name=$1 pid
  [ -f "$dir/$name.pid" ] || return 0
  pid=$(cat "$dir/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "$name did not stop in 30 s; killing it" >&2; kill -KILL "$pid" 2>/dev/null || true; }
  fi
  rm -f "$dir/$name.pid" "$dir/$name.ready"
}

token() { # token USER [SCOPES]
  AURORA_JWT_KEYS_FILE="$dir/jwks.json" "$bin/gateway" token issue --user "$1" --scopes "${2:-analyze,feedback}" --ttl 12h
}

case "${1:-}" in
  start)
    mkdir -p "$dir"
    chmod 711 "$dir"  # others may traverse (the postgres user reaches pg/), not list
    if [ "${AURORA_LOCAL_BUILD:-1}" != 0 ]; then
      (cd "$root" && swift build -c release --product gateway && swift build -c release --product parser-service \
        && swift build -c release --product learning-service && swift build -c release --product aurora) >&2
    fi
    # Fresh secrets for this system (kept across restarts of the same directory).
    [ -s "$dir/internal-secret" ] || (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$dir/internal-secret")
    [ -s "$dir/pseudonym-keys" ] || (umask 077; printf 'k1 %s\n' "$(head -c 32 /dev/urandom | base64 -w0)" >"$dir/pseudonym-keys")
    [ -s "$dir/jwks.json" ] || "$bin/gateway" keys generate --out "$dir/jwks.json" --alg EdDSA --kid "local-$(date +%s)" >/dev/null
    database_url=$("$root/Deploy/scripts/postgres.sh" start)
    export AURORA_INTERNAL_SECRET_FILE="$dir/internal-secret"
    launch parser-service "$bin/parser-service" --port "$parser_port" --admin-port "$parser_admin"
    AURORA_DATABASE_URL="$database_url" AURORA_PSEUDONYM_KEY_FILE="$dir/pseudonym-keys" launch learning-service "$bin/learning-service" --port "$learning_port" --admin-port "$learning_admin"
    AURORA_JWT_KEYS_FILE="$dir/jwks.json" launch gateway "$bin/gateway" serve --port "$gateway_port" --admin-port "$gateway_admin" \
      --parser "127.0.0.1:$parser_port" --learning "127.0.0.1:$learning_port"
    cat >"$dir/env" <<EOF
export AURORA_GATEWAY=127.0.0.1:$gateway_port
export AURORA_JWT_KEYS_FILE=$dir/jwks.json
EOF
    cat <<EOF
AURORA is running on loopback (state and logs in $dir):
  gateway           127.0.0.1:$gateway_port   admin http://127.0.0.1:$gateway_admin/metrics
  parser-service    127.0.0.1:$parser_port   admin http://127.0.0.1:$parser_admin/metrics
  learning-service  127.0.0.1:$learning_port   admin http://127.0.0.1:$learning_admin/metrics
  PostgreSQL        $database_url
A token for any user:   $0 token USER [analyze,feedback,admin]
Then:                   AURORA_GATEWAY=127.0.0.1:$gateway_port AURORA_TOKEN=\$($0 token me) $bin/aurora analyze FILE
Stop everything:        $0 stop
EOF
    ;;
  token)
    [ -n "${2:-}" ] || { echo "usage: $0 token USER [SCOPES]" >&2; exit 64; }
    token "$2" "${3:-}"
    ;;
  status)
    for name in gateway parser-service learning-service; do
      if [ -f "$dir/$name.pid" ] && kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then
        echo "$name: running (pid $(cat "$dir/$name.pid"), $(cat "$dir/$name.ready" 2>/dev/null))"
      else
        echo "$name: stopped"
      fi
    done
    ;;
  stop)
    # The gateway first, so no new work reaches the services while they drain.
    stop_daemon gateway
    stop_daemon parser-service
    stop_daemon learning-service
    "$root/Deploy/scripts/postgres.sh" stop
    ;;
  *)
    echo "usage: $0 start|token USER [SCOPES]|status|stop" >&2
    exit 64
    ;;
esac
