#!/usr/bin/env bash
# The local stack of oot-hud, natively on loopback: Apache Kafka (KRaft), ClickHouse, dynoxide.
#
#   compose/stack.sh install   what the machine lacks: apt packages, Kafka's jars (mvn), dynoxide (cargo)
#   compose/stack.sh up        install, then start whatever is not running, and wait until all are ready
#   compose/stack.sh down      stop the servers this stack started (by PID, never by name)
#   compose/stack.sh status    which servers run, their addresses and logs
#   compose/stack.sh env       the OOT_* variables that point the services and tests at this stack
#
# Everything is idempotent. Data lives in $OOT_STACK_DIR (default: .stack/ in the repo, git-ignored)
# and survives restarts; downloads and builds are cached in $OOT_TOOLS_DIR (default ~/.cache/oot-hud).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
COMPOSE="$REPO/compose"
STACK="${OOT_STACK_DIR:-$REPO/.stack}"
TOOLS="${OOT_TOOLS_DIR:-$HOME/.cache/oot-hud}"
READY_TIMEOUT="${OOT_READY_TIMEOUT:-90}"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$COMPOSE/kafka/pom.xml")"
DYNOXIDE_VERSION="3.2.0"

KAFKA_PORT="${OOT_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${OOT_KAFKA_CONTROLLER_PORT:-9093}"
CLICKHOUSE_HTTP_PORT="${OOT_CLICKHOUSE_HTTP_PORT:-8123}"
CLICKHOUSE_TCP_PORT="${OOT_CLICKHOUSE_TCP_PORT:-9000}"
DYNAMO_PORT="${OOT_DYNAMO_PORT:-8000}"

KAFKA_LIBS="$TOOLS/kafka-$KAFKA_VERSION/libs"
DYNOXIDE_BIN="$TOOLS/dynoxide-$DYNOXIDE_VERSION/bin/dynoxide"
RUN="$STACK/run"
LOGS="$STACK/logs"

# shellcheck source=compose/lib.sh
source "$COMPOSE/lib.sh"

# ---------------------------------------------------------------------------------------------
# install

apt_install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_kafka() {
  [ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] && return 0
  command -v mvn >/dev/null || die "mvn is needed to resolve Apache Kafka from Maven Central"
  log "resolving Apache Kafka $KAFKA_VERSION and its dependencies with mvn"
  local tmp="$TOOLS/kafka-$KAFKA_VERSION.partial"
  rm -rf "$tmp"
  mvn -q -B -f "$COMPOSE/kafka/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$tmp/libs" -DincludeScope=runtime >&2
  rm -rf "$TOOLS/kafka-$KAFKA_VERSION"
  mv "$tmp" "$TOOLS/kafka-$KAFKA_VERSION"
}

install_dynoxide() {
  [ -x "$DYNOXIDE_BIN" ] && return 0
  log "building dynoxide $DYNOXIDE_VERSION with cargo (about 10 minutes on 2 cores, once per machine)"
  cargo install --locked "dynoxide-rs@$DYNOXIDE_VERSION" --no-default-features \
    --features native-sqlite,http-server,cli --root "$TOOLS/dynoxide-$DYNOXIDE_VERSION" >&2
}

cmd_install() {
  mkdir -p "$TOOLS"
  # cmake and the curl headers build librdkafka (rdkafka's cmake-build); Java runs Kafka;
  # curl is how this script asks ClickHouse and dynoxide whether they are up.
  # iproute2's ss checks that the servers listen on loopback only; chromium and its driver
  # run the pages' browser tests.
  apt_install_missing cmake libcurl4-openssl-dev clickhouse-server clickhouse-client curl \
    openjdk-17-jre-headless maven iproute2 chromium chromium-driver
  install_kafka
  install_dynoxide
}

# ---------------------------------------------------------------------------------------------
# start

render() { # template output KEY=VALUE...
  local tpl="$1" out="$2"; shift 2
  local text; text="$(cat "$tpl")"
  for kv in "$@"; do text="${text//@${kv%%=*}@/${kv#*=}}"; done
  printf '%s\n' "$text" > "$out"
}

start_kafka() {
  pid_of kafka >/dev/null && { log "kafka already running"; return 0; }
  local dir="$STACK/kafka" conf="$STACK/kafka/server.properties" cp="$KAFKA_LIBS/*"
  mkdir -p "$dir/data"
  render "$COMPOSE/kafka/server.properties.in" "$conf" \
    PORT="$KAFKA_PORT" CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" DATA_DIR="$dir/data"
  if [ ! -f "$dir/data/meta.properties" ]; then
    [ -f "$dir/cluster-id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid > "$dir/cluster-id"
    log "formatting Kafka storage (cluster $(cat "$dir/cluster-id"))"
    java -cp "$cp" kafka.tools.StorageTool format -t "$(cat "$dir/cluster-id")" -c "$conf" \
      >>"$LOGS/kafka.out" 2>&1 || die "formatting Kafka storage failed; see $LOGS/kafka.out"
  fi
  log "starting kafka on 127.0.0.1:$KAFKA_PORT"
  # Each start gets a fresh log (the previous one is kept as kafka.log.1), so readiness reads
  # only what this start wrote.
  if [ -f "$LOGS/kafka.log" ]; then mv -f "$LOGS/kafka.log" "$LOGS/kafka.log.1"; fi
  start_detached kafka "$conf" java -Xms256m -Xmx${OOT_KAFKA_HEAP:-768m} -XX:+UseG1GC \
    -Djava.awt.headless=true -Dkafka.logs.dir="$LOGS" -Dkafka.logs.file="$LOGS/kafka.log" \
    -Dlog4j2.configurationFile="$COMPOSE/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$conf"
}

start_clickhouse() {
  pid_of clickhouse >/dev/null && { log "clickhouse already running"; return 0; }
  local dir="$STACK/clickhouse"
  mkdir -p "$dir/data/tmp" "$dir/data/user_files" "$dir/data/format_schemas" "$dir/conf"
  render "$COMPOSE/clickhouse/config.xml.in" "$dir/conf/config.xml" \
    HTTP_PORT="$CLICKHOUSE_HTTP_PORT" TCP_PORT="$CLICKHOUSE_TCP_PORT" DATA_DIR="$dir/data" \
    LOG_DIR="$LOGS" CONF_DIR="$dir/conf"
  render "$COMPOSE/clickhouse/users.xml.in" "$dir/conf/users.xml"
  log "starting clickhouse on 127.0.0.1:$CLICKHOUSE_HTTP_PORT (http) and :$CLICKHOUSE_TCP_PORT (native)"
  start_detached clickhouse "$dir/conf/config.xml" \
    "$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)" --config-file="$dir/conf/config.xml"
}

start_dynamo() {
  pid_of dynamo >/dev/null && { log "dynoxide already running"; return 0; }
  mkdir -p "$STACK/dynamo"
  log "starting dynoxide on 127.0.0.1:$DYNAMO_PORT"
  start_detached dynamo "$STACK/dynamo/oot-hud.sqlite" \
    "$DYNOXIDE_BIN" serve --host 127.0.0.1 --port "$DYNAMO_PORT" --db-path "$STACK/dynamo/oot-hud.sqlite"
}

# ---------------------------------------------------------------------------------------------
# readiness

kafka_ready() {
  # Ready for clients once this start of the broker logged that it started, and it accepts connections.
  (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null \
    && grep -q "Kafka Server started" "$LOGS/kafka.log" 2>/dev/null
}
clickhouse_ready() { [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = "Ok." ]; }
dynamo_ready() { "$DYNOXIDE_BIN" healthcheck --host 127.0.0.1 --port "$DYNAMO_PORT" --timeout 2 >/dev/null 2>&1; }

log_of() {
  case "$1" in
    kafka) echo "$LOGS/kafka.log (and $LOGS/kafka.out)" ;;
    clickhouse) echo "$LOGS/clickhouse.err.log (and $LOGS/clickhouse.out)" ;;
    dynamo) echo "$LOGS/dynamo.out" ;;
  esac
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) pending=(kafka clickhouse dynamo) still
  while [ ${#pending[@]} -gt 0 ]; do
    still=()
    for s in "${pending[@]}"; do
      if ! pid_of "$s" >/dev/null; then
        die "$s exited during start-up; see its log: $(log_of "$s")"
      fi
      "${s}_ready" || still+=("$s")
    done
    pending=("${still[@]+"${still[@]}"}")
    [ ${#pending[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      for s in "${pending[@]}"; do
        log "$s did not become ready within ${READY_TIMEOUT}s; see its log: $(log_of "$s")"
      done
      die "stack not ready: ${pending[*]}"
    fi
    sleep 0.3
  done
  log "ready: kafka 127.0.0.1:$KAFKA_PORT, clickhouse http://127.0.0.1:$CLICKHOUSE_HTTP_PORT, dynoxide http://127.0.0.1:$DYNAMO_PORT"
}

cmd_up() {
  cmd_install
  mkdir -p "$RUN" "$LOGS"
  start_kafka
  start_clickhouse
  start_dynamo
  wait_ready
}

# ---------------------------------------------------------------------------------------------
# stop

cmd_down() {
  # Kafka last: nothing else depends on it, and it takes longest to shut down cleanly.
  stop_one dynamo
  stop_one clickhouse
  stop_one kafka
}

cmd_status() {
  for s in kafka clickhouse dynamo; do
    if pid="$(pid_of "$s")"; then
      if "${s}_ready"; then state="ready"; else state="starting"; fi
      printf '%-11s %-8s pid %-7s log %s\n' "$s" "$state" "$pid" "$(log_of "$s")"
    else
      printf '%-11s stopped\n' "$s"
    fi
  done
}

# Every listening socket of the stack's servers is on loopback; prints the offenders otherwise.
cmd_check_loopback() {
  local bad=0 pid sockets
  for s in kafka clickhouse dynamo; do
    pid="$(pid_of "$s")" || die "$s is not running"
    sockets="$(ss -Hltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}')"
    [ -n "$sockets" ] || die "no listening socket found for $s (pid $pid)"
    while read -r address; do
      case "$address" in
        127.*|'[::ffff:127.'*|'[::1]':*) ;;
        *) log "$s listens on $address, which is not loopback"; bad=1 ;;
      esac
    done <<< "$sockets"
  done
  [ $bad -eq 0 ] && log "every listening socket of the stack is on loopback"
  return $bad
}

cmd_env() {
  cat <<EOF
export OOT_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export OOT_DYNAMO_ENDPOINT=http://127.0.0.1:$DYNAMO_PORT
export OOT_CLICKHOUSE_URL=http://127.0.0.1:$CLICKHOUSE_HTTP_PORT
EOF
}

# One server alone, for tests of an outage: `stop NAME` / `start NAME` (kafka, clickhouse, dynamo).
cmd_stop_server() {
  case "${1:-}" in kafka|clickhouse|dynamo) stop_one "$1" ;; *) die "no server named '${1:-}'" ;; esac
}
cmd_start_server() {
  case "${1:-}" in kafka|clickhouse|dynamo) ;; *) die "no server named '${1:-}'" ;; esac
  mkdir -p "$RUN" "$LOGS"
  "start_$1"
  wait_ready
}

case "${1:-}" in
  install) cmd_install ;;
  stop) cmd_stop_server "${2:-}" ;;
  start) cmd_start_server "${2:-}" ;;
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_down; cmd_up ;;
  status) cmd_status ;;
  env) cmd_env ;;
  check-loopback) cmd_check_loopback ;;
  *) echo "usage: $0 install|up|down|restart|status|env|check-loopback|stop NAME|start NAME" >&2; exit 2 ;;
esac
