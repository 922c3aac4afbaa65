#!/usr/bin/env bash
# Starts and stops the services tokenwatch needs for development, tests and the demo, natively
# (no Docker): Apache Kafka (KRaft, single node) from its Maven Central jars on the machine's Java,
# and ClickHouse from Debian's clickhouse-server package.
#
#   npm run services -- up       start both (idempotent), wait until they answer, print endpoints
#   npm run services -- down     stop exactly the processes this script started
#   npm run services -- status   say what runs
#   npm run services -- reset    down, then delete all service data
#   npm run services -- logs     print the tail of both servers' logs
#
# Settings (environment): TOKENWATCH_SERVICES_DIR (default ./.services), KAFKA_PORT (9092),
# KAFKA_CONTROLLER_PORT (9093), CLICKHOUSE_HTTP_PORT (8123), CLICKHOUSE_TCP_PORT (9000),
# KAFKA_HEAP (default -Xms256m -Xmx1g).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${TOKENWATCH_SERVICES_DIR:-$ROOT/.services}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
CH_HTTP_PORT="${CLICKHOUSE_HTTP_PORT:-8123}"
CH_TCP_PORT="${CLICKHOUSE_TCP_PORT:-9000}"
KAFKA_HEAP="${KAFKA_HEAP:--Xms256m -Xmx1g}"
KDIR="$DIR/kafka"
CDIR="$DIR/clickhouse"

say() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

http_get() { # host port path -> body (no curl needed)
  local body
  exec 4<>"/dev/tcp/$1/$2" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$3" "$1" >&4
  body="$(timeout 5 cat <&4 || true)"
  exec 4>&-
  printf '%s' "${body#*$'\r\n\r\n'}"
}

wait_for() { # description seconds command...
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
  say "$what is ready"
}

# ---------------------------------------------------------------- Kafka
kafka_lib_ok() { [ -f "$KDIR/lib/.complete" ] && cmp -s "$KDIR/lib/.complete" "$ROOT/services/kafka/pom.xml"; }

kafka_fetch() {
  kafka_lib_ok && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch the Kafka jars from Maven Central: apt-get install -y maven"
  say "fetching Apache Kafka jars from Maven Central (once) ..."
  rm -rf "$KDIR/lib"; mkdir -p "$KDIR/lib"
  mvn -q -B -f "$ROOT/services/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$KDIR/lib" -DincludeScope=runtime >"$KDIR/mvn.log" 2>&1 \
    || { tail -30 "$KDIR/mvn.log" >&2; die "mvn dependency:copy-dependencies failed (log: $KDIR/mvn.log)"; }
  cp "$ROOT/services/kafka/pom.xml" "$KDIR/lib/.complete"
}

kafka_up() {
  if alive "$KDIR/pid"; then say "Kafka already running (pid $(cat "$KDIR/pid"))"; return 0; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by a process this script did not start; stop it or set KAFKA_PORT"
  command -v java >/dev/null || die "Java 17+ is required for Kafka: apt-get install -y openjdk-17-jre-headless"
  local jv; jv="$(java -version 2>&1 | awk -F'"' '/version/ {print $2}' | cut -d. -f1)"
  [ "${jv:-0}" -ge 17 ] 2>/dev/null || die "Java 17+ is required for Kafka, found version '${jv:-unknown}'"
  kafka_fetch
  mkdir -p "$KDIR/data" "$KDIR/logs"
  sed -e "s#@DIR@#$KDIR#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/services/kafka/server.properties" >"$KDIR/server.properties"
  local cp="$KDIR/lib/*"
  local log4j="-Dlog4j.configuration=file:$ROOT/services/kafka/log4j.properties -Dkafka.logs.dir=$KDIR/logs"
  if [ ! -f "$KDIR/data/meta.properties" ]; then
    local cid; cid="$(java -cp "$cp" $log4j kafka.tools.StorageTool random-uuid)"
    java -cp "$cp" $log4j kafka.tools.StorageTool format -t "$cid" -c "$KDIR/server.properties" >"$KDIR/logs/format.log" 2>&1 \
      || { cat "$KDIR/logs/format.log" >&2; die "formatting Kafka storage failed"; }
  fi
  say "starting Kafka on 127.0.0.1:$KAFKA_PORT ..."
  # shellcheck disable=SC2086
  nohup java $KAFKA_HEAP -XX:+UseG1GC -Djava.awt.headless=true $log4j -cp "$cp" \
    kafka.Kafka "$KDIR/server.properties" >"$KDIR/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$KDIR/pid"
  wait_for "Kafka" 120 kafka_ready || { tail -40 "$KDIR/logs/server.log" "$KDIR/logs/stdout.log" >&2 || true; die "Kafka did not start within 120 s (logs: $KDIR/logs)"; }
}

kafka_ready() {
  alive "$KDIR/pid" || { tail -40 "$KDIR/logs/stdout.log" >&2 || true; die "Kafka exited during start-up (logs: $KDIR/logs)"; }
  port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$KDIR/logs/server.log" 2>/dev/null
}

# ---------------------------------------------------------------- ClickHouse
ch_bin() {
  if command -v clickhouse-server >/dev/null; then command -v clickhouse-server
  elif [ -x /usr/sbin/clickhouse-server ]; then echo /usr/sbin/clickhouse-server
  elif [ -x /usr/bin/clickhouse ]; then echo "/usr/bin/clickhouse server"
  else return 1; fi
}

ch_install() {
  ch_bin >/dev/null && return 0
  command -v apt-get >/dev/null || die "ClickHouse is not installed and apt-get is missing: install clickhouse-server for your system"
  local sudo=""; [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo="sudo" || die "installing clickhouse-server needs root (or sudo)"; }
  say "installing clickhouse-server and clickhouse-client from Debian's packages (once) ..."
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq clickhouse-server clickhouse-client kcat >"$DIR/apt.log" 2>&1 \
    || { tail -30 "$DIR/apt.log" >&2; die "apt-get install clickhouse-server failed (log: $DIR/apt.log)"; }
  ch_bin >/dev/null || die "clickhouse-server still not found after apt-get install"
}

ch_up() {
  if alive "$CDIR/pid"; then say "ClickHouse already running (pid $(cat "$CDIR/pid"))"; return 0; fi
  port_open "$CH_HTTP_PORT" && die "port $CH_HTTP_PORT is taken by a process this script did not start; stop it or set CLICKHOUSE_HTTP_PORT"
  ch_install
  mkdir -p "$CDIR/data" "$CDIR/tmp" "$CDIR/user_files" "$CDIR/logs"
  sed -e "s#@DIR@#$CDIR#g" -e "s#@HTTP_PORT@#$CH_HTTP_PORT#g" -e "s#@TCP_PORT@#$CH_TCP_PORT#g" \
    "$ROOT/services/clickhouse/config.xml" >"$CDIR/config.xml"
  cp "$ROOT/services/clickhouse/users.xml" "$CDIR/users.xml"
  say "starting ClickHouse on http://127.0.0.1:$CH_HTTP_PORT ..."
  # shellcheck disable=SC2046
  (cd "$CDIR" && nohup $(ch_bin) --config-file="$CDIR/config.xml" >"$CDIR/logs/stdout.log" 2>&1 </dev/null &
   echo $! >"$CDIR/pid")
  wait_for "ClickHouse" 90 ch_ready || { tail -40 "$CDIR/logs/clickhouse-server.err.log" "$CDIR/logs/stdout.log" >&2 || true; die "ClickHouse did not start within 90 s (logs: $CDIR/logs)"; }
  # the server re-executes itself at start: record the pid that actually serves, so `down` stops it
  local real; real="$(pgrep -n -f -- "--config-file=$CDIR/config.xml" || true)"
  [ -n "$real" ] && echo "$real" >"$CDIR/pid"
}

ch_ready() {
  alive "$CDIR/pid" || pgrep -f -- "--config-file=$CDIR/config.xml" >/dev/null || { tail -40 "$CDIR/logs/stdout.log" "$CDIR/logs/clickhouse-server.err.log" >&2 || true; die "ClickHouse exited during start-up (logs: $CDIR/logs)"; }
  [ "$(http_get 127.0.0.1 "$CH_HTTP_PORT" /ping 2>/dev/null)" = "Ok." ]
}

# kcat (Debian's Kafka command-line client) is what the tests and docs use as "another client".
kcat_install() {
  command -v kcat >/dev/null && return 0
  command -v apt-get >/dev/null || { say "kcat not found (install it to produce events by hand)"; return 0; }
  [ "$(id -u)" = 0 ] || { say "kcat not found: sudo apt-get install -y kcat"; return 0; }
  say "installing kcat from Debian's packages (once) ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat; } >"$DIR/apt-kcat.log" 2>&1 \
    || say "could not install kcat (log: $DIR/apt-kcat.log)"
}

# ---------------------------------------------------------------- common
stop_pid() { # name pidfile
  local pidf="$2"
  if ! alive "$pidf"; then rm -f "$pidf"; say "$1 not running"; return 0; fi
  local pid; pid="$(cat "$pidf")"
  say "stopping $1 (pid $pid) ..."
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "$1 did not stop in 30 s, killing"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidf"
}

status() {
  if alive "$KDIR/pid"; then echo "kafka:      running (pid $(cat "$KDIR/pid")) KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"; else echo "kafka:      stopped"; fi
  if alive "$CDIR/pid"; then echo "clickhouse: running (pid $(cat "$CDIR/pid")) CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT"; else echo "clickhouse: stopped"; fi
  bash "$ROOT/scripts/gateway.sh" status 2>/dev/null || true
}

case "${1:-}" in
  up)
    mkdir -p "$DIR"
    ch_up
    kafka_up
    kcat_install
    # the real gateway parts the gateway tests run (nginx + njs, haproxy, rsyslog + omkafka): packages only
    bash "$ROOT/scripts/gateway.sh" install || say "gateway packages missing: the test/gateway suites will fail (run scripts/gateway.sh install as root)"
    [ "${TOKENWATCH_GATEWAY:-0}" = 1 ] && bash "$ROOT/scripts/gateway.sh" up
    echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
    echo "CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT"
    ;;
  down)
    bash "$ROOT/scripts/gateway.sh" down >/dev/null 2>&1 || true
    stop_pid Kafka "$KDIR/pid"
    stop_pid ClickHouse "$CDIR/pid"
    ;;
  status) status ;;
  reset)
    stop_pid Kafka "$KDIR/pid"
    stop_pid ClickHouse "$CDIR/pid"
    rm -rf "$KDIR/data" "$KDIR/logs" "$CDIR"
    say "service data removed (Kafka jars kept in $KDIR/lib)"
    ;;
  logs)
    tail -n 30 "$KDIR/logs/server.log" "$CDIR/logs/clickhouse-server.err.log" 2>/dev/null || true
    ;;
  *)
    echo "usage: npm run services -- up|down|status|reset|logs" >&2
    exit 2
    ;;
esac
