#!/usr/bin/env bash
# A private PostgreSQL cluster for tests and the local system, run as an unprivileged user (the
# server refuses root): `postgres.sh start` prints the connection URL; `postgres.sh stop`; `restart`
# (fast) and `restart-immediate` (as after a crash).
#   AURORA_PG_DIR   where the cluster lives (default /tmp/aurora-pg)
#   AURORA_PG_PORT  its port on 127.0.0.1 (default 55432)
set -euo pipefail
dir=${AURORA_PG_DIR:-/tmp/aurora-pg}
port=${AURORA_PG_PORT:-55432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (Deploy/scripts/install-deps.sh installs it)" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" -eq 0 ]; then owner=postgres; else owner=$(id -un); fi
url="postgresql://${owner}@127.0.0.1:${port}/aurora"
# The server must not inherit the caller's descriptors (a caller waiting for a pipe to close
# would wait for the server's lifetime).
for fd in $(ls /proc/$$/fd); do
  if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
case "${1:-}" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      mkdir -p "$dir"
      if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
      as_owner "$bin/initdb" -D "$dir/data" -A trust -U "$owner" -E UTF8 >/dev/null
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null
    fi
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U "$owner" -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'aurora'" | grep -q 1 \
      || as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$owner" aurora
    echo "$url"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  restart)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 -l "$dir/server.log" restart >/dev/null
    ;;
  restart-immediate)
    # As after a crash: every backend is killed at once, then the server recovers and starts.
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 60 -l "$dir/server.log" restart >/dev/null
    ;;
  dump)
    as_owner "$bin/pg_dump" -h 127.0.0.1 -p "$port" -U "$owner" aurora
    ;;
  url)
    echo "$url"
    ;;
  *)
    echo "usage: $0 start|stop|restart|restart-immediate|dump|url" >&2
    exit 64
    ;;
esac
