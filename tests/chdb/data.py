"""A small deterministic data set for the completed-jobs table (columns of
platform/sql/create_oot_workflow_job.sql), the same on every run and in both engines.

About 200 rows: 3 downstream repos over 40 days of 2026, jobs of several workflows and PRs,
run attempts 1 and 2 as jobs of their own, later versions of some jobs (a redelivery, a later
completed callback, the sweeper's `timed_out`) in separate inserts so that FINAL has to collapse
them across parts, one exact duplicate, in-progress rows, NULLs in every nullable column, and a
key and JSON with quotes, backslashes, tabs and non-ASCII text to exercise the binds' escaping.
"""

from __future__ import annotations

import json
import random

T0 = 1_767_225_600  # 2026-01-01 00:00:00 UTC
D = 86_400

REPOS = ["acme/torch-npu", "b-corp/xpu_backend", "c.org/rocm-ci"]
UPSTREAMS = [("pytorch/pytorch", [1001, 1002, 1003]), ("pytorch/vision", [1001, 7])]
WORKFLOWS = {"ci": ["build", "test (1, 2)", "test (2, 2)"], "nightly": ["smoke"]}
CONCLUSIONS = ["success", "success", "success", "failure", "cancelled", "timed_out", "skipped"]
LEVELS = {REPOS[0]: ["L1", "L2"], REPOS[1]: ["", ""], REPOS[2]: ["L3", "L3"]}

# A key the failure drill-down binds that needs escaping (the contract's keys never hold these,
# but the binding must survive them).
ODD_KEY = "acme/torch-npu/d'odd\\1/ci/test \t\"q\"/9"


def _jobs() -> list[dict]:
    rng = random.Random(20260101)
    jobs = []
    check_run = 5000
    for r, repo in enumerate(REPOS):
        for n in range(36 + 4 * r):
            day = rng.randrange(40)
            first_seen = T0 + day * D + rng.randrange(D - 7200)
            # The level a repo reports changes mid-window (the latest one is what the summary shows).
            level = LEVELS[repo][0 if day < 20 else 1]
            if rng.random() < 0.75:
                upstream, prs = UPSTREAMS[0 if rng.random() < 0.8 else 1]
                upstream_repo, pr = upstream, rng.choice(prs)
            else:
                upstream_repo, pr = "", None  # a push or a schedule: no PR
            workflow = rng.choice(sorted(WORKFLOWS))
            job_name = rng.choice(WORKFLOWS[workflow])
            run_id = str(900_000 + r * 1000 + n)
            for attempt in (1, 2) if rng.random() < 0.2 else (1,):
                check_run += 1
                delivery = f"dlv-{r}-{n}-{attempt}"
                key = f"{repo}/{delivery}/{workflow}/{job_name}/{check_run}"
                jobs.append(
                    dict(
                        key=key,
                        repo=repo,
                        level=level,
                        upstream_repo=upstream_repo,
                        pr=pr,
                        workflow=workflow,
                        job_name=job_name,
                        run_id=run_id,
                        attempt=attempt,
                        check_run_id=str(check_run),
                        delivery=delivery,
                        first_seen=first_seen + (attempt - 1) * 3600,
                        rng=random.Random(check_run),
                    )
                )
    # The odd key: a job of the first repo.
    jobs.append(dict(jobs[0], key=ODD_KEY, check_run_id="9", delivery="d'odd\\1", rng=random.Random(9)))
    return jobs


def _row(job: dict, version: int, last: bool) -> dict:
    rng = job["rng"]
    started = job["first_seen"] + rng.randrange(1, 600)
    completed_at = started + rng.randrange(60, 7200) + (version - 1) * 1800
    in_progress = rng.random() < (0.1 if last else 0.5)
    conclusion = "" if in_progress else rng.choice(CONCLUSIONS)
    if not in_progress and version == 3:
        conclusion = "timed_out"  # the sweeper's verdict, a later version
    has_tests = not in_progress and rng.random() < 0.7
    total = rng.randrange(0, 5000) if has_tests else None
    failed = (rng.randrange(0, 4) if conclusion == "failure" else 0) if has_tests else None
    skipped = rng.randrange(0, 50) if has_tests else None
    failed_json = (
        json.dumps(
            [{"name": f"test_{i}\u00e9", "message": "assert 'a' == \"b\"\tat x\\y"} for i in range(failed)],
            separators=(",", ":"),
        )
        if failed
        else ""
    )
    return {
        "dynamoKey": job["key"],
        "version": version,
        "source_digest": f"{rng.getrandbits(64):016x}",
        "first_seen_at": job["first_seen"],
        "projected_at": job["first_seen"] + 60 * version,
        "status": "in_progress" if in_progress else "completed",
        "downstream_repo": job["repo"],
        "downstream_repo_level": job["level"],
        "upstream_repo": job["upstream_repo"],
        "pr_number": job["pr"],
        "pytorch_head_sha": f"{rng.getrandbits(160):040x}" if job["pr"] else "",
        "delivery_id": job["delivery"],
        "event_type": "pull_request" if job["pr"] else "push",
        "workflow_run_url": f"https://example.com/{job['repo']}/actions/runs/{job['run_id']}",
        "workflow_name": job["workflow"],
        "job_name": job["job_name"],
        "check_run_id": job["check_run_id"],
        "run_id": job["run_id"],
        "run_attempt": job["attempt"],
        "conclusion": conclusion,
        "queue_time": None if rng.random() < 0.2 else round(rng.uniform(0, 900), 3) + 1 / 3,
        "execution_time": None if in_progress or rng.random() < 0.1 else round(rng.uniform(1, 7200), 6),
        "started_at": None if rng.random() < 0.15 else started,
        "completed_at": completed_at,
        "total_tests": total,
        "passed_tests": None if total is None else total - failed - skipped if total >= failed + skipped else 0,
        "failed_tests": failed,
        "skipped_tests": skipped,
        "failed_tests_json": failed_json,
        "artifact_url": f"https://example.com/artifacts/{job['check_run_id']}.zip" if has_tests else "",
        "environment": "" if rng.random() < 0.5 else "{\"runner\": \"linux-npu\"}",
    }



def insert_batches() -> list[list[dict]]:
    """The rows, by version: one INSERT per version, so that the versions of a job are in
    different parts and FINAL collapses them at query time. Versions 1-3 of some jobs; the last
    version of each job is the one FINAL must return."""
    jobs = _jobs()
    rng = random.Random(7)
    batches: list[list[dict]] = [[], [], []]
    for job in jobs:
        versions = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        for v in range(1, versions + 1):
            batches[v - 1].append(_row(job, v, last=v == versions))
    # A redelivery of the same version, identical: ReplacingMergeTree keeps one.
    batches[1].append(dict(batches[0][3]))
    return batches


def failed_test_rows(batch: list[dict]) -> list[dict]:
    """The failed-test table's rows (platform/sql/create_oot_workflow_job_failed_tests.sql) of
    one INSERT of job rows, as the projector makes them: one per listed test of each completed
    job row, at the row's version."""
    rows = []
    for job in batch:
        if job["status"] != "completed" or not job["failed_tests_json"]:
            continue
        for test in json.loads(job["failed_tests_json"]):
            rows.append(
                {
                    "downstream_repo": job["downstream_repo"],
                    "classname": test.get("classname") or "",
                    "name": test["name"],
                    "first_seen_at": job["first_seen_at"],
                    "dynamoKey": job["dynamoKey"],
                    "version": job["version"],
                    "upstream_repo": job["upstream_repo"],
                    "pr_number": job["pr_number"],
                    "pytorch_head_sha": job["pytorch_head_sha"],
                    "event_type": job["event_type"],
                    "workflow_name": job["workflow_name"],
                    "job_name": job["job_name"],
                    "run_id": job["run_id"],
                    "run_attempt": job["run_attempt"],
                    "conclusion": job["conclusion"],
                    "completed_at": job["completed_at"],
                    "message": test.get("message") or "",
                    "message_truncated": 0,
                    "duration_s": test.get("duration_s"),
                }
            )
    return rows


def current_failed_tests(batches: list[list[dict]]) -> list[tuple]:
    """(dynamoKey, classname, name, version) of the failed tests each job lists at its latest
    version: what the contract's reading rule must give, sorted."""
    latest: dict[str, int] = {}
    for batch in batches:
        for job in batch:
            latest[job["dynamoKey"]] = max(latest.get(job["dynamoKey"], 0), job["version"])
    return sorted(
        {
            (r["dynamoKey"], r["classname"], r["name"], r["version"])
            for batch in batches
            for r in failed_test_rows(batch)
            if r["version"] == latest[r["dynamoKey"]]
        }
    )


def keys_of(repo: str) -> list[str]:
    return sorted({j["key"] for j in _jobs() if j["repo"] == repo})


def targets_of(repo: str) -> list[tuple]:
    """The upstream targets of a repo's jobs as the read tables store them (query/src/target.rs):
    (upstream repo, PR, "", "") or (upstream repo, 0, event type, delivery id)."""
    return sorted(
        {
            (j["upstream_repo"], j["pr"], "", "") if j["pr"] else (j["upstream_repo"], 0, "push", j["delivery"])
            for j in _jobs()
            if j["repo"] == repo
        }
    )


FIGURES = [
    "completed", "successes", "failures", "timed_out", "cancelled", "other",
    "duration_sum_us", "durations", "queue_sum_us", "queues",
]


def cell_batches() -> list[list[dict]]:
    """Rows of the rollup cells table (platform/sql/create_oot_job_cells.sql), by version: each
    cell's versions in separate INSERTs (parts), a later version sometimes smaller (a re-run
    retracted an attempt) or zero, so a reader must take the latest per cell, never the max or
    a sum of versions."""
    rng = random.Random(11)
    batches: list[list[dict]] = [[], [], []]
    for repo in REPOS:
        for day in range(0, 40, 3):
            for hour in (0, 7, 23):
                for workflow, names in WORKFLOWS.items():
                    for name in names:
                        versions = rng.choice([1, 1, 2, 3])
                        for v in range(1, versions + 1):
                            completed = rng.randint(0, 6) if v < versions or rng.random() > 0.1 else 0
                            successes = rng.randint(0, completed)
                            failures = rng.randint(0, completed - successes)
                            timed_out = rng.randint(0, completed - successes - failures)
                            cancelled = completed - successes - failures - timed_out
                            verdicts = successes + failures + timed_out
                            # Bucket counts (rollup/src/histogram.rs), of another length now and
                            # then, or absent: a row written before the histograms existed.
                            histograms = {}
                            if rng.random() > 0.2:
                                histograms = {
                                    name: [rng.randint(0, 5) for _ in range(rng.choice([24, 24, 24, 3]))]
                                    for name in ("duration_buckets", "queue_buckets", "e2e_buckets")
                                }
                            batches[v - 1].append({
                                **histograms,
                                "downstream_repo": repo,
                                "hour": T0 + day * D + hour * 3600,
                                "workflow_name": workflow,
                                "job_name": name,
                                "version": v * 10 + rng.randint(0, 9),
                                "completed": completed,
                                "successes": successes,
                                "failures": failures,
                                "timed_out": timed_out,
                                "cancelled": cancelled,
                                "other": 0,
                                "duration_sum_us": verdicts * rng.randint(1, 10**10),
                                "durations": verdicts,
                                "queue_sum_us": completed * rng.randint(0, 10**9),
                                "queues": completed,
                            })
    return batches


def repo_batches() -> list[list[dict]]:
    """Rows of the per-repo latest table (platform/sql/create_oot_repo_latest.sql), by version:
    the latest level of a repo may go down (a newer job at a lower level)."""
    batches: list[list[dict]] = [[], []]
    for i, repo in enumerate(REPOS):
        for v in (1, 2):
            batches[v - 1].append({
                "downstream_repo": repo,
                "version": v,
                "last_completed_at": T0 + (30 + i + v) * D,
                "latest_level": ["L3", "L2", ""][(i + v) % 3],
            })
    return batches


if __name__ == "__main__":
    b = insert_batches()
    print(sum(map(len, b)), "rows", [len(x) for x in b])


def delivery_batches() -> list[list[dict]]:
    """Rows of the deliveries table (platform/sql/create_oot_deliveries.sql), as the projector
    writes them: per repo, refused receipts (invalid with their problems, rate limited, log
    unavailable) and accepted events (changed, unchanged, parked) over the 40 days, in three
    inserts so that a receipt's rows sit in separate parts: a batch projected again after a crash
    (its events' rows again, as unchanged), a parked event redriven (parked, then changed), and
    a refused receipt written twice (a consumer's crash before its commit). Texts with quotes,
    backslashes, tabs and non-ASCII exercise the arrays' escaping."""
    rng = random.Random(16)
    first, again = [], []
    outcomes = ["changed", "changed", "changed", "unchanged", "parked"]
    refusals = [
        ("invalid", 400, "validation_failed"),
        ("invalid", 400, "invalid_json"),
        ("rate_limited", 429, "rate_limited"),
        ("log_unavailable", 503, "log_unavailable"),
    ]
    rank = {"changed": 3, "unchanged": 2, "parked": 1}
    for r, repo in enumerate(REPOS):
        for n in range(30 + 5 * r):
            received = T0 + rng.randrange(40 * D)
            accepted = rng.random() < 0.7
            receipt = f"0196{r:02d}{n:04d}-0000-7000-8000-{received:012d}"
            base = {
                "downstream_repo": repo,
                "received_at": received,
                "receipt_id": receipt,
                "problem_fields": [],
                "problem_messages": [],
                "problems_total": 0,
                "delivery_id": f"dlv-{r}-{n}",
                "job_key": f"{repo}/dlv-{r}-{n}/ci/test (1, 2)/{7000 + n}",
                "callback_status": "",
                "conclusion": "",
                "retry_after_seconds": None,
                "body_bytes": None,
                "body_excerpt": "",
                "visible_after_ms": None,
                "projected_at": received + 2,
            }
            if accepted:
                outcome = rng.choice(outcomes)
                row = dict(
                    base,
                    accepted=1,
                    rank=rank[outcome],
                    outcome=outcome,
                    status=202,
                    error="",
                    message="dynamodb ValidationException: Item size too large" if outcome == "parked" else "",
                    callback_status=rng.choice(["in_progress", "completed"]),
                    conclusion=rng.choice(["", "success", "failure"]),
                    visible_after_ms=None if outcome == "parked" else rng.randrange(50, 5000),
                )
                first.append(row)
                if outcome == "changed" and n % 4 == 0:
                    # Redelivered after a crash: found unchanged, in another part.
                    again.append(dict(row, rank=2, outcome="unchanged", visible_after_ms=rng.randrange(50, 500)))
                if outcome == "parked" and n % 2 == 0:
                    # Redriven once fixed: changed.
                    again.append(dict(row, rank=3, outcome="changed", message="", visible_after_ms=86_400_000))
            else:
                outcome, status, error = rng.choice(refusals)
                problems = (
                    [
                        ("untrusted.callback_payload.workflow.run_attempt", 'must be positive, got "0"'),
                        ("untrusted.callback_payload.workflow.failed_tests[3].name", "is required: it's \\ a\ttab ✓"),
                    ]
                    if error == "validation_failed"
                    else [("$", "body is not JSON: expected value at line 1 column 1")]
                    if error == "invalid_json"
                    else []
                )
                row = dict(
                    base,
                    accepted=0,
                    rank=0,
                    outcome=outcome,
                    status=status,
                    error=error,
                    message=f"{error}: refused",
                    problem_fields=[p[0] for p in problems],
                    problem_messages=[p[1] for p in problems],
                    problems_total=len(problems) + (5 if error == "validation_failed" else 0),
                    job_key="" if error == "invalid_json" else base["job_key"],
                    retry_after_seconds=rng.randrange(1, 60) if status in (429, 503) else None,
                    body_bytes=rng.randrange(100, 2_000_000),
                    body_excerpt='{"trusted":{"verified_repo":"' + repo + '"}, \'odd\' \\' if outcome == "invalid" else "",
                )
                first.append(row)
                if n % 5 == 0:
                    again.append(dict(row))
    return [first[: len(first) // 2], first[len(first) // 2 :], again]


def delivery_counts(batches: list[list[dict]], repo: str, since: int) -> dict:
    """What deliveries_counts.sql must answer for `repo` since `since`, from the rows: each
    receipt once, as its best row; per refusal outcome its receipts, and the accepted ones by
    their best outcome."""
    best = {}
    for row in (r for b in batches for r in b):
        if row["downstream_repo"] != repo or row["received_at"] < since:
            continue
        kept = best.get(row["receipt_id"])
        if kept is None or row["rank"] > kept["rank"]:
            best[row["receipt_id"]] = row
    counts = {}
    for row in best.values():
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return counts
