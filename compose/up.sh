#!/usr/bin/env bash
# The README's first command: the local stack and the four services, then where to look.
#
#   compose/up.sh          start (or restart, with freshly built binaries) everything
#   compose/down.sh        stop the services and the stack; data is kept in .stack/
#
# Optimised binaries by default (the views at 1M rows are ~6x slower on a debug build);
# OOT_PROFILE=dev builds faster for a quick look at a code change.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${OOT_STACK_DIR:-$REPO/.stack}"
RUN="$STACK/run"
LOGS="$STACK/logs"
LOG_TAG=up
# shellcheck source=compose/lib.sh
source "$REPO/compose/lib.sh"

PROFILE="${OOT_PROFILE:-release}"
INGEST_LISTEN="${OOT_INGEST_LISTEN:-127.0.0.1:8080}"
QUERY_LISTEN="${OOT_QUERY_LISTEN:-127.0.0.1:8081}"
PROJECTOR_LISTEN="${OOT_PROJECTOR_LISTEN:-127.0.0.1:8082}"
ALERTS_LISTEN="${OOT_ALERTS_LISTEN:-127.0.0.1:8083}"
export OOT_INGEST_LISTEN="$INGEST_LISTEN" OOT_QUERY_LISTEN="$QUERY_LISTEN" OOT_PROJECTOR_LISTEN="$PROJECTOR_LISTEN" \
  OOT_ALERTS_LISTEN="$ALERTS_LISTEN"

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
(cd "$REPO" && cargo build --profile "$PROFILE" --bins -p oot-ingest -p oot-projector -p oot-query -p oot-alerts -p oot-demo)
target_dir="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
bin_dir="$target_dir/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"

log "creating the topic and tables where missing"
"$bin_dir/oot-projector" migrate
"$bin_dir/oot-alerts" migrate

# The alert rules: alerts/alerts.toml unless OOT_ALERTS_CONFIG names another file. A config
# with webhooks needs OOT_ALERTS_WEBHOOK_SECRET in the environment (oot-alerts refuses to start
# without it); the shipped file has none, so alerts are recorded and shown, not sent.
export OOT_ALERTS_CONFIG="${OOT_ALERTS_CONFIG:-$REPO/alerts/alerts.toml}"
export OOT_ALERTS_HUD_URL="${OOT_ALERTS_HUD_URL:-http://$QUERY_LISTEN}"

# oot-query's allocator (mimalloc) gives freed memory back at once rather than after 10 ms:
# under 8 concurrent backend pages at 10M jobs its peak RSS was 110-121 MiB with the default,
# 96-98 MiB with this, at the same latency (README, Benchmarks).
QUERY_ALLOCATOR_ENV=(MIMALLOC_PURGE_DELAY="${MIMALLOC_PURGE_DELAY:-0}")
for service in oot-ingest oot-projector oot-query oot-alerts; do
  stop_one "$service"
  log "starting $service"
  if [ "$service" = oot-query ]; then
    start_detached "$service" "$bin_dir/$service" env "${QUERY_ALLOCATOR_ENV[@]}" "$bin_dir/$service"
  else
    start_detached "$service" "$bin_dir/$service" "$bin_dir/$service"
  fi
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
wait_service oot-alerts "$ALERTS_LISTEN"

# A new user should see populated pages right away: an empty completed-jobs table gets the demo
# stream (sent through the callback endpoint like the relay's). OOT_DEMO=0 skips it; a table
# with data in it is never touched, so a restart does not add a second copy.
demo_note=""
if [ "${OOT_DEMO:-1}" != 0 ]; then
  ch_table="${OOT_CLICKHOUSE_DATABASE:-oot_hud}.${OOT_CLICKHOUSE_TABLE:-oot_workflow_job}"
  ch_rows="$(curl -fsS --max-time 5 -u "${OOT_CLICKHOUSE_USER:-default}:${OOT_CLICKHOUSE_PASSWORD:-}" \
    "${OOT_CLICKHOUSE_URL:-http://127.0.0.1:8123}/?query=SELECT+count()+FROM+$ch_table" 2>/dev/null || true)"
  if [ "$ch_rows" = 0 ]; then
    log "$ch_table is empty: loading demo data (OOT_DEMO=0 skips this)"
    # A refused demo callback is worth a look but no reason to stop services that are up.
    if OOT_INGEST_URL="http://$INGEST_LISTEN" "$bin_dir/oot-demo"; then
      demo_note="  demo data                loaded (oot-demo); the pages fill as the projector catches up"
    else
      log "oot-demo reported refused callbacks (see above); the services are up regardless"
    fi
  fi
fi

cat <<MSG

oot-hud is up. Open the views:
  summary of all backends  http://$QUERY_LISTEN/oot
  one backend              http://$QUERY_LISTEN/oot/intel/torch-xpu-ops
  readiness (RFC-0054)     http://$QUERY_LISTEN/oot/cambricon/torch-mlu   (scorecard; JSON /api/oot/cambricon/torch-mlu/scorecard)
  one upstream PR          http://$QUERY_LISTEN/pr/NUMBER   (JSON under /api/oot/...)
  callback endpoint        POST http://$INGEST_LISTEN/api/oot/results   (header x-hud-internal-bot: \$(cat ${token_file:-\$OOT_INGEST_TOKENS}))
  its description          http://$INGEST_LISTEN/api/oot/openapi.yaml
  projector health         http://$PROJECTOR_LISTEN/readyz   metrics http://$PROJECTOR_LISTEN/metrics
  alerts                   http://$QUERY_LISTEN/oot/alerts   evaluator http://$ALERTS_LISTEN/readyz (rules: $OOT_ALERTS_CONFIG)
  logs                     $LOGS/
  stop everything          compose/down.sh
MSG
[ -z "$demo_note" ] || echo "$demo_note"
