#!/usr/bin/env bash
# The chDB check (tests/chdb/check.py): every DDL and query file on the local ClickHouse 18.16 and
# on a current ClickHouse embedded through chDB, the same data, the same answers.
#
# Needs the stack's ClickHouse (compose/stack.sh up; OOT_CLICKHOUSE_* from `compose/stack.sh env`,
# else the defaults). chdb-core is test tooling only: it goes into a venv in the tools cache
# ($OOT_TOOLS_DIR, default ~/.cache/oot-hud/chdb-venv), made once and reused; python3-venv is
# installed with apt if python3 cannot make a venv.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="${OOT_TOOLS_DIR:-$HOME/.cache/oot-hud}"
CHDB_VERSION="26.9.0"  # chdb-core: ClickHouse 26.9.2.1
VENV="$TOOLS/chdb-venv"
log() { printf '[chdb] %s\n' "$*" >&2; }

if ! "$VENV/bin/python" -c "import chdb, sys; sys.exit(chdb.__version__ != '$CHDB_VERSION')" 2>/dev/null; then
  command -v python3 >/dev/null || { log "python3 is needed"; exit 1; }
  mkdir -p "$TOOLS"
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    log "python3 cannot make a venv: installing Debian's python3-venv"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
  log "installing chdb-core $CHDB_VERSION into $VENV (about 180 MB, once per machine)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "chdb-core==$CHDB_VERSION" >&2
fi

exec "$VENV/bin/python" "$REPO/tests/chdb/check.py" "$@"
