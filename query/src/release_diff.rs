//! How a backend's release diff is read (contract §12.16): the nightlies of the hours asked
//! about, then the few nightlies the rule compares, by key, then [`oot_triage::release_diff`]
//! on them.
//!
//! The rule (§12.9) needs, per slot, the slot's nightly series (latest attempts, in job order)
//! to choose each side's nightly, and of the two chosen jobs only, their failed tests and
//! counts. So:
//!
//! 1. the nightly jobs first seen in the window's hours, and in each time range's hours outside
//!    them ([`hours_to_read`]), through the nightly deliveries of the targets table
//!    ([`CompletedJobs::nightlies_before`], one read per span of hours, at once): their facts,
//!    no failed tests. The window's give its nightly commits ([`nightly_commits`]), which the
//!    sides are resolved against ([`resolve`]);
//! 2. the rule on those facts alone chooses each slot's two nightlies (the choice reads no
//!    failed test), and those jobs are read by key with their failed lists
//!    ([`CompletedJobs::judged_jobs`]): facts and tests of one version;
//! 3. the rule again, on the same jobs with the chosen ones' failed tests: the same choice, and
//!    each test's status from the two jobs that decide it.

use std::collections::{BTreeMap, HashMap};

use oot_contract::RepoName;
use oot_triage::{release_diff, JobResult, NightlySet, ReleaseDiff, Trigger};

use crate::error::ApiError;
use crate::observations::{JobFacts, ListedFailure, Observations};
use crate::params::{ReleaseDiffParams, SideRequest};
use crate::rules::{start_of_hour, HOUR};
use crate::stores::completed::CompletedJobs;
use crate::stores::pr_triage::{JobsOf, RepoJob};
use crate::stores::triage::Slots;
use crate::views::release_diff::{self, DiffInputs, NightlyCommit, ReleaseDiffView, Side};

/// One side as resolved against the window's nightly commits, before counting its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub set: NightlySet,
    /// Chosen by the defaults: the request named no such side.
    pub defaulted: bool,
}

/// The release diff `params` ask for, at `now`; a 400 when a commit prefix names no nightly
/// commit of the window, or several.
pub async fn diff_at(
    completed: &CompletedJobs,
    params: ReleaseDiffParams,
    now: i64,
) -> Result<ReleaseDiffView, ApiError> {
    let ReleaseDiffParams {
        repo,
        old,
        new,
        window,
    } = params;
    let since = window.since(now);
    let spans = hours_to_read(since, now, [old.as_ref(), new.as_ref()]);
    let nightlies = read_nightlies(completed, &repo, &spans).await?;
    let commits = nightly_commits(&nightlies, since);
    let (old, new) = resolve(old, new, &commits)?;

    let mut run_links: HashMap<String, String> = HashMap::new();
    let (observations, diff) = match (&old, &new) {
        (Some(old), Some(new)) => {
            let facts_only = Observations::of_window(nightlies.clone(), []);
            let chosen = chosen_keys(&release_diff(facts_only.results(), &old.set, &new.set));
            let asked: Vec<RepoJob<'_>> = chosen
                .iter()
                .map(|key| RepoJob {
                    downstream_repo: repo.as_str(),
                    job_key: key,
                })
                .collect();
            let judged = completed.judged_jobs(JobsOf::Repo(&repo), &asked).await?;
            let mut jobs = nightlies;
            let mut listed = Vec::new();
            for job in judged {
                listed.extend(job.failed.into_iter().map(|test| ListedFailure {
                    job_key: job.facts.job_key.clone(),
                    version: job.facts.version,
                    test,
                }));
                if let Some(url) = job.workflow_run_url {
                    run_links.insert(job.facts.job_key.clone(), url);
                }
                jobs.push(job.facts);
            }
            let observations = Observations::of_window(jobs, listed);
            let diff = release_diff(observations.results(), &old.set, &new.set);
            (observations, Some(diff))
        }
        _ => (Observations::of_window(nightlies, []), None),
    };
    let side = |resolved: Option<Resolved>| {
        resolved.map(|Resolved { set, defaulted }| Side {
            nightly_jobs: nightly_jobs_in(observations.results(), &set),
            set,
            defaulted,
        })
    };
    let (old, new) = (side(old), side(new));
    Ok(release_diff::build(
        DiffInputs {
            repo: repo.as_str(),
            window,
            now,
            old: old.as_ref(),
            new: new.as_ref(),
            nightly_commits: commits,
        },
        diff,
        |key| run_links.get(key).cloned(),
    ))
}

/// The nightly jobs of `repo` first seen in `spans`, latest version of each: one read per span,
/// at once, each keeping the jobs of its own hours (a delivery found in a span may have jobs
/// in the hours before it, which another span, or none, covers).
async fn read_nightlies(
    completed: &CompletedJobs,
    repo: &RepoName,
    spans: &[(i64, i64)],
) -> Result<Vec<JobFacts>, ApiError> {
    let reads = spans
        .iter()
        .map(|&(from, until)| completed.nightlies_before(repo, from, until, until, Slots::Every));
    let answers = futures::future::try_join_all(reads).await?;
    Ok(spans
        .iter()
        .zip(answers)
        .flat_map(|(&(from, until), jobs)| {
            jobs.into_iter()
                .filter(move |job| (from..until).contains(&job.first_seen_at))
        })
        .collect())
}

/// The spans of whole hours whose nightlies are read, disjoint, oldest first: the window's
/// (from `since` to the end of the current hour) and each time-range side's hours, up to the
/// end of the current hour (no job is first seen later).
pub fn hours_to_read(since: i64, now: i64, sides: [Option<&SideRequest>; 2]) -> Vec<(i64, i64)> {
    let end = start_of_hour(now) + HOUR;
    let mut spans = vec![(since, end)];
    for side in sides.into_iter().flatten() {
        if let SideRequest::Between { from, until } = *side {
            // The hours holding [from, until): up to the start of the hour after its last second.
            let span = (
                start_of_hour(from),
                (start_of_hour(until - 1) + HOUR).min(end),
            );
            if span.0 < span.1 {
                spans.push(span);
            }
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (from, until) in spans {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(until),
            _ => merged.push((from, until)),
        }
    }
    merged
}

/// The nightly commits of the jobs first seen since `since`, newest first by when each was
/// first seen (then by commit), each with its first-seen time and number of jobs. Jobs that
/// name no commit are left out: no side can name them.
pub fn nightly_commits(jobs: &[JobFacts], since: i64) -> Vec<NightlyCommit> {
    let mut by_sha: BTreeMap<&str, (i64, u64)> = BTreeMap::new();
    for job in jobs.iter().filter(|job| job.first_seen_at >= since) {
        if job.head_sha.is_empty() {
            continue;
        }
        let (first_seen, count) = by_sha
            .entry(job.head_sha.as_str())
            .or_insert((job.first_seen_at, 0));
        *first_seen = (*first_seen).min(job.first_seen_at);
        *count += 1;
    }
    let mut commits: Vec<NightlyCommit> = by_sha
        .into_iter()
        .map(|(sha, (first_seen_at, nightly_jobs))| NightlyCommit {
            sha: sha.to_owned(),
            first_seen_at,
            nightly_jobs,
        })
        .collect();
    commits.sort_by(|a, b| (b.first_seen_at, &b.sha).cmp(&(a.first_seen_at, &a.sha)));
    commits
}

/// Each side as a set of nightlies, against the window's nightly `commits` (newest first): a
/// commit as given; a prefix as the one commit of the window it starts; a time range as given.
/// A side not named defaults: new to the newest commit, old to the commit first seen before the
/// new one (the parameters refuse a missing old beside a time-range new); `None` when the
/// window has no such commit.
pub fn resolve(
    old: Option<SideRequest>,
    new: Option<SideRequest>,
    commits: &[NightlyCommit],
) -> Result<(Option<Resolved>, Option<Resolved>), ApiError> {
    let new = match new {
        Some(request) => Some(requested("new", request, commits)?),
        None => commits.first().map(|newest| Resolved {
            set: NightlySet::Sha(newest.sha.clone()),
            defaulted: true,
        }),
    };
    let old = match old {
        Some(request) => Some(requested("old", request, commits)?),
        None => new.as_ref().and_then(|new| match &new.set {
            NightlySet::Sha(sha) => {
                let at = commits.iter().position(|c| &c.sha == sha)?;
                commits.get(at + 1).map(|before| Resolved {
                    set: NightlySet::Sha(before.sha.clone()),
                    defaulted: true,
                })
            }
            NightlySet::Between { .. } => None,
        }),
    };
    Ok((old, new))
}

/// A side the request named, its prefix found among `commits`.
fn requested(
    name: &'static str,
    request: SideRequest,
    commits: &[NightlyCommit],
) -> Result<Resolved, ApiError> {
    let set = match request {
        SideRequest::Commit(sha) => NightlySet::Sha(sha),
        SideRequest::Between { from, until } => NightlySet::Between { from, until },
        SideRequest::CommitPrefix(prefix) => {
            let matching: Vec<&str> = commits
                .iter()
                .map(|c| c.sha.as_str())
                .filter(|sha| sha.starts_with(&prefix))
                .collect();
            match matching.as_slice() {
                [sha] => NightlySet::Sha((*sha).to_owned()),
                [] => {
                    return Err(ApiError::invalid(
                        name,
                        format!(
                            "no nightly commit of the window starts with {prefix}: give the whole \
                             commit id, or a longer window"
                        ),
                    ))
                }
                several => {
                    return Err(ApiError::invalid(
                        name,
                        format!(
                            "{prefix} starts {} nightly commits of the window ({}): give more \
                             digits",
                            several.len(),
                            several.join(", ")
                        ),
                    ))
                }
            }
        }
    };
    Ok(Resolved {
        set,
        defaulted: false,
    })
}

/// The job keys the diff compares, each once.
fn chosen_keys(diff: &ReleaseDiff) -> Vec<String> {
    let mut keys: Vec<String> = diff
        .slots
        .iter()
        .flat_map(|slot| [&slot.old, &slot.new])
        .flatten()
        .map(|job| job.job_key.clone())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The nightly jobs read that `set` holds, every attempt.
fn nightly_jobs_in(jobs: &[JobResult], set: &NightlySet) -> u64 {
    jobs.iter()
        .filter(|job| job.run.event == Trigger::Nightly && set.holds(job))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observations::tests::facts;

    const DAY: i64 = 86_400;

    fn nightly(key: &str, sha: &str, at: i64) -> JobFacts {
        JobFacts {
            head_sha: sha.to_owned(),
            first_seen_at: at,
            run_id: key.to_owned(),
            pr_number: None,
            event_type: "nightly".to_owned(),
            ..facts(key, 1)
        }
    }

    fn commit(sha: &str, at: i64) -> NightlyCommit {
        NightlyCommit {
            sha: sha.to_owned(),
            first_seen_at: at,
            nightly_jobs: 1,
        }
    }

    fn sha_of(side: &Option<Resolved>) -> Option<(&str, bool)> {
        match side {
            Some(Resolved {
                set: NightlySet::Sha(sha),
                defaulted,
            }) => Some((sha.as_str(), *defaulted)),
            _ => None,
        }
    }

    #[test]
    fn the_window_and_the_ranges_outside_it_are_read_once_each() {
        let now = 100 * DAY + 1_800;
        let since = 70 * DAY;
        let end = 100 * DAY + HOUR;
        assert_eq!(hours_to_read(since, now, [None, None]), [(since, end)]);
        let inside = SideRequest::Between {
            from: 80 * DAY + 10,
            until: 81 * DAY,
        };
        assert_eq!(
            hours_to_read(since, now, [Some(&inside), None]),
            [(since, end)],
            "a range inside the window adds nothing"
        );
        let before = SideRequest::Between {
            from: 40 * DAY + 1_000,
            until: 50 * DAY + 1,
        };
        let straddling = SideRequest::Between {
            from: 69 * DAY,
            until: 71 * DAY,
        };
        assert_eq!(
            hours_to_read(since, now, [Some(&before), Some(&straddling)]),
            [(40 * DAY, 50 * DAY + HOUR), (69 * DAY, end)],
            "whole hours, the last second's hour included, overlaps merged"
        );
        let future = SideRequest::Between {
            from: 101 * DAY,
            until: 102 * DAY,
        };
        assert_eq!(
            hours_to_read(since, now, [Some(&future), None]),
            [(since, end)]
        );
    }

    #[test]
    fn the_windows_commits_are_listed_newest_first_with_their_jobs() {
        let jobs = [
            nightly("a1", "aaa", 10 * DAY),
            nightly("a2", "aaa", 10 * DAY + 5),
            nightly("b1", "bbb", 12 * DAY),
            nightly("c1", "ccc", 9 * DAY),
            nightly("old", "ddd", 2 * DAY),
            nightly("none", "", 11 * DAY),
        ];
        assert_eq!(
            nightly_commits(&jobs, 5 * DAY),
            [
                commit("bbb", 12 * DAY),
                NightlyCommit {
                    nightly_jobs: 2,
                    ..commit("aaa", 10 * DAY)
                },
                commit("ccc", 9 * DAY),
            ],
            "before the window and without a commit: not listed"
        );
    }

    #[test]
    fn the_defaults_are_the_newest_commit_and_the_one_before_it() {
        let commits = [commit("ccc", 30), commit("bbb", 20), commit("aaa", 10)];
        let (old, new) = resolve(None, None, &commits).unwrap();
        assert_eq!(
            (sha_of(&old), sha_of(&new)),
            (Some(("bbb", true)), Some(("ccc", true)))
        );

        let named = |sha: &str| Some(SideRequest::Commit(sha.to_owned()));
        let (old, new) = resolve(None, named("bbb"), &commits).unwrap();
        assert_eq!(
            (sha_of(&old), sha_of(&new)),
            (Some(("aaa", true)), Some(("bbb", false))),
            "old: the commit before the new one"
        );
        let (old, new) = resolve(named("aaa"), None, &commits).unwrap();
        assert_eq!(
            (sha_of(&old), sha_of(&new)),
            (Some(("aaa", false)), Some(("ccc", true)))
        );

        let (old, new) = resolve(None, named("aaa"), &commits).unwrap();
        assert_eq!(
            (sha_of(&old), sha_of(&new)),
            (None, Some(("aaa", false))),
            "none before"
        );
        let (old, _) = resolve(None, named("eee"), &commits).unwrap();
        assert_eq!(
            sha_of(&old),
            None,
            "a commit not of the window has none before it"
        );

        let (old, new) = resolve(None, None, &[commit("ccc", 30)]).unwrap();
        assert_eq!((sha_of(&old), sha_of(&new)), (None, Some(("ccc", true))));
        let (old, new) = resolve(None, None, &[]).unwrap();
        assert_eq!((old, new), (None, None));

        let range = SideRequest::Between { from: 1, until: 2 };
        let (old, _) = resolve(Some(range), None, &commits).unwrap();
        assert_eq!(
            old.map(|o| o.set),
            Some(NightlySet::Between { from: 1, until: 2 })
        );
    }

    #[test]
    fn a_prefix_names_one_commit_of_the_window_or_is_refused_by_name() {
        let commits = [
            commit("abcdef01", 30),
            commit("abcdef02", 20),
            commit("0123456", 10),
        ];
        let prefix = |p: &str| Some(SideRequest::CommitPrefix(p.to_owned()));
        let (old, new) = resolve(prefix("0123456"), prefix("abcdef01"), &commits).unwrap();
        assert_eq!(
            (sha_of(&old), sha_of(&new)),
            (Some(("0123456", false)), Some(("abcdef01", false)))
        );
        for (old, new, name, says) in [
            (prefix("abcdef0"), None, "old", "starts 2 nightly commits"),
            (
                None,
                prefix("fffffff"),
                "new",
                "no nightly commit of the window starts with",
            ),
        ] {
            let error = resolve(old, new, &commits).unwrap_err();
            assert!(error.to_string().contains(says), "{error}");
            match error {
                ApiError::InvalidParameter { parameter, .. } => assert_eq!(parameter, name),
                other => panic!("not a parameter error: {other}"),
            }
        }
    }

    #[test]
    fn the_chosen_jobs_are_asked_once_and_sides_count_their_nightlies() {
        let observations = Observations::of_window(
            [
                nightly("o", "aaa", 10),
                nightly("n", "bbb", 20),
                nightly("n2", "bbb", 21),
                facts("pr", 1),
            ],
            [],
        );
        let old = NightlySet::Sha("aaa".to_owned());
        let new = NightlySet::Sha("BBB".to_owned());
        let diff = release_diff(observations.results(), &old, &new);
        assert_eq!(chosen_keys(&diff), ["n2", "o"]);
        assert_eq!(nightly_jobs_in(observations.results(), &new), 2);
        let abc = NightlySet::Sha("abc".to_owned());
        assert_eq!(
            nightly_jobs_in(observations.results(), &abc),
            0,
            "the PR job on abc is not a nightly"
        );
        let diff = release_diff(observations.results(), &old, &old);
        assert_eq!(
            chosen_keys(&diff),
            ["o"],
            "a set against itself: one job per slot"
        );
    }
}
