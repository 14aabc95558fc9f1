-- The nightly view (docs/contract.md §12.17), its columns: every (workflow, job name) of one
-- downstream repo's nightly jobs first seen in the window, so that every page has the same
-- columns. The same key range and binds as nightly_deliveries.sql, grouped by ClickHouse.
SELECT
    workflow_name,
    job_name
FROM {table}_nightlies
WHERE downstream_repo = ? AND hour >= toDateTime(?) AND hour < toDateTime(?)
    AND has(?, target_event)
GROUP BY workflow_name, job_name
