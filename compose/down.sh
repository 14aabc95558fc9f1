#!/usr/bin/env bash
# Stops the four services and the local stack (by PID). Data stays in .stack/ for the next start.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${OOT_STACK_DIR:-$REPO/.stack}"
RUN="$STACK/run"
LOGS="$STACK/logs"
LOG_TAG=down
# shellcheck source=compose/lib.sh
source "$REPO/compose/lib.sh"

for service in oot-alerts oot-query oot-projector oot-ingest; do stop_one "$service"; done
"$REPO/compose/stack.sh" down
