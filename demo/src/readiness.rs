//! The readiness part of the demo (issue 12): three backends with weeks of history, so the
//! scorecard, the level history and the trends have something to judge on a fresh stack.
//!
//! | backend | history | what the scorecard says |
//! |---|---|---|
//! | [`READY`] | L1 from 60 to 46 days ago, L2 since 45 days ago; 3 PR runs a day, 1 in 20 fails, about an hour end to end | eligible for L3 |
//! | [`SLOW`] | L3 for 60 days; 3 PR runs a day, all but 1 in 25 pass, 2 h 40 min to 3 h 40 min of execution after 10 min in the queue | meets the demotion rule: end-to-end median and overrun rate |
//! | [`NIGHTLY_ONLY`] | L2 for 20 days; only nightlies, two legs a night | not eligible yet (20 days at L2), no PR runs at all |
//!
//! Ingest stamps each callback with its own clock, so a past cannot be posted through it: these
//! callbacks are validated and turned into events exactly as ingest would have at their times
//! ([`crate::load::event_of`]) and written to the event topic, as `oot-load` writes its jobs.

use oot_avro::CallbackEvent;
use oot_contract::{Conclusion, RepoLevel, RepoName};
use time::{Duration, OffsetDateTime};

use crate::callback::{Job, PullRequest, Trigger};
use crate::rng::Rng;

/// Eligible for promotion to L3.
pub const READY: &str = "cambricon/torch-mlu";
/// At L3, failing two gates (end-to-end median and overrun rate).
pub const SLOW: &str = "riscv-farm/pytorch-rv64";
/// Runs only nightly.
pub const NIGHTLY_ONLY: &str = "tenstorrent/pytorch-tt";

const DAY: i64 = 86_400;
const UPSTREAM_REPO: &str = "pytorch/pytorch";

/// One job of the history: its first callback `ago` seconds before now.
struct Past {
    job: Job,
    ago: i64,
    queue_s: f64,
    execution_s: f64,
    conclusion: Conclusion,
}

/// Ids of one demo run: delivery ids fresh per run (so a second run adds jobs), run and check
/// run ids growing with the wall clock (as GitHub's do, and as the live demo's).
struct Ids {
    nonce: u64,
    first_run: u64,
    next: u64,
}

impl Ids {
    fn next(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

fn pr_job(repo: &RepoName, level: RepoLevel, ids: &mut Ids, number: u64, leg: &str) -> Job {
    let n = ids.next();
    Job {
        repo: repo.clone(),
        level,
        trigger: Trigger::PullRequest(PullRequest {
            upstream: RepoName::parse(UPSTREAM_REPO).unwrap_or_else(|_| repo.clone()),
            number,
            title: format!("demo history PR {number}"),
            author: "demo".to_owned(),
            head_sha: format!("{:040x}", u128::from(number) * 0x9e37_79b9 + 7),
            branch: format!("demo-{number}"),
        }),
        delivery_id: format!("{:016x}-{n:08x}-hist", ids.nonce),
        workflow: "ci".to_owned(),
        job_name: leg.to_owned(),
        run_id: ids.first_run + n,
        run_attempt: 1,
        check_run_id: (ids.first_run + n) * 3,
    }
}

fn nightly_job(repo: &RepoName, level: RepoLevel, ids: &mut Ids, night: i64, leg: &str) -> Job {
    let n = ids.next();
    let sha = format!("{:040x}", (night as u128) * 0x5851_f42d + 0xdead);
    Job {
        repo: repo.clone(),
        level,
        trigger: Trigger::Nightly {
            upstream: RepoName::parse(UPSTREAM_REPO).unwrap_or_else(|_| repo.clone()),
            head_sha: sha.clone(),
        },
        delivery_id: format!("{:016x}-{sha}", ids.nonce),
        workflow: "nightly".to_owned(),
        job_name: leg.to_owned(),
        run_id: ids.first_run + n,
        run_attempt: 1,
        check_run_id: (ids.first_run + n) * 3,
    }
}

fn history_jobs(seed: u64, run_nonce: u128, now: OffsetDateTime) -> anyhow::Result<Vec<Past>> {
    let mut rng = Rng::seeded(seed ^ 0x12ea_d1e5);
    let clock = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    let mut ids = Ids {
        nonce: (run_nonce as u64) ^ ((run_nonce >> 64) as u64),
        // Below the live demo's (10,000,000,000 + clock × 1,000): these runs are older.
        first_run: 1_000_000_000 + (clock % 1_000_000) * 1_000,
        next: 0,
    };
    let (ready, slow, nightly) = (
        RepoName::parse(READY)?,
        RepoName::parse(SLOW)?,
        RepoName::parse(NIGHTLY_ONLY)?,
    );
    let mut jobs = Vec::new();
    let mut pr = 190_000;
    for day in (1..=60).rev() {
        // The ready backend: L1 until 46 days ago (a run every other day), L2 from 45.
        let runs = if day > 45 { u64::from(day % 2 == 0) } else { 3 };
        for i in 0..runs {
            pr += 1;
            let level = if day > 45 {
                RepoLevel::L1
            } else {
                RepoLevel::L2
            };
            jobs.push(Past {
                job: pr_job(&ready, level, &mut ids, pr, "mlu / test"),
                ago: day * DAY - i as i64 * 7 * 3_600 - 3_600,
                queue_s: rng.range(180, 600) as f64,
                execution_s: rng.range(2_400, 4_200) as f64,
                conclusion: if pr % 20 == 0 {
                    Conclusion::Failure
                } else {
                    Conclusion::Success
                },
            });
        }
        // The slow one: long runs at L3, most over 3 h end to end.
        for i in 0..3 {
            pr += 1;
            jobs.push(Past {
                job: pr_job(&slow, RepoLevel::L3, &mut ids, pr, "rv64 / test"),
                ago: day * DAY - i * 7 * 3_600 - 2 * 3_600,
                queue_s: rng.range(300, 900) as f64,
                execution_s: rng.range(9_600, 13_200) as f64,
                conclusion: if pr % 25 == 0 {
                    Conclusion::Failure
                } else {
                    Conclusion::Success
                },
            });
        }
        // The nightly-only one, for its last 20 days.
        if day <= 20 {
            for leg in ["tt / nightly (1, 2)", "tt / nightly (2, 2)"] {
                jobs.push(Past {
                    job: nightly_job(&nightly, RepoLevel::L2, &mut ids, day, leg),
                    ago: day * DAY - 5 * 3_600,
                    queue_s: rng.range(60, 300) as f64,
                    execution_s: rng.range(3_600, 5_400) as f64,
                    conclusion: if rng.range(0, 10) == 0 {
                        Conclusion::Failure
                    } else {
                        Conclusion::Success
                    },
                });
            }
        }
    }
    Ok(jobs)
}

/// The events of the readiness history ending at `now`: each job's `in_progress` at its start
/// and `completed` its execution time later, oldest first, as ingest would have logged them.
pub fn history_events(
    seed: u64,
    run_nonce: u128,
    now: OffsetDateTime,
) -> anyhow::Result<Vec<CallbackEvent>> {
    let mut timed = Vec::new();
    for past in history_jobs(seed, run_nonce, now)? {
        let started = now - Duration::seconds(past.ago);
        let completed = started + Duration::seconds(past.execution_s as i64);
        let start = past.job.in_progress(started, past.queue_s);
        let done = past
            .job
            .completed(past.conclusion, completed, Some(past.execution_s));
        timed.push((started, crate::load::event_of(&start, started)?));
        timed.push((completed, crate::load::event_of(&done, completed)?));
    }
    timed.sort_by_key(|(at, _)| *at);
    Ok(timed.into_iter().map(|(_, event)| event).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_valid_and_ends_before_now() {
        let now = OffsetDateTime::now_utc();
        let events = history_events(1, 2, now).expect("ingest accepts every callback");
        assert!(events.len() > 500, "{}", events.len());
        let repos: std::collections::BTreeSet<&str> =
            events.iter().map(|e| e.verified_repo.as_str()).collect();
        assert_eq!(
            repos.into_iter().collect::<Vec<_>>(),
            [READY, SLOW, NIGHTLY_ONLY]
        );
        let again = history_events(1, 3, now).expect("valid");
        assert_eq!(again.len(), events.len(), "one seed, one story");
        assert_ne!(
            again[0].job_key, events[0].job_key,
            "fresh ids per run, so a second run adds jobs"
        );
    }
}
