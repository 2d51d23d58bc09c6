#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server for tests and benchmarks: a new cluster in a folder of its own, listening on a
# free loopback port (and a unix socket in the folder), fsync on, trust authentication for the local user `strata`,
# a database `strata`. Installs the server package (postgresql-15, Debian/Ubuntu) when the binaries are missing and
# this runs as root; fails — never skips — when it cannot start a server.
#
#   scripts/postgres-test-server.sh start DIR   # creates DIR, starts the server, prints its URL (also in DIR/url)
#   scripts/postgres-test-server.sh url DIR     # prints the URL of the server in DIR
#   scripts/postgres-test-server.sh stop DIR    # stops the server and removes DIR
#   scripts/postgres-test-server.sh ensure DIR  # prints the URL of the server running in DIR, starting one first if none
#   scripts/postgres-test-server.sh running DIR # status 0 when a server of this script runs in DIR
#   scripts/postgres-test-server.sh restart DIR # stops the server in DIR (fast mode) and starts it again, same port
#
# PostgreSQL refuses to run as root: as root, the server runs as the system user `postgres` (created when missing).
set -euo pipefail

usage() { echo "usage: $0 start|url|stop|ensure|running|restart DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
command="$1"
dir="$2"

bindir() {
  local candidate
  for candidate in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_server() {
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "postgres-test-server: installing postgresql-15 with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql-15 postgresql-client-15 >/dev/null
  else
    echo "postgres-test-server: the PostgreSQL 15 server binaries are missing; install postgresql-15" >&2
    exit 1
  fi
}

# Runs a command as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

running() {
  [ -f "$dir/url" ] && [ -f "$dir/data/postmaster.pid" ] && bindir >/dev/null &&
    as_owner "$(bindir)/pg_ctl" --pgdata="$dir/data" status >/dev/null 2>&1
}

case "$command" in
  running)
    running
    ;;
  ensure)
    if running; then cat "$dir/url"; exit 0; fi
    [ -e "$dir" ] && rm -rf "$dir"
    exec "$0" start "$dir"
    ;;
  restart)
    bin="$(bindir)"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null
    port="$(sed -E 's/.*:([0-9]+)\/.*/\1/' "$dir/url")"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on -c max_connections=500" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    ;;
  start)
    bin="$(bindir || { install_server; bindir; })"
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
      echo "postgres-test-server: $dir exists and is not empty" >&2
      exit 1
    fi
    if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
    fi
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    if [ "$(id -u)" = "0" ]; then
      chown postgres "$dir"
      runuser -u postgres -- test -w "$dir" || {
        echo "postgres-test-server: the user postgres cannot reach $dir (a parent folder is not traversable by others: chmod o+x it, or use another folder)" >&2
        exit 1
      }
    fi
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=strata --auth=trust --encoding=UTF8 --locale=C.UTF-8 --data-checksums \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port="$(free_port)"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=on -c max_connections=500" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" --host="$dir" --port="$port" --username=strata strata
    url="postgres://strata@127.0.0.1:$port/strata"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  url)
    cat "$dir/url"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      bin="$(bindir)"
      as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
