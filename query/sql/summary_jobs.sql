-- Global summary: every completed job of every downstream repo first seen in the window, latest
-- version of each (FINAL), with only what the pass rate and the averages need.
-- Binds: the window's start, in seconds since the epoch.
-- FINAL is safe with this filter: first_seen_at is set once per job, so every version of a job
-- agrees on it, whether the server filters before or after collapsing versions.
SELECT ?fields
FROM {table} FINAL
WHERE first_seen_at >= toDateTime(?)
