-- Per-backend view, the matrix's columns: every (workflow, job name) of one downstream repo
-- with a job first seen in the window.
-- Binds: the downstream repo; the window's start, in seconds since the epoch, on the hour.
-- Reads the columns table: the repo's rows of the window's hours, at most one per hour and
-- column, never the jobs.
SELECT DISTINCT ?fields
FROM {table}_columns
WHERE downstream_repo = ? AND hour >= toDateTime(?)
