#!/usr/bin/env bash
# The README's test command: every check and test, against the real local stack.
#
# Starts the stack (installing what the machine lacks), then: formatting, clippy with warnings
# denied, the workspace's unit and end-to-end tests, the docker-compose file, data surviving a
# stack restart, and every server listening on loopback only. The stack is left running, so the
# next run starts warm; compose/down.sh stops it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
step() { printf '\n==> %s\n' "$*" >&2; }
started=$SECONDS

step "the repository stands alone (nothing outside it is read or linked)"
if outside="$(git grep -n -E '\.\./(\.\./)*shared' -- . ':!*.lock' ':!compose/test.sh')"; then
  printf '%s\n' "$outside" >&2
  echo "these lines reach outside the repository; a clone alone would break" >&2
  exit 1
fi

step "stack"
compose/stack.sh up
eval "$(compose/stack.sh env)"

step "what earlier runs' tests left on the stack is dropped"
# Each test names its own topics and tables and leaves them; a stack that runs the suite again
# and again would pile them up (tens of thousands of tables, every server slower for it).
cargo run --locked --quiet -p oot-e2e --bin drop-test-leftovers

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
# The end-to-end tests start the service binaries as real processes; cargo test builds a
# package's binaries only for that package's own tests.
cargo build --workspace --bins --locked
cargo test --workspace --locked --no-fail-fast
# The end-to-end tests are one binary (tests/tests/e2e/main.rs); the #[ignore]d ones that disturb
# the stack run below by module (`pages::`, `outages::`) or exact name (`persistence::...`).

step "SQL on current ClickHouse (chDB): every DDL and query file, same answers as 18.16"
tests/chdb/run.sh

step "pages in headless Chromium (screenshots: <target dir>/screenshots/)"
cargo test --locked -p oot-e2e --test e2e -- --ignored pages::

step "outages (run alone: they stop servers)"
cargo test --locked -p oot-e2e --test e2e -- --ignored --test-threads=1 outages::

step "fault drills (run alone: they kill the projector, restart Kafka, stop DynamoDB)"
# The service binaries as processes (built above); figures printed: recovery after each kill -9,
# lag while a store is away, ingest's peak memory under 32 concurrent 2 MiB bodies.
cargo test --locked -p oot-e2e --test e2e -- --ignored --test-threads=1 --nocapture drills::
# The projector killed with -9 and restarted, with and without static group membership:
# restart-to-progress figures.
cargo test --locked -p oot-e2e --test e2e -- --ignored --test-threads=1 --nocapture projector_restart::

step "data survives a stack restart"
export OOT_PERSISTENCE_MARKER="run$(date +%s)$RANDOM"
cargo test --locked -p oot-e2e --test e2e -- --ignored --exact persistence::write_markers
compose/stack.sh restart
cargo test --locked -p oot-e2e --test e2e -- --ignored --exact persistence::markers_survive_restart

step "servers listen on loopback only"
compose/stack.sh check-loopback

printf '\nall checks passed in %ss\n' "$((SECONDS - started))" >&2
