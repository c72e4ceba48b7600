#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the distributed tests.
#
#   eval "$(.ci/start-postgres.sh)"
#
# Run as root. Idempotent: installs PostgreSQL when missing, creates a cluster in
# $SKNN_PG_DIR (default /tmp/sknn-postgres) owned by the "postgres" user, starts it on
# a free loopback port (or reuses the server already running there), creates the
# database "sknn_test", and prints the line that exports SKNN_TEST_POSTGRES_URL.
# Everything but that line goes to stderr.
set -euo pipefail

DIR="${SKNN_PG_DIR:-/tmp/sknn-postgres}"
DATA="$DIR/data"
DB=sknn_test

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if [ -z "$(pg_bin)" ]; then
    echo "installing postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || true
    apt-get install -y -qq postgresql >&2
fi
BIN="$(pg_bin)"
as_pg() { runuser -u postgres -- "$@"; }

mkdir -p "$DIR"
chown postgres:postgres "$DIR"
if [ ! -f "$DATA/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres --no-sync >&2
fi

if as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    PORT="$(cat "$DIR/port")"
else
    # Not running: a postmaster.pid left by a killed server is stale (its process id
    # may belong to another process by now, which would stop the start).
    rm -f "$DATA/postmaster.pid"
    PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    echo "$PORT" > "$DIR/port"
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w \
        -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off" start >&2
fi

if ! as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB" >&2
fi

echo "export SKNN_TEST_POSTGRES_URL=postgresql+psycopg2://postgres@127.0.0.1:$PORT/$DB"
