#!/usr/bin/env bash
# The gateway half of the closed loop, natively (no Docker), next to scripts/services.sh:
# NGINX with njs computing tfp1 fingerprints (gateway/nginx/), asking the tokenwatch
# denylist-server before proxying (auth_request), and shipping its JSON access log over syslog to
# a separate rsyslogd that produces it to Kafka with omkafka (lz4). An upstream (a tiny node
# server) answers behind NGINX.
#
#   scripts/gateway.sh install   install Debian's nginx, libnginx-mod-http-js, haproxy, rsyslog,
#                                rsyslog-kafka, luajit, lua-cjson when missing (idempotent, root)
#   scripts/gateway.sh up        start upstream, rsyslog, NGINX (idempotent), wait until ready
#   scripts/gateway.sh down      stop exactly the processes this script started
#   scripts/gateway.sh status    say what runs and print the endpoints
#   scripts/gateway.sh logs      print the tail of the NGINX and rsyslog logs
#
# Settings (environment): TOKENWATCH_FP_KEY (required for up: the tfp1 key, >= 16 bytes, the same
# as the processor's and the denylist-server's; never printed), KAFKA_BROKERS (127.0.0.1:9092),
# TOKENWATCH_GATEWAY_TOPIC (gateway.nginx), TOKENWATCH_GATEWAY_PARTITIONS (3, when created),
# TOKENWATCH_NGINX_PORT (8088), TOKENWATCH_BRIDGE_PORT (8089: where the denylist-server listens),
# TOKENWATCH_SYSLOG_PORT (5514, UDP), TOKENWATCH_UPSTREAM_PORT (8087),
# TOKENWATCH_GATEWAY_FAIL_MODE (closed: 503 while the denylist-server is down or not ready; open:
# allow), TOKENWATCH_SERVICES_DIR (./.services; state goes to its gateway/ folder).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${TOKENWATCH_SERVICES_DIR:-$ROOT/.services}/gateway"
NGINX_PORT="${TOKENWATCH_NGINX_PORT:-8088}"
BRIDGE_PORT="${TOKENWATCH_BRIDGE_PORT:-8089}"
SYSLOG_PORT="${TOKENWATCH_SYSLOG_PORT:-5514}"
UPSTREAM_PORT="${TOKENWATCH_UPSTREAM_PORT:-8087}"
BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
TOPIC="${TOKENWATCH_GATEWAY_TOPIC:-gateway.nginx}"
PARTITIONS="${TOKENWATCH_GATEWAY_PARTITIONS:-3}"
FAIL_MODE="${TOKENWATCH_GATEWAY_FAIL_MODE:-closed}"
PACKAGES=(nginx libnginx-mod-http-js haproxy rsyslog rsyslog-kafka luajit lua-cjson)
# the project's tools (node 24) first, as in scripts/test.sh
export PATH="$ROOT/node_modules/.bin:$PATH"

say() { printf '[gateway] %s\n' "$*" >&2; }
die() { printf '[gateway] error: %s\n' "$*" >&2; exit 1; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
udp_bound() { # port -> bound on 127.0.0.1 or 0.0.0.0 (from /proc, no tools needed)
  local hex; hex="$(printf '%04X' "$1")"
  grep -qE "^ *[0-9]+: (0100007F|00000000):$hex " /proc/net/udp 2>/dev/null
}

http_status() { # port path -> HTTP status code (no curl needed)
  local line
  exec 4<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&4
  IFS= read -r -t 3 line <&4 || true
  exec 4>&-
  line="${line#HTTP/1.? }"
  printf '%s' "${line%% *}"
}

wait_for() { # description seconds command...
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
  say "$what is ready"
}

# ---------------------------------------------------------------- install
missing_packages() {
  local p out=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  printf '%s\n' "${out[@]}"
}

install() {
  command -v dpkg-query >/dev/null || die "not a Debian system: install nginx with the njs module, haproxy >= 2.6, rsyslog with omkafka, luajit yourself"
  local missing; mapfile -t missing < <(missing_packages)
  if [ "${#missing[@]}" -eq 0 ] || [ -z "${missing[0]}" ]; then say "packages present: ${PACKAGES[*]}"; return 0; fi
  local sudo=""; [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo="sudo" || die "installing ${missing[*]} needs root (or sudo)"; }
  mkdir -p "$DIR"
  say "installing ${missing[*]} from Debian's packages (once) ..."
  # the packages would start the system nginx (port 80) and the system rsyslog: not wanted here
  local policy=/usr/sbin/policy-rc.d created=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by tokenwatch scripts/gateway.sh install, removed when it ends\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    created=1
  fi
  local rc=0
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$DIR/apt.log" 2>&1 || rc=$?
  [ -n "$created" ] && $sudo rm -f "$policy"
  [ $rc = 0 ] || { tail -30 "$DIR/apt.log" >&2; die "apt-get install ${missing[*]} failed (log: $DIR/apt.log)"; }
  mapfile -t missing < <(missing_packages)
  [ -z "${missing[0]:-}" ] || die "still missing after apt-get install: ${missing[*]}"
  say "installed; versions: $(versions)"
}

versions() {
  local v=()
  command -v nginx >/dev/null && v+=("$(nginx -v 2>&1 | sed 's#.*/##')")
  v+=("njs $(dpkg-query -W -f='${Version}' libnginx-mod-http-js 2>/dev/null || echo none)")
  command -v haproxy >/dev/null && v+=("haproxy $(haproxy -v | awk 'NR==1{print $3}')")
  command -v rsyslogd >/dev/null && v+=("rsyslog $(rsyslogd -v | awk 'NR==1{print $2}')")
  v+=("librdkafka $(dpkg-query -W -f='${Version}' librdkafka1 2>/dev/null || echo none)")
  command -v luajit >/dev/null && v+=("$(luajit -v | awk '{print $1" "$2}')")
  local IFS=,; printf '%s' "${v[*]}"
}

js_module() {
  local m
  for m in /usr/lib/nginx/modules/ngx_http_js_module.so /usr/lib64/nginx/modules/ngx_http_js_module.so /etc/nginx/modules/ngx_http_js_module.so; do
    [ -f "$m" ] && { echo "$m"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------- up
check_settings() {
  [ -n "${TOKENWATCH_FP_KEY:-}" ] || die "TOKENWATCH_FP_KEY must be set to the tfp1 key (>= 16 bytes), the same one the processor and the denylist-server use"
  [ "$(printf '%s' "$TOKENWATCH_FP_KEY" | wc -c)" -ge 16 ] || die "TOKENWATCH_FP_KEY must be at least 16 bytes (value not shown)"
  local p
  for p in NGINX_PORT BRIDGE_PORT SYSLOG_PORT UPSTREAM_PORT PARTITIONS; do
    [[ "${!p}" =~ ^[0-9]+$ ]] && [ "${!p}" -ge 1 ] && [ "${!p}" -le 65535 ] || die "$p must be a number 1-65535, got '${!p}'"
  done
  case "$FAIL_MODE" in closed|open) ;; *) die "TOKENWATCH_GATEWAY_FAIL_MODE must be closed or open, got '$FAIL_MODE'";; esac
  [[ "$BROKERS" =~ ^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$ ]] || die "KAFKA_BROKERS must look like host:9092[,host:9092], got '$BROKERS'"
  [[ "$TOPIC" =~ ^[A-Za-z0-9._-]+$ ]] || die "TOKENWATCH_GATEWAY_TOPIC may only hold letters, digits, '.', '_', '-', got '$TOPIC'"
  command -v nginx >/dev/null && js_module >/dev/null && command -v rsyslogd >/dev/null \
    && [ -f /usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so -o -n "$(find /usr/lib -name omkafka.so -print -quit 2>/dev/null)" ] \
    || die "nginx, its njs module or rsyslog with omkafka is missing: run scripts/gateway.sh install"
  command -v node >/dev/null || die "node is required for the upstream (npm ci puts Node 24 in node_modules/.bin)"
}

render() { # template output
  local brokers_q; brokers_q="$(printf '"%s",' ${BROKERS//,/ })"; brokers_q="${brokers_q%,}"
  local fail=""
  if [ "$FAIL_MODE" = open ]; then
    fail=$'            # fail-open: a denylist-server that is down, slow or not ready allows the request\n            proxy_intercept_errors on;\n            error_page 500 502 503 504 = @tokenwatch_fail_open;'
  else
    fail='            # fail-closed: a denylist-server that is down, slow or not ready makes this a 503'
  fi
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    if [ "$line" = "@FAIL_MODE@" ]; then printf '%s\n' "$fail"; continue; fi
    line="${line//@DIR@/$DIR}"; line="${line//@ROOT@/$ROOT}"
    line="${line//@NGINX_PORT@/$NGINX_PORT}"; line="${line//@BRIDGE_PORT@/$BRIDGE_PORT}"
    line="${line//@SYSLOG_PORT@/$SYSLOG_PORT}"; line="${line//@UPSTREAM_PORT@/$UPSTREAM_PORT}"
    line="${line//@BROKERS@/$brokers_q}"; line="${line//@TOPIC@/$TOPIC}"
    line="${line//@JS_MODULE@/$(js_module)}"
    printf '%s\n' "$line"
  done <"$1" >"$2"
}

upstream_up() {
  if alive "$DIR/upstream.pid"; then say "upstream already running (pid $(cat "$DIR/upstream.pid"))"; return 0; fi
  port_open "$UPSTREAM_PORT" && die "port $UPSTREAM_PORT is taken by a process this script did not start; stop it or set TOKENWATCH_UPSTREAM_PORT"
  say "starting the upstream on 127.0.0.1:$UPSTREAM_PORT ..."
  nohup node "$ROOT/gateway/loop/upstream.mjs" "$UPSTREAM_PORT" >"$DIR/upstream.log" 2>&1 </dev/null &
  echo $! >"$DIR/upstream.pid"
  wait_for "upstream" 15 upstream_ready || { tail -20 "$DIR/upstream.log" >&2; die "the upstream did not start (log: $DIR/upstream.log)"; }
}
upstream_ready() {
  alive "$DIR/upstream.pid" || { tail -20 "$DIR/upstream.log" >&2; die "the upstream exited during start-up"; }
  [ "$(http_status "$UPSTREAM_PORT" /healthz 2>/dev/null)" = 200 ]
}

rsyslog_up() {
  local rdir="$DIR/rsyslog"
  if alive "$rdir/rsyslogd.pid"; then say "rsyslog already running (pid $(cat "$rdir/rsyslogd.pid"))"; return 0; fi
  udp_bound "$SYSLOG_PORT" && die "UDP port $SYSLOG_PORT is taken by a process this script did not start; stop it or set TOKENWATCH_SYSLOG_PORT"
  mkdir -p "$rdir"
  render "$ROOT/gateway/loop/rsyslog.conf.in" "$rdir/rsyslog.conf"
  rsyslogd -N1 -f "$rdir/rsyslog.conf" >"$rdir/check.log" 2>&1 || { cat "$rdir/check.log" >&2; die "the rsyslog configuration does not validate ($rdir/rsyslog.conf)"; }
  say "ensuring Kafka topic $TOPIC on $BROKERS ..."
  node --no-warnings "$ROOT/gateway/loop/ensure-topic.mjs" "$BROKERS" "$TOPIC" "$PARTITIONS" >&2 || die "cannot prepare topic $TOPIC on $BROKERS"
  say "starting rsyslogd (UDP 127.0.0.1:$SYSLOG_PORT -> Kafka $BROKERS topic $TOPIC, lz4) ..."
  # rsyslogd refuses to start when its own -i pid file names a live process: keep ours apart
  rm -f "$rdir/rsyslogd.own.pid"
  nohup rsyslogd -n -f "$rdir/rsyslog.conf" -i "$rdir/rsyslogd.own.pid" >"$rdir/stdout.log" 2>&1 </dev/null &
  echo $! >"$rdir/rsyslogd.pid"
  wait_for "rsyslog" 15 rsyslog_ready || { tail -20 "$rdir/stdout.log" "$rdir/rsyslogd.log" >&2 2>/dev/null || true; die "rsyslogd did not start (logs: $rdir)"; }
}
rsyslog_ready() {
  alive "$DIR/rsyslog/rsyslogd.pid" || { tail -20 "$DIR/rsyslog/stdout.log" "$DIR/rsyslog/rsyslogd.log" >&2 2>/dev/null || true; die "rsyslogd exited during start-up"; }
  udp_bound "$SYSLOG_PORT"
}

nginx_up() {
  local ndir="$DIR/nginx"
  if alive "$ndir/nginx.pid"; then say "NGINX already running (pid $(cat "$ndir/nginx.pid"))"; return 0; fi
  port_open "$NGINX_PORT" && die "port $NGINX_PORT is taken by a process this script did not start; stop it or set TOKENWATCH_NGINX_PORT"
  mkdir -p "$ndir/tmp"
  render "$ROOT/gateway/loop/nginx.conf.in" "$ndir/nginx.conf"
  nginx -t -q -p "$ndir" -c "$ndir/nginx.conf" 2>"$ndir/check.log" || { cat "$ndir/check.log" >&2; die "the NGINX configuration does not validate ($ndir/nginx.conf)"; }
  say "starting NGINX on http://127.0.0.1:$NGINX_PORT (denylist check: 127.0.0.1:$BRIDGE_PORT, fail-$FAIL_MODE) ..."
  nohup nginx -p "$ndir" -c "$ndir/nginx.conf" >"$ndir/stdout.log" 2>&1 </dev/null &
  echo $! >"$ndir/nginx.pid"
  wait_for "NGINX" 15 nginx_ready || { tail -20 "$ndir/error.log" "$ndir/stdout.log" >&2 2>/dev/null || true; die "NGINX did not start (logs: $ndir)"; }
}
nginx_ready() {
  alive "$DIR/nginx/nginx.pid" || { tail -20 "$DIR/nginx/error.log" "$DIR/nginx/stdout.log" >&2 2>/dev/null || true; die "NGINX exited during start-up"; }
  [ "$(http_status "$NGINX_PORT" /_tokenwatch/healthz 2>/dev/null)" = 204 ]
}

# ---------------------------------------------------------------- down / status
stop_pid() { # name pidfile
  local pidf="$2"
  if ! alive "$pidf"; then rm -f "$pidf"; say "$1 not running"; return 0; fi
  local pid; pid="$(cat "$pidf")"
  say "stopping $1 (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "$1 did not stop in 10 s, killing"; kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$pidf"
}

bridge_state() {
  local s; s="$(http_status "$BRIDGE_PORT" /readyz 2>/dev/null || true)"
  case "$s" in 200) echo "ready" ;; 503) echo "up, not ready (reading the denylist)" ;; "") echo "not answering" ;; *) echo "answers $s on /readyz" ;; esac
}

status() {
  if alive "$DIR/nginx/nginx.pid"; then echo "nginx:     running (pid $(cat "$DIR/nginx/nginx.pid")) http://127.0.0.1:$NGINX_PORT fail-$FAIL_MODE"; else echo "nginx:     stopped"; fi
  if alive "$DIR/rsyslog/rsyslogd.pid"; then echo "rsyslog:   running (pid $(cat "$DIR/rsyslog/rsyslogd.pid")) udp://127.0.0.1:$SYSLOG_PORT -> $BROKERS $TOPIC"; else echo "rsyslog:   stopped"; fi
  if alive "$DIR/upstream.pid"; then echo "upstream:  running (pid $(cat "$DIR/upstream.pid")) http://127.0.0.1:$UPSTREAM_PORT"; else echo "upstream:  stopped"; fi
  echo "bridge:    http://127.0.0.1:$BRIDGE_PORT/v1/check $(bridge_state) (tokenwatch denylist-server, not started here)"
  endpoints
}

endpoints() {
  echo "TOKENWATCH_GATEWAY_URL=http://127.0.0.1:$NGINX_PORT"
  echo "TOKENWATCH_GATEWAY_TOPIC=$TOPIC"
  echo "TOKENWATCH_INPUT_FORMAT=nginx"
  echo "KAFKA_BROKERS=$BROKERS"
  echo "TOKENWATCH_BRIDGE_LISTEN=127.0.0.1:$BRIDGE_PORT"
}

case "${1:-}" in
  install) install ;;
  up)
    check_settings
    mkdir -p "$DIR"
    upstream_up
    rsyslog_up
    nginx_up
    [ "$(bridge_state)" = ready ] || say "note: the denylist-server at 127.0.0.1:$BRIDGE_PORT is $(bridge_state): requests get $([ "$FAIL_MODE" = closed ] && echo 503 || echo through) until it is ready"
    endpoints
    ;;
  down)
    stop_pid NGINX "$DIR/nginx/nginx.pid"
    stop_pid rsyslog "$DIR/rsyslog/rsyslogd.pid"
    stop_pid upstream "$DIR/upstream.pid"
    ;;
  status) status ;;
  logs)
    tail -n 30 "$DIR/nginx/error.log" "$DIR/rsyslog/rsyslogd.log" "$DIR/upstream.log" 2>/dev/null || true
    ;;
  versions) versions; echo ;;
  *)
    echo "usage: scripts/gateway.sh install|up|down|status|logs|versions" >&2
    exit 2
    ;;
esac
