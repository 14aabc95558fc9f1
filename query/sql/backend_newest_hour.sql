-- Per-backend view: the newest hour before a span of hours in which one downstream repo has a
-- target row, so that a page whose newest hours are empty (a backend quiet since some hour,
-- e.g. its CI down over a weekend) reads its targets from that hour instead of spans growing
-- back from now (docs/contract.md §11.6).
-- Binds: the downstream repo; the window's first hour and the end (exclusive) of the hours
-- looked in, in seconds since the epoch, on the hour.
-- Reads the columns table's key range of the repo's hours, its hour column only (the sort key's
-- second column): the repo has a target row in an hour exactly when it has a column row there
-- (both tables are grouped from every completed job by repo and the hour it was first seen),
-- and the columns table holds a few dozen rows an hour where the targets table holds one per
-- target (a busy backend's 30 days: 1.2M rows, 43 MB and 21 ms read there). max of no rows is
-- the DateTime 0: found says whether there was one (a yes or no: how many rows the unmerged
-- parts hold varies).
SELECT ?fields
FROM (
    SELECT
        toUInt32(max(hour)) AS newest_hour,
        toUInt8(count() > 0) AS found
    FROM {table}_columns
    WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
)
