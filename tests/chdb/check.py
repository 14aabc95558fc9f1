#!/usr/bin/env python3
"""The SQL of oot-hud on ClickHouse 18.16 (the local server) and on a current ClickHouse (chDB,
embedded in this process): the same DDL and queries, the same data, the same answers.

Run through tests/chdb/run.sh, which makes the venv with chdb-core. Test tooling only: the
product is Rust, and nothing here is imported by it.

What it checks:
  * DDL: every platform/sql/create_*.sql rendered as platform/src/migrate.rs renders it. 18.16
    takes the variant without TTL and refuses the one with `TTL first_seen_at + toIntervalDay(N)`
    (or the file's own TTL column, TTL_COLUMN) (so the branch is needed); chDB takes both, takes
    migrate's `ALTER TABLE ... MODIFY TTL` on a table made without one, and prints the TTL back so
    that migrate's idempotence check finds it.
  * Read tables (platform/src/read_tables.rs): each fill_oot_workflow_job{suffix}.sql is the
    SELECT of a materialized view TO the table of create_oot_workflow_job{suffix}.sql, and of its
    backfill. The data goes into jobs tables with the views made first (kept by the views) and
    into jobs tables whose read tables are made afterwards and backfilled (INSERT ... SELECT, as
    migrate does on an existing stack): every query reads both, in both engines, alike.
  * Failed tests (platform/sql/create_oot_workflow_job_failed_tests.sql, docs/contract.md
    §10.3): rows made from the data set's failed_tests_json, one INSERT per version, beside each
    jobs table; the contract's reading rule (a job's rows of its latest version, taken by key
    from the jobs table) gives the same rows in both engines, and the ones data.py expects.
  * Delivery log (platform/sql/create_oot_deliveries.sql, docs/contract.md §16): data.py's rows,
    a receipt's rows in separate parts (a batch projected twice, a parked event redriven, a
    receipt written twice); deliveries_counts.sql counts each receipt once, as its best row, as
    data.py expects, in both engines.
  * Queries: every query/sql/*.sql, `{table}` spliced in and `?` / `?fields` bound the way the
    clickhouse crate 0.15 binds them (fields from the row struct in query/src/stores/completed.rs),
    on the same small data set (tests/chdb/data.py) in both engines; the answers (names, types,
    rows, sorted) must be equal. On chDB the queries run against the table with the TTL (what a
    current server has) and against the one without (a table created on 18.16, server upgraded).

Exits non-zero, naming the query, on any difference or error.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
import data  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DDL_DIR = REPO / "platform" / "sql"
QUERY_DIR = REPO / "query" / "sql"
ROWS_RS = [
    REPO / "query" / "src" / "stores" / f
    for f in ("completed.rs", "rollups.rs", "triage.rs", "test_history.rs", "pr_triage.rs", "deliveries.rs")
]
JOB_TABLE_DDL = "create_oot_workflow_job.sql"

DATABASE = "oot_chdb_check"
# The days of the table TTL in migrate's default (OOT_CLICKHOUSE_TTL_DAYS).
DEFAULT_TTL_DAYS = 730
# The tables the queries read on chDB keep their rows for 50 years (DateTime ends in 2106), so
# the fixed data set of 2026 never expires under them whenever this runs.
QUERY_TTL_DAYS = 18250

D = 86_400
T0 = data.T0

# The tables ordered for the views (platform/src/read_tables.rs): a table of the jobs table
# `jobs` is `jobs{suffix}`, made by create_oot_workflow_job{suffix}.sql and filled by
# fill_oot_workflow_job{suffix}.sql.
# read_tables::KEY_RANGE_MIN_COMPRESS_BLOCK_BYTES: the `{block_settings}` of a current server.
MIN_COMPRESS_BLOCK_BYTES = 4096
READ_TABLE_SUFFIXES = ["_by_target", "_targets", "_columns", "_levels", "_nightlies", "_versions", "_failed_test_lists", "_by_slot"]
JOB_TABLE_STEM = "oot_workflow_job"

# The failed-test table of a jobs table `jobs` (oot_contract::clickhouse::failed_tests_table).
FAILED_TESTS_DDL = "create_oot_workflow_job_failed_tests.sql"
FAILED_TESTS_SUFFIX = "_failed_tests"
# The read tables of the failed-test table (platform/src/read_tables.rs FAILED_TESTS_BY_JOB,
# FAILED_TESTS_ON_PRS): made and filled as the jobs table's are, their source the failed-test
# table.
FAILED_BY_JOB_SUFFIX = "_failed_tests_by_job"
FAILED_ON_PRS_SUFFIX = "_failed_tests_on_prs"
# The contract's reading rule for it (docs/contract.md §10.3): a test an older version of a job
# listed and the newer does not keeps its old row, so a job's rows count only at the version
# the jobs table holds as its latest.
FAILED_TESTS_CURRENT = (
    "SELECT dynamoKey, classname, name, version, message, first_seen_at FROM {failed}\n"
    "WHERE (dynamoKey, version) IN (SELECT dynamoKey, max(version) FROM {jobs} GROUP BY dynamoKey)\n"
    "ORDER BY version DESC\n"
    "LIMIT 1 BY dynamoKey, classname, name"
)

# The column each DDL file's TTL is keyed on (as the Rust that renders it), when not first_seen_at.
TTL_COLUMN = {
    "create_oot_deliveries.sql": "received_at",
    "create_oot_workflow_job_targets.sql": "hour",
    "create_oot_workflow_job_columns.sql": "hour",
    "create_oot_job_cells.sql": "hour",
    "create_oot_workflow_job_levels.sql": "day",
    "create_oot_workflow_job_nightlies.sql": "hour",
}

# Each query file: the row struct whose fields `?fields` becomes, and the cases to run, each a
# list of the values bound to its `?`s in order (str, int, a list of str, or a list of tuples),
# as the callers in completed.rs bind them. A file missing here fails the check: add it with its
# binds.
PR_CASES = [
    [up, pr, since]
    for up, pr in [("pytorch/pytorch", 1001), ("pytorch/pytorch", 1002), ("pytorch/vision", 1001)]
    for since in (0, T0 + 15 * D)
] + [["pytorch/pytorch", 999_999, 0]]
REPO_WINDOW_CASES = [[repo, since] for repo in data.REPOS for since in (0, T0 + 20 * D)] + [["nobody/nothing", 0]]


# A test no job of the data failed: its history is empty by design.
NO_SUCH_TEST = "test_no_such"


def test_history_cases() -> list[list]:
    """(repo, classname, name, since) for test_history_*.sql, as query/src/stores/test_history.rs
    binds them: each repo's two first tests from the start, and from the middle of their rows'
    first_seen_at (on the hour, as windows start); and a test no job failed."""
    rows = [r for b in data.insert_batches() for r in data.failed_test_rows(b)]
    cases = []
    for repo in data.REPOS:
        tests = sorted({(r["classname"], r["name"]) for r in rows if r["downstream_repo"] == repo})[:2]
        for classname, name in tests:
            seen = sorted(r["first_seen_at"] for r in rows if (r["downstream_repo"], r["classname"], r["name"]) == (repo, classname, name))
            cases += [[repo, classname, name, 0], [repo, classname, name, seen[len(seen) // 2] // 3600 * 3600]]
    return cases + [[data.REPOS[0], "", NO_SUCH_TEST, 0]]


def test_slots(repo: str, classname: str, name: str) -> list[tuple]:
    """The (workflow, job name) slots where the data's jobs of `repo` failed the test."""
    rows = [r for b in data.insert_batches() for r in data.failed_test_rows(b)]
    return sorted(
        {(r["workflow_name"], r["job_name"]) for r in rows if (r["downstream_repo"], r["classname"], r["name"]) == (repo, classname, name)}
    )


def siphash64(data: bytes) -> int:
    """ClickHouse's sipHash64: SipHash-2-4 with a zero key (oot_contract::clickhouse::identity)."""
    mask = (1 << 64) - 1

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & mask

    v = [0x736F6D6570736575, 0x646F72616E646F6D, 0x6C7967656E657261, 0x7465646279746573]

    def rounds(n: int):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)

    whole = len(data) // 8 * 8
    words = [int.from_bytes(data[i : i + 8], "little") for i in range(0, whole, 8)]
    words.append(int.from_bytes(data[whole:] + bytes(7 - (len(data) - whole)) + bytes([len(data) & 0xFF]), "little"))
    for m in words:
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def pair_hash(first: str, second: str) -> int:
    """oot_contract::clickhouse::identity::pair_hash: `{byte length of first}:{first}{second}`."""
    encoded = first.encode()
    return siphash64(str(len(encoded)).encode() + b":" + encoded + second.encode())


def on_prs_rows(failed: list[dict]) -> list[tuple]:
    """The failed tests on PRs (fill_oot_workflow_job_failed_tests_on_prs.sql) of failed-test
    rows, with the hashes computed here."""
    return sorted(
        (
            r["downstream_repo"],
            pair_hash(r["classname"], r["name"]),
            r["first_seen_at"],
            siphash64(r["dynamoKey"].encode()),
            pair_hash(r["workflow_name"], r["job_name"]),
            r["pr_number"],
            r["version"],
        )
        for r in failed
        if r["pr_number"] is not None
    )


def pr_triage_other_prs_cases() -> list[list]:
    """pr_triage_other_prs.sql's binds as query/src/stores/pr_triage.rs makes them: the repo, the
    pairs' test hashes, the window's start, the PR left out, the pairs as (test hash, slot hash),
    then the repo and the start again. Every (test, slot) pair of each repo, from the start and
    from the middle of its rows; left out, a PR no job has and, where the repo has two, its
    first PR."""
    rows = [r for b in data.insert_batches() for r in data.failed_test_rows(b)]
    cases = []
    for repo in data.REPOS:
        mine = [r for r in rows if r["downstream_repo"] == repo]
        pairs = sorted(
            {(pair_hash(r["classname"], r["name"]), pair_hash(r["workflow_name"], r["job_name"])) for r in mine}
        )
        tests = sorted({test for test, _ in pairs})
        seen = sorted(r["first_seen_at"] for r in mine)
        prs = sorted({r["pr_number"] for r in mine if r.get("pr_number") is not None})
        # Leaving out a repo's only PR leaves nothing to compare.
        left_out = [999_999] + prs[:1] * (len(prs) > 1)
        for since in (0, seen[len(seen) // 2] // 3600 * 3600):
            for pr in left_out:
                cases.append([repo, tests, since, pr, pairs, repo, since, repo, tests, since])
    return cases


def pr_triage_jobs_cases() -> list[list]:
    """pr_triage_jobs.sql's binds as query/src/stores/pr_triage.rs makes them: the upstream repo,
    the PR's number, the jobs as (downstream repo, key). Per (upstream repo, PR), its jobs of
    every downstream repo at once, with a key of another PR, one of no job, and one of its jobs
    paired with another repo (nothing); per (upstream repo, PR, downstream repo), that repo's
    jobs alone; and a PR no job has."""
    jobs = {}
    for batch in data.insert_batches():
        for r in batch:
            if r["pr_number"] is not None:
                jobs.setdefault((r["upstream_repo"], r["pr_number"], r["downstream_repo"]), set()).add(r["dynamoKey"])
    cases = []
    prs = sorted({(u, p) for u, p, _ in jobs})
    for upstream, pr in prs:
        mine = sorted((d, k) for (u, p, d), ks in jobs.items() if (u, p) == (upstream, pr) for k in ks)
        others = sorted((d, k) for (u, p, d), ks in jobs.items() if p != pr for k in ks)[:1]
        astray = [("nobody/nothing", mine[0][1])]
        cases.append([upstream, pr, mine + others + [(mine[0][0], "no/such/key")] + astray])
    for (upstream, pr, repo), keys in sorted(jobs.items()):
        cases.append([upstream, pr, [(repo, k) for k in sorted(keys)]])
    some = sorted(jobs)[0]
    return cases + [[some[0], 999_999, [(some[2], k) for k in sorted(jobs[some])]]]


def jobs_failed_tests_cases() -> list[list]:
    """jobs_failed_tests.sql's binds as query/src/stores/triage.rs makes them: the jobs as
    (downstream repo, first_seen_at, key, version), twice. Per repo: its jobs that failed some
    test, at their latest version; and at their first version (a re-run's older list, where the
    data has one); every repo's jobs at once; and jobs asked of a repo they are not of
    (nothing)."""
    batches = data.insert_batches()
    rows = [r for b in batches for r in data.failed_test_rows(b)]
    latest, first = {}, {}
    for r in rows:
        key = r["dynamoKey"]
        latest[key] = max(latest.get(key, 0), r["version"])
        first[key] = min(first.get(key, r["version"]), r["version"])
    seen = {r["dynamoKey"]: r["first_seen_at"] for r in rows}
    repo_of = {r["dynamoKey"]: r["downstream_repo"] for r in rows}
    cases = []
    for repo in data.REPOS:
        keys = sorted(k for k in latest if repo_of[k] == repo)
        for versions in (latest, first):
            jobs = [(repo, seen[k], k, versions[k]) for k in keys]
            cases.append([jobs, jobs])
    every = [(repo_of[k], seen[k], k, latest[k]) for k in sorted(latest)]
    cases.append([every, every])
    other = sorted(k for k in latest if repo_of[k] == data.REPOS[0])[:3]
    astray = [("nobody/nothing", seen[k], k, latest[k]) for k in other]
    return cases + [[astray, astray]]


DELIVERIES_DDL = "create_oot_deliveries.sql"


def deliveries_page_cases() -> list[list]:
    """deliveries_page.sql's binds as query/src/stores/deliveries.rs makes them: the repo, the
    kinds' bounds (0..1 all, 1..1 accepted, 0..0 refused), a slice [from, until), the outcomes
    asked when one is (then `{outcome_condition}` is spliced), and the page's limit. Per repo:
    the whole data set, a slice cut short by the limit, each kind, and each outcome it has."""
    batches = data.delivery_batches()
    cases = []
    for repo in data.REPOS:
        end = T0 + 41 * D
        cases += [
            [repo, 0, 1, 0, end, 1000],
            [repo, 0, 1, T0 + 10 * D, T0 + 30 * D, 5],
            [repo, 1, 1, 0, end, 1000],
            [repo, 0, 0, 0, end, 1000],
        ]
        outcomes = sorted(data.delivery_counts(batches, repo, 0))
        for outcome in outcomes:
            accepted = 1 if outcome in ("changed", "unchanged", "parked") else 0
            cases.append([repo, accepted, accepted, 0, end, [outcome], 1000])
    return cases + [["nobody/nothing", 0, 1, 0, T0 + 41 * D, 1000]]


# The data's jobs without a PR are pushes: nightlies_before.sql is run with the event types bound
# as `push` to read them (the service binds the nightly ones, which the data has none of).
# The first and last cases bind the end of the hours read as the last value, as the release
# diff does (query/src/release_diff.rs, docs/contract.md §12.16); the others a window's start.
# The cases with a seventh value bind slots, as the failing tests and the PR triage do (the
# service splices `{slot_condition}`, query/src/stores/triage.rs): one slot, and two (one the
# data has no push of).
NIGHTLIES_BEFORE_CASES = (
    [[repo, T0, T0 + 41 * D, ["push"], repo, T0 + 41 * D] for repo in data.REPOS]
    + [[repo, T0 + 10 * D, T0 + 30 * D, ["nightly", "push"], repo, T0 + 30 * D] for repo in data.REPOS]
    + [["nobody/nothing", T0, T0 + 41 * D, ["push"], "nobody/nothing", T0 + 41 * D]]
    + [[repo, T0, T0 + 41 * D, ["push"], repo, T0 + 41 * D, [("ci", "build")]] for repo in data.REPOS]
    + [
        [repo, T0 + 10 * D, T0 + 30 * D, ["push"], repo, T0 + 30 * D, [("ci", "test (1, 2)"), ("nightly", "smoke")]]
        for repo in data.REPOS
    ]
)
# The PR view's triage reads its backends' nightlies with pr_triage_nightlies.sql
# (query/src/stores/triage.rs pr_triage_nightlies): the repos, the hours' range, the event types
# (pushes, as above), the slots as (repo, workflow, job), each slot's first hour and end as two
# arrays, the repos again, the end of first_seen_at, and the slots again. Per repo: ten days of
# one slot and the whole range for another; then every repo at once, each with its own slots
# (and first_seen_at cut short); and a repo with no data.
def pr_triage_nightlies_case(repos: list[str], until: int = T0 + 41 * D) -> list:
    spans = sorted(
        [(r, "ci", "build", T0 + 10 * D, T0 + 20 * D) for r in repos]
        + [(r, "ci", "test (1, 2)", T0, T0 + 41 * D) for r in repos]
    )
    slots = [(r, w, j) for r, w, j, _, _ in spans]
    starts = [s[3] for s in spans]
    ends = [s[4] for s in spans]
    return [repos, T0, T0 + 41 * D, ["push"], slots, starts, ends, repos, until, slots]


PR_TRIAGE_NIGHTLIES_CASES = (
    [pr_triage_nightlies_case([repo]) for repo in data.REPOS]
    + [pr_triage_nightlies_case(list(data.REPOS)), pr_triage_nightlies_case(list(data.REPOS), T0 + 20 * D)]
    + [pr_triage_nightlies_case(["nobody/nothing"])]
)
# The nightly view (query/src/stores/completed.rs nightly_deliveries and nightly_columns,
# docs/contract.md §12.17): its deliveries and columns from the nightlies table, the window's
# hours and the event types bound (the data's jobs without a PR are pushes, as above).
NIGHTLY_VIEW_CASES = (
    [[repo, T0, T0 + 41 * D, ["push"]] for repo in data.REPOS]
    + [[repo, T0 + 10 * D, T0 + 41 * D, ["nightly", "push"]] for repo in data.REPOS]
    + [["nobody/nothing", T0, T0 + 41 * D, ["push"]]]
)
# Files a caller reads with another row struct too: each (struct, cases), run as QUERIES' own.
ALSO_READ_AS: dict[str, list[tuple[str, list[list]]]] = {
    # The readiness gates read the same sums with the end-to-end histogram.
    "cells_sums.sql": [("GateSumsRow", [[0], [T0 + 10 * D], [T0 + 400 * D]] + REPO_WINDOW_CASES)],
}
QUERIES: dict[str, tuple[str, list[list]]] = {
    "summary_jobs.sql": ("SummaryRow", [[0], [T0 + 10 * D], [T0 + 39 * D], [T0 + 400 * D]]),
    # The rollups (query/src/stores/rollups.rs), on the cells and repos tables of data.py.
    # Every repo (one bind) and one repo (two): the service splices `{repo_condition}` so.
    "cells_sums.sql": ("SumsRow", [[0], [T0 + 10 * D], [T0 + 36 * D + 7 * 3600], [T0 + 400 * D]] + REPO_WINDOW_CASES),
    # Per UTC day (a backend's trends, the summary's sparklines): every repo and one repo, from
    # a midnight, as the service binds the first day's start.
    "cells_daily.sql": ("DaySumsRow", [[0], [T0 + 10 * D], [T0 + 36 * D], [T0 + 400 * D]] + REPO_WINDOW_CASES),
    "repo_latest.sql": ("LatestRow", [[]]),
    # The level history (platform/sql/create_oot_workflow_job_levels.sql, a read table kept by
    # its view or backfilled): every repo (no bind) and one repo (one).
    # A repo that never reported a level has no rows.
    "level_days.sql": ("LevelDay", [[]] + [[repo] for repo in data.REPOS if any(data.LEVELS[repo])] + [["nobody/nothing"]]),
    "repo_last_results.sql": ("LastResultRow", [[]]),
    "baseline_repo_jobs.sql": ("JobRow", REPO_WINDOW_CASES),
    "baseline_pr_jobs.sql": ("JobRow", PR_CASES),
    "pr_jobs.sql": ("JobRow", PR_CASES),
    # Windows start on the hour (T0 is a midnight).
    # The hours read: the whole window, or a span of it (a page reads the newest hours first).
    "backend_targets.sql": (
        "TargetRow",
        [case + [T0 + 400 * D] for case in REPO_WINDOW_CASES]
        + [[repo, T0 + 10 * D, T0 + 30 * D] for repo in data.REPOS],
    ),
    # The newest hour with a target before the hours a page read empty: the whole window, a
    # span of it, and a span before the data (no rows: the DateTime 0 and a count of 0).
    "backend_newest_hour.sql": (
        "NewestHourRow",
        [case + [T0 + 400 * D] for case in REPO_WINDOW_CASES]
        + [[repo, T0 + 10 * D, T0 + 30 * D] for repo in data.REPOS]
        + [[data.REPOS[0], 0, T0]],
    ),
    "backend_columns.sql": ("ColumnRow", REPO_WINDOW_CASES),
    "target_jobs.sql": (
        "JobRow",
        [[data.targets_of(repo)[i::3], repo, since] for i, repo in enumerate(data.REPOS) for since in (0, T0 + 20 * D)]
        # Every target of the first repo, asked of the second: their shared PRs only.
        + [[data.targets_of(data.REPOS[0]), data.REPOS[1], 0]],
    ),
    "failed_tests.sql": (
        "FailedTestsRow",
        [
            [data.REPOS[0], data.keys_of(data.REPOS[0])[:25] + ["no/such/key", data.ODD_KEY]],
            [data.REPOS[1], data.keys_of(data.REPOS[1])],
            # Keys of another repo: nothing.
            [data.REPOS[2], data.keys_of(data.REPOS[0])[:5]],
            # No empty list: chunk_keys makes no empty chunk (and 18.16 refuses `has([], x)`).
        ],
    ),
    # A backend's failing tests (query/src/stores/triage.rs, docs/contract.md §12.13).
    "failing_window_jobs.sql": ("TriageJobRow", REPO_WINDOW_CASES),
    "failing_window_tests.sql": ("FailedTestKeyRow", [case + case + case for case in REPO_WINDOW_CASES]),
    "nightlies_before.sql": ("TriageJobRow", NIGHTLIES_BEFORE_CASES),
    "pr_triage_nightlies.sql": ("TriageJobRow", PR_TRIAGE_NIGHTLIES_CASES),
    "nightly_deliveries.sql": ("NightlyDeliveryRow", NIGHTLY_VIEW_CASES),
    "nightly_columns.sql": ("ColumnRow", NIGHTLY_VIEW_CASES),
    # One test's history (query/src/stores/test_history.rs, docs/contract.md §12.14).
    # failed_tests_listed is computed by each engine from the lists of data.py (checked below).
    # The jobs: the newest 50 per slot (all of the data's) and the newest 2, with every nightly.
    # The newest 50 per slot (all of the data's) and the newest 2, from the window's start and
    # from a later time; and of the test's slots bound (a sixth value), as the service reads
    # the slots short of a strip.
    "test_history_jobs.sql": (
        "SlotJobRow",
        [
            [r, r, c, n, since, start] * 2 + [newest]
            for r, c, n, since in test_history_cases()
            for start in ((since, T0 + 10 * D) if since == 0 else (since,))
            for newest in (50, 2)
        ]
        + [
            [r, r, c, n, since, slots, since] * 2 + [2]
            for r, c, n, since in test_history_cases()[:4]
            for slots in (test_slots(r, c, n), test_slots(r, c, n)[:1] + [("no-such", "slot")])
        ],
    ),
    "test_history_nightlies.sql": (
        "SlotJobRow",
        # The data's runs without a PR are pushes: bound as a nightly event type here, so that
        # the cases have rows to compare.
        [
            [r, r, c, n, since, since, "push", "periodic", "schedule"]
            for r, c, n, since in test_history_cases()
        ],
    ),
    "test_history_counts.sql": (
        "SlotJobsRow",
        [[r, r, c, n, since, since] for r, c, n, since in test_history_cases()],
    ),
    "test_history_failures.sql": (
        "TestFailureRow",
        [[r, c, n, since, r, since, r, c, n, since] for r, c, n, since in test_history_cases()],
    ),
    # The PR view's "is it mine?" (query/src/stores/pr_triage.rs, docs/contract.md §12.15).
    "pr_triage_jobs.sql": ("PrTriageJobRow", pr_triage_jobs_cases()),
    # The release diff's nightlies by key (query/src/release_diff.rs, §12.16).
    "jobs_by_key.sql": (
        "PrTriageJobRow",
        [
            [data.REPOS[0], data.keys_of(data.REPOS[0])[:25] + ["no/such/key", data.ODD_KEY]],
            [data.REPOS[1], data.keys_of(data.REPOS[1])],
        ],
    ),
    "pr_triage_other_prs.sql": ("OtherPrsRow", pr_triage_other_prs_cases()),
    "jobs_failed_tests.sql": ("FailedTestKeyRow", jobs_failed_tests_cases()),
    # The delivery log (query/src/stores/deliveries.rs, docs/contract.md §16.7), on the
    # deliveries table of data.py.
    "deliveries_page.sql": ("DeliveryLogRow", deliveries_page_cases()),
    "deliveries_counts.sql": (
        "OutcomeCountRow",
        [[repo, since] for repo in data.REPOS for since in (0, T0 + 20 * D)] + [["nobody/nothing", 0]],
    ),
}

# Binds whose answer is empty by design (no such repo, PR or window); every other case must
# return rows, or it would compare nothing.
EMPTY_BY_DESIGN = ("nobody/nothing", 999_999, T0 + 400 * D, NO_SUCH_TEST)

FLOAT_REL_TOL = 1e-9


# --- the SQL as the services send it ---------------------------------------------------------


def escape(text: str) -> str:
    """clickhouse 0.15's sql::escape: a backslash before \\ ' ` tab and newline."""
    return re.sub(r"([\\'`\t\n])", r"\\\1", text)


def literal(value) -> str:
    """A bound value as the crate's SQL serializer writes it."""
    if isinstance(value, bool):
        raise TypeError("no bools are bound")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + escape(value) + "'"
    if isinstance(value, list):
        return "[" + ",".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ",".join(literal(v) for v in value) + ")"
    raise TypeError(f"cannot bind {value!r}")


def bind(template: str, fields: list[str], values: list) -> str:
    """SqlBuilder::new + bind_fields + bind_arg: `??` is `?`, `?fields` the backquoted field
    names joined by commas, each other `?` the next value."""
    out, rest, values = [], template, list(values)
    while (i := rest.find("?")) >= 0:
        out.append(rest[:i])
        rest = rest[i + 1 :]
        if rest.startswith("?"):
            out.append("?")
            rest = rest[1:]
        elif rest.startswith("fields"):
            out.append(",".join("`" + escape(f) + "`" for f in fields))
            rest = rest[len("fields") :]
        else:
            if not values:
                raise ValueError("more `?` than bound values")
            out.append(literal(values.pop(0)))
    if values:
        raise ValueError(f"{len(values)} bound values left over")
    return "".join(out) + rest


def row_fields(source: str) -> dict[str, list[str]]:
    """The column names of each `#[derive(.. Row ..)] struct` in `source`: its fields in order,
    renamed by `#[serde(rename = "...")]`, as clickhouse::Row's COLUMN_NAMES has them."""
    structs = {}
    for m in re.finditer(
        r"#\[derive\(([^)]*)\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)\s*\{(.*?)\n\}",
        source,
        re.S,
    ):
        derives, name, body = m.groups()
        if not re.search(r"\bRow\b", derives):
            continue
        fields, rename = [], None
        for line in body.splitlines():
            line = line.strip()
            if r := re.match(r'#\[serde\(rename\s*=\s*"([^"]+)"\)\]', line):
                rename = r.group(1)
            elif f := re.match(r"(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:", line):
                fields.append(rename or f.group(1))
                rename = None
        structs[name] = fields
    return structs


def outcome_condition(query: str, values: list) -> str:
    """What the service splices for `{outcome_condition}` (query/src/stores/deliveries.rs): a
    condition on the outcomes when the case binds a list of them, else nothing."""
    if query == "deliveries_page.sql" and any(isinstance(v, list) for v in values):
        return "WHERE has(?, outcome)"
    return ""


def slot_condition(query: str, values: list) -> str:
    """What the service splices for `{slot_condition}` (query/src/stores/triage.rs OF_SLOTS): a
    condition on the slots when the case binds them (a seventh value), else nothing."""
    if (query == "nightlies_before.sql" and len(values) == 7) or (
        query == "test_history_jobs.sql" and len(values) == 15
    ):
        return (
            "AND (workflow_name, job_name) IN (\n"
            "        SELECT tupleElement(s, 1), tupleElement(s, 2) FROM (SELECT arrayJoin(?) AS s)\n    )"
        )
    return ""


def repo_condition(query: str, values: list) -> str:
    """What the service splices for `{repo_condition}` (query/src/stores/rollups.rs): a condition
    on one repo when the case binds one, else nothing."""
    if query == "level_days.sql":
        return "WHERE downstream_repo = ?" if len(values) == 1 else ""
    return "downstream_repo = ? AND" if len(values) == 2 else ""


def render_ddl(
    template: str, table: str, ttl_days: int | None, ttl_column: str = "first_seen_at", current: bool = False
) -> str:
    """read_tables::table_ddl: the TTL clause where the server has table TTLs, else empty; and on
    a current server (`current`, 21.1+) the compressed-block size where the file asks for it."""
    ttl_clause = f"TTL {ttl_column} + toIntervalDay({ttl_days})" if ttl_days else ""
    block_settings = f", min_compress_block_size = {MIN_COMPRESS_BLOCK_BYTES}" if current else ""
    sql = (
        template.replace("{database}", DATABASE)
        .replace("{table}", table)
        .replace("{ttl_clause}", ttl_clause)
        .replace("{block_settings}", block_settings)
    )
    if left := re.findall(r"\{\w+\}", sql):
        raise ValueError(f"placeholders this check does not know: {sorted(set(left))}")
    return sql


def modify_ttl(table: str, ttl_days: int, ttl_column: str = "first_seen_at") -> str:
    """migrate::ttl_alter's statement."""
    return f"ALTER TABLE {DATABASE}.{table} MODIFY TTL {ttl_column} + toIntervalDay({ttl_days})"


def declared_columns(create_sql: str) -> list[str]:
    """read_tables::declared_columns: the column names a CREATE TABLE file declares, in order."""
    body = create_sql.split("{table}\n(", 1)[1].split("\n)", 1)[0]
    return [line.split()[0] for line in body.splitlines() if line.split()]


def read_table_statements(jobs: str, ttl_days: int | None, current: bool) -> tuple[list[str], list[str], list[str]]:
    """What read_tables::ensure_read_tables sends for the jobs table `jobs`: each read table's
    CREATE TABLE, its materialized view, and its backfill (named columns, the view's SELECT)."""
    creates, views, backfills = [], [], []
    for suffix in READ_TABLE_SUFFIXES:
        create = (DDL_DIR / f"create_{JOB_TABLE_STEM}{suffix}.sql").read_text()
        fill = (DDL_DIR / f"fill_{JOB_TABLE_STEM}{suffix}.sql").read_text()
        table = f"{jobs}{suffix}"
        ttl_column = TTL_COLUMN.get(f"create_{JOB_TABLE_STEM}{suffix}.sql", "first_seen_at")
        creates.append(render_ddl(create, table, ttl_days, ttl_column, current))
        select = fill.replace("{database}", DATABASE).replace("{table}", jobs)
        views.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{table}_mv TO {DATABASE}.{table} AS\n{select}")
        backfills.append(f"INSERT INTO {DATABASE}.{table} ({', '.join(declared_columns(create))})\n{select}")
    return creates, views, backfills


# --- the two engines ---------------------------------------------------------------------------


class EngineError(Exception):
    pass


class Server1816:
    name = "18.16"

    def __init__(self, url: str, user: str, password: str):
        self.url, self.user, self.password = url.rstrip("/") + "/", user, password

    def run(self, sql: str, fmt: str | None = None) -> str:
        if fmt:
            sql = f"{sql}\nFORMAT {fmt}"
        req = urllib.request.Request(self.url, data=sql.encode(), method="POST")
        req.add_header("X-ClickHouse-User", self.user)
        if self.password:
            req.add_header("X-ClickHouse-Key", self.password)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            raise EngineError(e.read().decode(errors="replace").strip()) from None
        except urllib.error.URLError as e:
            raise EngineError(f"{self.url}: {e.reason}") from None


class Chdb:
    def __init__(self):
        from chdb import session

        self.dir = tempfile.TemporaryDirectory(prefix="oot-chdb-")
        self.session = session.Session(self.dir.name)
        self.name = self.run("SELECT version()", "TSV").strip()

    def run(self, sql: str, fmt: str | None = None) -> str:
        try:
            out = self.session.query(sql, fmt or "TSV")
        except Exception as e:  # chDB raises its own error types and RuntimeError
            raise EngineError(str(e).strip()) from None
        return out.bytes().decode() if hasattr(out, "bytes") else str(out)


# --- answers -----------------------------------------------------------------------------------


def unescape_tsv(field: str) -> str:
    return re.sub(
        r"\\(.)",
        lambda m: {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}.get(m.group(1), m.group(1)),
        field,
    )


def parse_value(text: str, type_: str, tz: ZoneInfo):
    if type_.startswith("Nullable("):
        return None if text == r"\N" else parse_value(text, type_[len("Nullable(") : -1], tz)
    if type_.startswith("DateTime"):
        # Printed in the server's time zone: compared as seconds since the epoch.
        return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz).timestamp())
    if re.fullmatch(r"U?Int\d+", type_):
        return int(text)
    if type_.startswith("Float"):
        return float(text)
    if type_ == "String":
        return unescape_tsv(text)
    if type_ == "Array(String)":
        # Compared as printed: both engines print arrays alike, quotes and escapes included.
        return parse_string_array(text)
    if re.fullmatch(r"Array\(U?Int\d+\)", type_):
        # TSV prints an array of numbers as [1,2,3]; a tuple, so rows stay sortable.
        return tuple(json.loads(text))
    raise ValueError(f"a type this check does not read: {type_}")


def parse_string_array(text: str) -> tuple:
    """An Array(String) as text (`['a','b\\'c']`: quoted, backslash-escaped) as a tuple."""
    items, i = [], 1
    escapes = {"t": "\t", "n": "\n", "r": "\r", "0": "\0", "b": "\b", "f": "\f"}
    while i < len(text) - 1:
        if text[i] != "'":
            i += 1
            continue
        i += 1
        item = []
        while i < len(text) and text[i] != "'":
            if text[i] == "\\" and i + 1 < len(text):
                item.append(escapes.get(text[i + 1], text[i + 1]))
                i += 2
            else:
                item.append(text[i])
                i += 1
        items.append("".join(item))
        i += 1
    return tuple(items)


def answer(engine, sql: str, tz: ZoneInfo):
    """(names, types, sorted rows) of a query."""
    out = engine.run(sql, "TabSeparatedWithNamesAndTypes")
    lines = out.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 2:
        raise EngineError(f"no header in the answer: {out[:200]!r}")
    names, types = lines[0].split("\t"), lines[1].split("\t")
    rows = [tuple(parse_value(v, t, tz) for v, t in zip(line.split("\t"), types)) for line in lines[2:]]
    rows.sort(key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))
    return names, types, rows


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=FLOAT_REL_TOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def difference(x, y) -> str | None:
    """What differs between two answers, or None."""
    (n1, t1, r1), (n2, t2, r2) = x, y
    if n1 != n2:
        return f"column names differ: {n1} vs {n2}"
    if t1 != t2:
        return "column types differ: " + ", ".join(
            f"{n}: {a} vs {b}" for n, a, b in zip(n1, t1, t2) if a != b
        )
    if len(r1) != len(r2):
        return f"{len(r1)} rows vs {len(r2)}"
    for a, b in zip(r1, r2):
        if len(a) != len(b) or not all(same_value(u, v) for u, v in zip(a, b)):
            return f"first differing row:\n      {a}\n      {b}"
    return None


# --- the check ---------------------------------------------------------------------------------


def main() -> int:
    failures: list[str] = []
    results: list[tuple[str, str, str, str]] = []

    def fail(what: str, why: str):
        failures.append(f"{what}: {why}")
        results.append((what, "-", "-", "FAIL"))

    old = Server1816(
        os.environ.get("OOT_CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        os.environ.get("OOT_CLICKHOUSE_USER", "default"),
        os.environ.get("OOT_CLICKHOUSE_PASSWORD", ""),
    )
    old_version = old.run("SELECT version()").strip()
    if not old_version.startswith("18.16."):
        print(f"the local ClickHouse is {old_version}, not 18.16: this check compares 18.16 with chDB", file=sys.stderr)
        return 1
    new = Chdb()
    tz_old = ZoneInfo(old.run("SELECT timezone()").strip())
    tz_new = ZoneInfo(new.run("SELECT timezone()").strip())
    print(f"ClickHouse {old_version} (local server) vs {new.name} (chDB)")

    for engine in (old, new):
        engine.run(f"DROP DATABASE IF EXISTS {DATABASE}")
        engine.run(f"CREATE DATABASE {DATABASE}")

    # DDL -----------------------------------------------------------------------------------
    # The fill_*.sql files are SELECTs, checked with the data below.
    ddl_files = sorted(f for f in DDL_DIR.glob("*.sql") if not f.name.startswith("fill_"))
    if not any(f.name == JOB_TABLE_DDL for f in ddl_files):
        print(f"{DDL_DIR / JOB_TABLE_DDL} is missing", file=sys.stderr)
        return 1
    for path in ddl_files:
        template = path.read_text()
        stem = path.stem
        ttl_column = TTL_COLUMN.get(path.name, "first_seen_at")
        steps = [
            # (what, engine, table, ttl days, should it be accepted)
            (f"{path.name}: without TTL on 18.16", old, f"{stem}_nottl", None, True),
            (f"{path.name}: with TTL refused by 18.16", old, f"{stem}_ttl", DEFAULT_TTL_DAYS, False),
            (f"{path.name}: without TTL on chDB", new, f"{stem}_nottl", None, True),
            (f"{path.name}: with TTL on chDB", new, f"{stem}_ttl", DEFAULT_TTL_DAYS, True),
        ]
        if "{ttl_clause}" not in template:
            # A table without retention of its own: no TTL variants.
            steps = [step for step in steps if step[3] is None]
        for what, engine, table, ttl, accepted in steps:
            try:
                engine.run(render_ddl(template, table, ttl, ttl_column, engine is new))
                ok, why = accepted, "accepted, but migrate holds that 18.16 has no table TTLs"
            except (EngineError, ValueError) as e:
                ok, why = not accepted, str(e).splitlines()[0][:300]
            results.append((what, "", "", "ok" if ok else "FAIL"))
            if not ok:
                failures.append(f"{what}: {why}")
            # Running it again changes nothing (IF NOT EXISTS): migrate runs at every start.
            if ok and accepted:
                try:
                    engine.run(render_ddl(template, table, ttl, ttl_column, engine is new))
                except (EngineError, ValueError) as e:
                    fail(f"{what}, run twice", str(e).splitlines()[0][:300])
        if "{ttl_clause}" not in template:
            continue
        # migrate's upgrade path on a current server: a table made without a TTL gets it by
        # ALTER, and the server prints the TTL back as ttl_alter's idempotence check expects.
        what = f"{path.name}: MODIFY TTL on chDB, printed back"
        try:
            new.run(modify_ttl(f"{stem}_nottl", DEFAULT_TTL_DAYS, ttl_column))
            wanted = f"TTL {ttl_column} + toIntervalDay({DEFAULT_TTL_DAYS})"
            for table in (f"{stem}_nottl", f"{stem}_ttl"):
                created = new.run(
                    f"SELECT create_table_query FROM system.tables WHERE database = '{DATABASE}' AND name = '{table}'"
                )
                normalized = " ".join(unescape_tsv(created).split())
                if wanted not in normalized:
                    raise EngineError(f"{table}'s create_table_query lacks `{wanted}`: {normalized}")
            results.append((what, "", "", "ok"))
        except EngineError as e:
            fail(what, str(e).splitlines()[0][:400])

    # The compressed-block size of the tables read in short key ranges: a table setting from
    # 21.1 on, refused by 18.16 (whose server profile sets it instead), and migrate's upgrade of
    # a table made without it (ReadTable::block_size_alter), printed back as its check expects.
    for path in ddl_files:
        template = path.read_text()
        if "{block_settings}" not in template:
            continue
        stem = path.stem
        what = f"{path.name}: min_compress_block_size refused by 18.16"
        try:
            old.run(render_ddl(template, f"{stem}_blocks", None, current=True))
            fail(what, "accepted, but migrate holds that 18.16 takes it only from its profile")
        except EngineError:
            results.append((what, "", "", "ok"))
        what = f"{path.name}: MODIFY SETTING min_compress_block_size on chDB, printed back"
        try:
            new.run(render_ddl(template, f"{stem}_blocks", None))
            new.run(
                f"ALTER TABLE {DATABASE}.{stem}_blocks MODIFY SETTING "
                f"min_compress_block_size = {MIN_COMPRESS_BLOCK_BYTES}"
            )
            for table in (f"{stem}_blocks", f"{stem}_nottl", f"{stem}_ttl"):
                created = new.run(
                    f"SELECT create_table_query FROM system.tables WHERE database = '{DATABASE}' AND name = '{table}'"
                )
                wanted = f"min_compress_block_size = {MIN_COMPRESS_BLOCK_BYTES}"
                if wanted not in unescape_tsv(created):
                    raise EngineError(f"{table}'s create_table_query lacks `{wanted}`: {created}")
            results.append((what, "", "", "ok"))
        except EngineError as e:
            fail(what, str(e).splitlines()[0][:400])

    # Data ----------------------------------------------------------------------------------
    template = (DDL_DIR / JOB_TABLE_DDL).read_text()
    # The `_bf` tables' read tables are made after their data, and backfilled.
    tables = [
        (old, "jobs", None, tz_old),
        (new, "jobs", QUERY_TTL_DAYS, tz_new),
        (new, "jobs_nottl", None, tz_new),
        (old, "jobs_bf", None, tz_old),
        (new, "jobs_bf", QUERY_TTL_DAYS, tz_new),
    ]
    batches = data.insert_batches()
    for engine, table, ttl, _ in tables:
        backfilled = table.endswith("_bf")
        creates, views, backfills = read_table_statements(table, ttl, engine is new)
        try:
            engine.run(render_ddl(template, table, ttl, current=engine is new))
            if not backfilled:
                for sql in creates + views:
                    engine.run(sql)
            for batch in batches:
                engine.run(f"INSERT INTO {DATABASE}.{table} FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in batch))
            if backfilled:
                for create, backfill, view in zip(creates, backfills, views):
                    engine.run(create)
                    engine.run(backfill)
                    engine.run(view)
        except EngineError as e:
            fail(f"data: {engine.name} {table}", str(e)[:600])
            continue
        results.append((f"read tables of {table} on {engine.name} ({'backfilled' if backfilled else 'kept by views'})", "", "", "ok"))
    counts = {(e.name, t): int(e.run(f"SELECT count() FROM {DATABASE}.{t}").strip()) for e, t, _, _ in tables}
    total = sum(len(b) for b in batches)
    for (engine, table), n in counts.items():
        if n != total:
            failures.append(f"data: {engine} {table} holds {n} rows, {total} inserted")
    for engine, table, _, _ in tables:
        jobs = int(engine.run(f"SELECT uniqExact(dynamoKey) FROM {DATABASE}.{table}").strip())
        if jobs >= total:
            failures.append(f"data: no job has two versions in {engine.name} {table}: FINAL is not exercised")
    print(f"data: {total} rows ({jobs} jobs) in {len(batches)} inserts, {len(data.REPOS)} repos")

    # The rollup tables of each jobs table: rows straight from data.py (the projector keeps them
    # from its ledger; here their versions are what the queries must collapse).
    rollups = [
        ("create_oot_job_cells.sql", "_cells", data.cell_batches()),
        ("create_oot_repo_latest.sql", "_repos", data.repo_batches()),
    ]
    for engine, table, ttl, _ in tables:
        for ddl, suffix, rollup_batches in rollups:
            try:
                engine.run(render_ddl((DDL_DIR / ddl).read_text(), f"{table}{suffix}", ttl, TTL_COLUMN.get(ddl, "first_seen_at"), engine is new))
                for batch in rollup_batches:
                    engine.run(
                        f"INSERT INTO {DATABASE}.{table}{suffix} FORMAT JSONEachRow\n"
                        + "\n".join(json.dumps(r) for r in batch)
                    )
            except EngineError as e:
                fail(f"data: {engine.name} {table}{suffix}", str(e)[:600])

    # Failed tests: the rows the projector would write for each job row of the data set.
    failed_batches = [data.failed_test_rows(batch) for batch in batches]
    expected = data.current_failed_tests(batches)
    failed_template = (DDL_DIR / FAILED_TESTS_DDL).read_text()
    current_answers = []
    for engine, table, ttl, tz in tables:
        failed = f"{table}{FAILED_TESTS_SUFFIX}"
        what = f"failed tests of {table} on {engine.name}: the latest versions' rows"
        try:
            engine.run(render_ddl(failed_template, failed, ttl, current=engine is new))
            made = {}
            for suffix in (FAILED_BY_JOB_SUFFIX, FAILED_ON_PRS_SUFFIX):
                read_table = f"{table}{suffix}"
                create = (DDL_DIR / f"create_{JOB_TABLE_STEM}{suffix}.sql").read_text()
                fill = (DDL_DIR / f"fill_{JOB_TABLE_STEM}{suffix}.sql").read_text()
                engine.run(render_ddl(create, read_table, ttl, current=engine is new))
                select = fill.replace("{database}", DATABASE).replace("{table}", failed)
                engine.run(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {DATABASE}.{read_table}_mv TO {DATABASE}.{read_table} AS\n{select}")
                made[suffix] = (read_table, declared_columns(create))
            for batch in filter(None, failed_batches):
                engine.run(
                    f"INSERT INTO {DATABASE}.{failed} FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in batch)
                )
            # The by-job view's copy holds every row of its source, as the source's own columns.
            by_job, columns = made[FAILED_BY_JOB_SUFFIX]
            columns = ", ".join(columns)
            copy = answer(engine, f"SELECT {columns} FROM {DATABASE}.{by_job} ORDER BY {columns}", tz)[2]
            source = answer(engine, f"SELECT {columns} FROM {DATABASE}.{failed} ORDER BY {columns}", tz)[2]
            if copy != source or not copy:
                raise EngineError(f"{by_job}: {len(copy)} rows, its source {len(source)}")
            # The on-PRs view's rows are the source's rows on a PR, hashed as the service hashes.
            on_prs, columns = made[FAILED_ON_PRS_SUFFIX]
            columns = ", ".join(columns)
            got = answer(engine, f"SELECT {columns}, toUInt32(first_seen_at) FROM {DATABASE}.{on_prs}", tz)[2]
            got = sorted((r[0], r[1], r[-1], r[3], r[4], r[5], r[6]) for r in got)
            wanted = on_prs_rows([r for b in failed_batches for r in b])
            if got != wanted or not got:
                raise EngineError(f"{on_prs}: {len(got)} rows, {len(wanted)} hashed here; first differing: "
                                  f"{next((a, b) for a, b in zip(got + [None], wanted + [None]) if a != b)}")
            # The computed count of each job row's list entries (create_oot_workflow_job.sql).
            listed = answer(engine, f"SELECT dynamoKey, version, failed_tests_listed FROM {DATABASE}.{table}", tz)[2]
            wanted = sorted(
                (r["dynamoKey"], r["version"], len(json.loads(r["failed_tests_json"])) if r["failed_tests_json"] else 0)
                for b in batches
                for r in b
            )
            if sorted(listed) != wanted or not any(n for _, _, n in wanted):
                raise EngineError(f"{table}.failed_tests_listed: not the lists' entry counts")
            sql = FAILED_TESTS_CURRENT.format(failed=f"{DATABASE}.{failed}", jobs=f"{DATABASE}.{table}")
            current_answers.append(answer(engine, sql, tz))
        except EngineError as e:
            fail(what, str(e)[:600])
            continue
        got = sorted((r[0], r[1], r[2], r[3]) for r in current_answers[-1][2])
        if got != expected:
            fail(what, f"{len(got)} rows, data.py expects {len(expected)}")
            continue
        if (d := difference(current_answers[0], current_answers[-1])) is not None:
            fail(what, f"differs from 18.16 (jobs): {d}")
            continue
        results.append((what, str(len(got)), "", "ok"))
    stale = sum(len(b) for b in failed_batches) - len(expected)
    if not expected or stale <= 0:
        failures.append("failed tests: the data set has no current or no stale rows, so the rule is not exercised")
    print(f"failed tests: {sum(len(b) for b in failed_batches)} rows inserted, {len(expected)} current")

    # The delivery log: the rows the projector writes, a receipt's rows in separate parts; the
    # reading rule (each receipt once, as its best row) gives what data.py expects.
    delivery_batches = data.delivery_batches()
    deliveries_template = (DDL_DIR / DELIVERIES_DDL).read_text()
    for engine, table, ttl, tz in tables:
        deliveries = f"{table}_deliveries"
        what = f"deliveries of {table} on {engine.name}: each receipt once, as its best row"
        try:
            engine.run(render_ddl(deliveries_template, deliveries, ttl, TTL_COLUMN[DELIVERIES_DDL], engine is new))
            for batch in delivery_batches:
                engine.run(
                    f"INSERT INTO {DATABASE}.{deliveries} FORMAT JSONEachRow\n" + "\n".join(json.dumps(r) for r in batch)
                )
            for repo in data.REPOS:
                counts_sql = bind(
                    (QUERY_DIR / "deliveries_counts.sql").read_text().replace("{deliveries}", f"{DATABASE}.{deliveries}"),
                    [],
                    [repo, 0],
                )
                got = {}
                for refusal, receipts, unchanged_or_better, changed in answer(engine, counts_sql, tz)[2]:
                    if refusal:
                        got[refusal] = receipts
                    else:
                        # As stores/deliveries.rs OutcomeCounts::of splits them.
                        got.update(
                            changed=changed,
                            unchanged=unchanged_or_better - changed,
                            parked=receipts - unchanged_or_better,
                        )
                got = {k: v for k, v in got.items() if v}
                expected = data.delivery_counts(delivery_batches, repo, 0)
                if got != expected:
                    raise EngineError(f"{repo}: counts {got}, data.py expects {expected}")
        except EngineError as e:
            fail(what, str(e)[:600])
            continue
        results.append((what, "", "", "ok"))

    # Queries -------------------------------------------------------------------------------
    structs = {}
    for source in ROWS_RS:
        structs.update(row_fields(source.read_text()))
    reads = []
    for path in sorted(QUERY_DIR.glob("*.sql")):
        if path.name not in QUERIES:
            fail(path.name, "not in tests/chdb/check.py's QUERIES: add its row struct and binds")
            continue
        reads += [(path, read) for read in [QUERIES[path.name], *ALSO_READ_AS.get(path.name, [])]]
    for path, (struct, cases) in reads:
        if struct not in structs:
            fail(path.name, f"no `#[derive(Row)] struct {struct}` in {[str(p.relative_to(REPO)) for p in ROWS_RS]}")
            continue
        template = path.read_text()
        for i, values in enumerate(cases):
            what = f"{path.name} #{i + 1}" if struct == QUERIES[path.name][0] else f"{path.name} as {struct} #{i + 1}"
            try:
                answers = []
                for engine, table, _, tz in tables:
                    spliced = (
                        template.replace("{table}", f"{DATABASE}.{table}")
                        .replace("{cells}", f"{DATABASE}.{table}_cells")
                        .replace("{repos}", f"{DATABASE}.{table}_repos")
                        .replace("{levels}", f"{DATABASE}.{table}_levels")
                        .replace("{repo_condition}", repo_condition(path.name, values))
                        .replace("{deliveries}", f"{DATABASE}.{table}_deliveries")
                        .replace("{outcome_condition}", outcome_condition(path.name, values))
                        .replace("{slot_condition}", slot_condition(path.name, values))
                    )
                    sql = bind(spliced, structs[struct], values)
                    try:
                        answers.append(answer(engine, sql, tz))
                    except EngineError as e:
                        raise EngineError(f"{engine.name} ({table}): {e}") from None
            except (EngineError, ValueError) as e:
                fail(what, str(e)[:600])
                continue
            diffs = [
                f"18.16 (jobs) vs {engine.name} ({table}): {d}"
                for (engine, table, _, _), ans in zip(tables[1:], answers[1:])
                if (d := difference(answers[0], ans))
            ]
            rows = f"{len(answers[0][2])}"
            results.append((what, rows, "/".join(str(len(a[2])) for a in answers[1:]), "ok" if not diffs else "DIFFERS"))
            for d in diffs:
                failures.append(f"{what} {describe(values)}: {d}")
            # A scalar bound, or a list whose every item (a tuple: its first value) is one.
            by_design = any(
                v in EMPTY_BY_DESIGN
                if not isinstance(v, list)
                else bool(v) and all((e[0] if isinstance(e, tuple) else e) in EMPTY_BY_DESIGN for e in v)
                for v in values
            )
            if not answers[0][2] and not by_design and what != "failed_tests.sql #3":
                failures.append(f"{what} {describe(values)}: no rows on 18.16, so the case compares nothing")

    for engine in (old, new):
        engine.run(f"DROP DATABASE IF EXISTS {DATABASE}")

    width = max(len(r[0]) for r in results)
    others = ", ".join(f"{'18.16' if e is old else 'chDB'} {t}" for e, t, _, _ in tables[1:])
    print(f"\nrows: 18.16 jobs, then {others}")
    print(f"\n{'check':<{width}}  {'rows 18.16':>10}  {'rows others':>22}  result")
    for what, a, b, verdict in results:
        print(f"{what:<{width}}  {a:>10}  {b:>22}  {verdict}")
    if failures:
        print("\nchDB check FAILED:")
        for f in failures:
            print(f"  - {f}")
        failed = sum(r[3] != "ok" for r in results) or 1
        print(f"chdb: {len(results) - failed} passed, {failed} failed")
        return 1
    print(f"chdb: {len(results)} passed, 0 failed")
    return 0


def describe(values: list) -> str:
    shown = [v if not isinstance(v, list) else f"[{len(v)} keys]" for v in values]
    return f"(binds {shown})"


if __name__ == "__main__":
    sys.exit(main())
