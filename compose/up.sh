#!/usr/bin/env bash
# The README's first command: the local stack and the three services, then where to look.
#
#   compose/up.sh          start (or restart, with freshly built binaries) everything
#   compose/down.sh        stop the services and the stack; data is kept in .stack/
#
# OOT_PROFILE=release builds optimised binaries (slower to build, what the benchmarks use).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${OOT_STACK_DIR:-$REPO/.stack}"
RUN="$STACK/run"
LOGS="$STACK/logs"
LOG_TAG=up
# shellcheck source=compose/lib.sh
source "$REPO/compose/lib.sh"

PROFILE="${OOT_PROFILE:-dev}"
INGEST_LISTEN="${OOT_INGEST_LISTEN:-127.0.0.1:8080}"
QUERY_LISTEN="${OOT_QUERY_LISTEN:-127.0.0.1:8081}"
PROJECTOR_LISTEN="${OOT_PROJECTOR_LISTEN:-127.0.0.1:8082}"
export OOT_INGEST_LISTEN="$INGEST_LISTEN" OOT_QUERY_LISTEN="$QUERY_LISTEN" OOT_PROJECTOR_LISTEN="$PROJECTOR_LISTEN"

"$REPO/compose/stack.sh" up
eval "$("$REPO/compose/stack.sh" env)"

log "building the services (cargo build --profile $PROFILE)"
(cd "$REPO" && cargo build --profile "$PROFILE" --bins -p oot-ingest -p oot-projector -p oot-query)
target_dir="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin_dir="$target_dir/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"

log "creating the topic and tables where missing"
"$bin_dir/oot-projector" migrate

for service in oot-ingest oot-projector oot-query; do
  stop_one "$service"
  log "starting $service"
  start_detached "$service" "$bin_dir/$service" "$bin_dir/$service"
done

wait_service() { # name address
  local deadline=$((SECONDS + ${OOT_READY_TIMEOUT:-60}))
  until curl -fsS --max-time 2 "http://$2/readyz" >/dev/null 2>&1; do
    pid_of "$1" >/dev/null || die "$1 exited during start-up; see its log: $LOGS/$1.out"
    [ $SECONDS -lt $deadline ] || die "$1 not ready at http://$2/readyz; see its log: $LOGS/$1.out"
    sleep 0.3
  done
}
wait_service oot-ingest "$INGEST_LISTEN"
wait_service oot-projector "$PROJECTOR_LISTEN"
wait_service oot-query "$QUERY_LISTEN"

cat <<MSG

oot-hud is up.
  views (query service)   http://$QUERY_LISTEN/
  callback endpoint        POST http://$INGEST_LISTEN/api/oot/results
  projector health         http://$PROJECTOR_LISTEN/readyz
  logs                     $LOGS/
  stop everything          compose/down.sh
MSG
