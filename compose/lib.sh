# Shared by the compose/ scripts: logging, and processes tracked by PID file.
# Expects RUN (folder of PID files) and LOGS (folder of logs) to be set by the caller.

log() { printf '[%s] %s\n' "${LOG_TAG:-stack}" "$*" >&2; }
die() { printf '[%s] error: %s\n' "${LOG_TAG:-stack}" "$*" >&2; exit 1; }

# The PID of a process this stack started, if it still runs. A PID counts only if that process is
# still the one we started: a recycled PID belongs to another program, whose command line will
# not hold the marker we recorded at start.
pid_of() {
  local f="$RUN/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  grep -qa -- "$(cat "$RUN/$1.marker" 2>/dev/null || echo __none__)" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

start_detached() { # name marker command...
  local name="$1" marker="$2"; shift 2
  mkdir -p "$RUN" "$LOGS"
  echo "$marker" > "$RUN/$name.marker"
  setsid nohup "$@" >>"$LOGS/$name.out" 2>&1 < /dev/null &
  echo $! > "$RUN/$name.pid"
}

# Stops one tracked process: SIGTERM, up to 30 s to finish, then SIGKILL. Never by name.
stop_one() {
  local name="$1" pid
  pid="$(pid_of "$name")" || { rm -f "$RUN/$name.pid"; return 0; }
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/$name.pid"
}
