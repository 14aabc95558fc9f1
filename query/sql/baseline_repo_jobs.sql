-- Baseline: the completed jobs of one downstream repo first seen in the window, latest version
-- of each (FINAL). The benchmark's and the tests' reference for the per-backend view, and the
-- backend header's tally until it reads the rollups; the matrix reads the read tables
-- (backend_targets.sql, backend_columns.sql, target_jobs.sql).
-- Binds: the downstream repo; the window's start, in seconds since the epoch.
-- Both filters are on columns every version of a job agrees on (the sort key's first column
-- and the partition key), so FINAL returns the latest version whichever way the server applies
-- them. failed_tests_json is left out: only failed jobs on the page need it (failed_tests.sql).
SELECT ?fields
FROM {table} FINAL
WHERE downstream_repo = ? AND first_seen_at >= toDateTime(?)
