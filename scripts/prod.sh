#!/bin/sh
# A production-like stack on one machine, without containers: scripts/prod.sh start|stop|status
#
#   PostgreSQL  a private cluster in $PROD_DIR/pg (initdb/pg_ctl), on a unix socket only; its log there
#   Redis       private, in $PROD_DIR/redis, on 127.0.0.1:$PROD_REDIS_PORT (rate-limit counters)
#   gunicorn    4 workers, SHOP_ENV=production, on 127.0.0.1:$PROD_HTTP_PORT
#   dispatcher  flask --app shop deliver --watch
#   cron        expire-holds every 5 minutes, purge and backup once a day (docs/DEPLOY.md section 7)
#
# The secret key is generated once and kept in $PROD_DIR/secret_key (0600). Settings (defaults):
# PROD_DIR (instance/prod), PROD_HTTP_PORT (8000), PROD_REDIS_PORT (6380), PROD_PG_PORT (5433),
# PROD_WORKERS (4). Logs: $PROD_DIR/log/. PostgreSQL refuses to run as root: run as root, the
# cluster runs as the user `postgres` (the script refuses when there is none).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${PROD_DIR:-$ROOT/instance/prod}
HTTP_PORT=${PROD_HTTP_PORT:-8000}
REDIS_PORT=${PROD_REDIS_PORT:-6380}
PG_PORT=${PROD_PG_PORT:-5433}
WORKERS=${PROD_WORKERS:-4}
VENV=${PROD_VENV:-$ROOT/.venv}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PGDATA=$DIR/pg/data
PGRUN=$DIR/pg/run
LOG=$DIR/log
RUN=$DIR/run

fail() { echo "scripts/prod.sh: $*" >&2; exit 1; }

# PostgreSQL commands run as the current user, or as `postgres` when we are root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() {  # running NAME: its pid file names a live process
    [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null
}

database_url() {
    echo "postgresql://shop@/shop?host=$PGRUN&port=$PG_PORT"
}

shop_env() {  # the production settings every process of the stack gets
    export SHOP_ENV=production
    SECRET_KEY=$(cat "$DIR/secret_key")
    export SECRET_KEY
    DATABASE_URL=$(database_url)
    export DATABASE_URL
    export RATELIMIT_STORAGE_URI="redis://127.0.0.1:$REDIS_PORT/0"
    export WEB_CONCURRENCY="$WORKERS"
    export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$HTTP_PORT}"
    export UPLOAD_FOLDER="$DIR/uploads"
    export SMS_FOLDER="$DIR/sms"
    export PYTHONPATH="$ROOT"
    unset FLASK_DEBUG GUNICORN_CMD_ARGS PORT STRIPE_API_BASE
}

check() {
    [ -x "$VENV/bin/gunicorn" ] || fail "no $VENV/bin/gunicorn: run \`make setup\` first."
    [ -x "$PG_BIN/initdb" ] || fail "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql)."
    command -v redis-server >/dev/null || fail "redis-server is not installed (Debian: apt-get install redis-server)."
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || fail "running as root, but PostgreSQL refuses root and there is no user 'postgres': run as an ordinary user."
        command -v runuser >/dev/null || fail "running as root needs runuser (util-linux) to start PostgreSQL as 'postgres'."
    fi
}

start_postgres() {
    mkdir -p "$DIR/pg"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA" "$PGRUN"
        if [ "$(id -u)" = 0 ]; then chown -R postgres: "$DIR/pg"; fi
        # Local connections only (a unix socket in $PGRUN, closed to other users), no password.
        as_pg "$PG_BIN/initdb" --pgdata="$PGDATA" --username=shop --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
            >"$LOG/initdb.log" 2>&1 || fail "initdb failed: see $LOG/initdb.log"
    fi
    # Only the owner reaches the socket (connections are trusted without a password).
    chmod 0700 "$PGRUN"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PGRUN"; fi
    if ! as_pg "$PG_BIN/pg_ctl" status --pgdata="$PGDATA" >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" start --wait --pgdata="$PGDATA" --log="$DIR/pg/postgresql.log" \
            -o "-c listen_addresses='' -c unix_socket_directories='$PGRUN' -p $PG_PORT" >/dev/null \
            || fail "PostgreSQL did not start: see $DIR/pg/postgresql.log"
    fi
    if ! as_pg "$PG_BIN/psql" -h "$PGRUN" -p "$PG_PORT" -U shop -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'shop'" | grep -q 1; then
        as_pg "$PG_BIN/createdb" -h "$PGRUN" -p "$PG_PORT" -U shop shop || fail "could not create the database shop."
    fi
}

start_redis() {
    running redis && return
    mkdir -p "$DIR/redis"
    # Counters only: nothing saved to disk.
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --save '' --appendonly no \
        --daemonize yes --pidfile "$RUN/redis.pid" --logfile "$LOG/redis.log" \
        || fail "Redis did not start: see $LOG/redis.log"
    i=0
    until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -lt 100 ] || fail "Redis does not answer on port $REDIS_PORT: see $LOG/redis.log"; sleep 0.1
    done
}

background() {  # background NAME COMMAND...: started in its own session, its pid kept
    name=$1; shift
    running "$name" && return
    setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN/$name.pid"
}

cron_loop() {  # the cron of docs/DEPLOY.md section 7, for one machine; failures go to cron.log with the time
    last_expire=0; last_daily=0
    while :; do
        now=$(date +%s)
        if [ $((now - last_expire)) -ge 300 ]; then
            "$VENV/bin/flask" --app shop expire-holds >/dev/null || echo "$(date -u +%FT%TZ) expire-holds failed" >&2
            last_expire=$now
        fi
        if [ $((now - last_daily)) -ge 86400 ]; then
            "$VENV/bin/flask" --app shop purge >/dev/null || echo "$(date -u +%FT%TZ) purge failed" >&2
            "$VENV/bin/flask" --app shop backup "$DIR/backups/shop-$(date +%F).dump" >/dev/null \
                || echo "$(date -u +%FT%TZ) backup failed" >&2
            last_daily=$now
        fi
        sleep 30
    done
}

start() {
    check
    started=$(date +%s.%N)
    mkdir -p "$DIR" "$LOG" "$RUN" "$DIR/backups" "$DIR/uploads"
    chmod 0755 "$DIR"
    if [ ! -s "$DIR/secret_key" ]; then
        (umask 077 && "$VENV/bin/python" -c "import secrets; print(secrets.token_urlsafe(48))" >"$DIR/secret_key")
    fi
    chmod 0600 "$DIR/secret_key"
    start_postgres
    start_redis
    shop_env
    cd "$ROOT"
    "$VENV/bin/flask" --app shop db upgrade >>"$LOG/migrations.log" 2>&1 \
        || fail "the migrations failed: see $LOG/migrations.log"
    background gunicorn "$VENV/bin/gunicorn" --workers "$WORKERS" --bind "127.0.0.1:$HTTP_PORT" --timeout 30 \
        --graceful-timeout 30 --access-logfile - --logger-class shop.accesslog.GunicornLogger 'shop:create_app()'
    background dispatcher "$VENV/bin/flask" --app shop deliver --watch
    background cron "$0" cron-loop
    i=0
    until "$VENV/bin/python" -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:$HTTP_PORT/healthz', timeout=2).status != 200)" 2>/dev/null; do
        running gunicorn || fail "gunicorn stopped: see $LOG/gunicorn.log"
        i=$((i + 1)); [ $i -lt 600 ] || fail "the shop does not answer on port $HTTP_PORT: see $LOG/gunicorn.log"; sleep 0.2
    done
    echo "Ready in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }") s: http://127.0.0.1:$HTTP_PORT (logs in $LOG)"
}

stop_one() {  # stop_one NAME: TERM to its whole session, then wait
    running "$1" || { rm -f "$RUN/$1.pid"; return 0; }
    pid=$(cat "$RUN/$1.pid")
    kill -TERM "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true  # its session: gunicorn and its workers
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.2; done
    kill -KILL "-$pid" 2>/dev/null || true
    rm -f "$RUN/$1.pid"
}

stop() {
    for name in cron dispatcher gunicorn; do stop_one "$name"; done
    if running redis; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill -TERM "$(cat "$RUN/redis.pid")"
        i=0; while running redis && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
        rm -f "$RUN/redis.pid"
    fi
    if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status --pgdata="$PGDATA" >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" stop --wait --mode=fast --pgdata="$PGDATA" >/dev/null
    fi
    echo "Stopped."
}

status() {
    code=0
    for name in gunicorn dispatcher cron redis; do
        if running "$name"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; code=3; fi
    done
    if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" status --pgdata="$PGDATA" >/dev/null 2>&1; then
        echo "postgresql: running ($PGDATA)"
    else
        echo "postgresql: stopped"; code=3
    fi
    return $code
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    cron-loop) [ -f "$DIR/secret_key" ] || fail "cron-loop runs inside the stack: use start."; shop_env; cd "$ROOT"; cron_loop ;;
    *) echo "usage: scripts/prod.sh start|stop|status" >&2; exit 2 ;;
esac
