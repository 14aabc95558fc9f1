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

# The relay's shared secret: from the environment in any real deployment. For a local stack
# without one, a random token is made once and kept (git-ignored) in the stack's folder.
if [ -z "${OOT_INGEST_TOKENS:-}" ]; then
  token_file="$STACK/ingest-token"
  if [ ! -s "$token_file" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$token_file")
  fi
  OOT_INGEST_TOKENS="$(cat "$token_file")"
  log "OOT_INGEST_TOKENS not set; using the local token in $token_file"
fi
export OOT_INGEST_TOKENS

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
  query service            http://$QUERY_LISTEN/readyz
  callback endpoint        POST http://$INGEST_LISTEN/api/oot/results   (header x-hud-internal-bot: \$(cat ${token_file:-\$OOT_INGEST_TOKENS}))
  its description          http://$INGEST_LISTEN/api/oot/openapi.yaml
  projector health         http://$PROJECTOR_LISTEN/readyz   metrics http://$PROJECTOR_LISTEN/metrics
  logs                     $LOGS/
  stop everything          compose/down.sh
MSG
