-- Every downstream repo with a completed job in the table (retention), its last result and its
-- latest level: the summary lists repos with nothing in the window too, as stale.
-- Binds: none.
-- Without FINAL: a later version of a job can only move completed_at by the relay sweeper's
-- delay (hours), which a staleness counted in days does not see, and reading every version
-- costs far less than collapsing the whole table.
-- The subquery names the aggregates, the outer select reads them by those names (the row's
-- fields). Aliases differ from the column names: ClickHouse 18.16 resolves a column name to a
-- same-named alias inside other aggregates.
-- The latest level is the one of the latest job first seen (ties, within a second, go to the
-- higher job key) at its latest version: every version of a job shares first_seen_at, so
-- first_seen_at alone would leave the choice to the server.
SELECT ?fields
FROM (
    SELECT
        downstream_repo,
        max(completed_at) AS last_completed_at,
        argMax(downstream_repo_level, (first_seen_at, dynamoKey, version)) AS latest_level
    FROM {table}
    GROUP BY downstream_repo
)
