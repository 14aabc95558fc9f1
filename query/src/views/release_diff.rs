//! A backend's release diff (`/oot/{org}/{repo}/tests/diff`, contract §12.9, read as §12.16):
//! its failing tests on one set of nightlies against another, each newly failing, fixed, still
//! failing or unknown; the nightlies compared per job slot; a headline counting the tests; and
//! the window's nightly commits, for a page to offer.
//!
//! The slots and tests are [`oot_triage::release_diff`]'s, in its order; this module only
//! shapes them for JSON and the page: times as RFC 3339, each side as the request resolved it,
//! each nightly with its run's link.

use oot_triage::{compare_url, DiffStatus, JobRef, NightlySet, ReleaseDiff};
use serde::Serialize;

use crate::clock::rfc3339;
use crate::rules::Window;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseDiffView {
    pub downstream_repo: String,
    pub window: &'static str,
    /// The start of the window the nightly commits are listed from and looked up in.
    pub since: Option<String>,
    pub generated_at: Option<String>,
    /// `null` when the request named no side and the window has no nightly commit to default
    /// to (for `old`: none before the new commit).
    pub old: Option<SideLine>,
    pub new: Option<SideLine>,
    /// Upstream's diff between the two commits, when both sides are commits.
    pub compare_url: Option<String>,
    pub headline: Headline,
    /// Every slot with a nightly on either side, by slot. Empty unless both sides are known.
    pub slots: Vec<SlotLine>,
    /// Newly failing, then fixed, then still failing, then unknown; then by slot and test.
    pub tests: Vec<TestLine>,
    /// The window's nightly commits, newest first.
    pub nightly_commits: Vec<NightlyCommit>,
}

/// One side as the request resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideLine {
    /// `commit` or `time_range`.
    pub kind: &'static str,
    /// The commit, for a commit side.
    pub sha: Option<String>,
    /// The range, for a time-range side: `from` included, `until` excluded.
    pub from: Option<String>,
    pub until: Option<String>,
    /// Chosen by the defaults (the request named no such side).
    pub defaulted: bool,
    /// Nightly jobs read in the set, every attempt: 0 means the side has nothing to compare.
    pub nightly_jobs: u64,
}

/// How many tests have each status, and how many slots were compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Headline {
    pub slots: u64,
    pub newly_failing: u64,
    pub fixed: u64,
    pub still_failing: u64,
    pub unknown: u64,
}

/// The nightlies compared in one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotLine {
    pub workflow_name: String,
    pub job_name: String,
    /// `null` when the side has no nightly of the slot.
    pub old: Option<NightlyJob>,
    pub new: Option<NightlyJob>,
}

/// A nightly job compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NightlyJob {
    pub job_key: String,
    /// `null` when the job named no commit.
    pub upstream_sha: Option<String>,
    pub run_id: String,
    pub run_attempt: u32,
    pub first_seen_at: Option<String>,
    /// The downstream run, when the job's row was read with it.
    pub workflow_run_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestLine {
    /// `''` when the job sent none.
    pub classname: String,
    pub name: String,
    pub workflow_name: String,
    pub job_name: String,
    pub status: DiffStatus,
}

/// A nightly commit of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NightlyCommit {
    pub sha: String,
    /// When its first nightly job of the window was first seen (seconds inside, RFC 3339 out).
    #[serde(serialize_with = "as_rfc3339")]
    pub first_seen_at: i64,
    /// Its nightly jobs first seen in the window, every attempt.
    pub nightly_jobs: u64,
}

fn as_rfc3339<S: serde::Serializer>(seconds: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    rfc3339(*seconds).serialize(serializer)
}

/// One side as the loader resolved it: the set of nightlies, whether the defaults chose it, and
/// how many nightly jobs of what was read it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub set: NightlySet,
    pub defaulted: bool,
    pub nightly_jobs: u64,
}

impl Side {
    fn line(&self) -> SideLine {
        let (kind, sha, from, until) = match &self.set {
            NightlySet::Sha(sha) => ("commit", Some(sha.clone()), None, None),
            NightlySet::Between { from, until } => {
                ("time_range", None, rfc3339(*from), rfc3339(*until))
            }
        };
        SideLine {
            kind,
            sha,
            from,
            until,
            defaulted: self.defaulted,
            nightly_jobs: self.nightly_jobs,
        }
    }

    fn sha(&self) -> Option<&str> {
        match &self.set {
            NightlySet::Sha(sha) => Some(sha),
            NightlySet::Between { .. } => None,
        }
    }
}

/// What the view is made of besides the diff.
pub struct DiffInputs<'a> {
    pub repo: &'a str,
    pub window: Window,
    pub now: i64,
    pub old: Option<&'a Side>,
    pub new: Option<&'a Side>,
    pub nightly_commits: Vec<NightlyCommit>,
}

/// The view of `diff` (`None` when a side is missing), `workflow_run_url` giving each compared
/// job's run link.
pub fn build(
    inputs: DiffInputs<'_>,
    diff: Option<ReleaseDiff>,
    workflow_run_url: impl Fn(&str) -> Option<String>,
) -> ReleaseDiffView {
    let DiffInputs {
        repo,
        window,
        now,
        old,
        new,
        nightly_commits,
    } = inputs;
    let diff = diff.unwrap_or(ReleaseDiff {
        slots: Vec::new(),
        tests: Vec::new(),
    });
    let mut headline = Headline {
        slots: diff.slots.len() as u64,
        ..Headline::default()
    };
    let tests = diff
        .tests
        .into_iter()
        .map(|entry| {
            headline.count(entry.status);
            TestLine {
                classname: entry.test.classname,
                name: entry.test.name,
                workflow_name: entry.slot.workflow_name,
                job_name: entry.slot.job_name,
                status: entry.status,
            }
        })
        .collect();
    let job = |job: Option<JobRef>| {
        job.map(|job| NightlyJob {
            workflow_run_url: workflow_run_url(&job.job_key),
            upstream_sha: (!job.upstream_sha.is_empty()).then_some(job.upstream_sha),
            first_seen_at: rfc3339(job.first_seen_at),
            job_key: job.job_key,
            run_id: job.run_id,
            run_attempt: job.run_attempt,
        })
    };
    let slots = diff
        .slots
        .into_iter()
        .map(|slot| SlotLine {
            workflow_name: slot.slot.workflow_name,
            job_name: slot.slot.job_name,
            old: job(slot.old),
            new: job(slot.new),
        })
        .collect();
    let compare = match (old.and_then(Side::sha), new.and_then(Side::sha)) {
        (Some(old), Some(new)) => Some(compare_url(old, new)),
        _ => None,
    };
    ReleaseDiffView {
        downstream_repo: repo.to_owned(),
        window: window.as_str(),
        since: rfc3339(window.since(now)),
        generated_at: rfc3339(now),
        old: old.map(Side::line),
        new: new.map(Side::line),
        compare_url: compare,
        headline,
        slots,
        tests,
        nightly_commits,
    }
}

impl Headline {
    fn count(&mut self, status: DiffStatus) {
        match status {
            DiffStatus::NewlyFailing => self.newly_failing += 1,
            DiffStatus::Fixed => self.fixed += 1,
            DiffStatus::StillFailing => self.still_failing += 1,
            DiffStatus::Unknown => self.unknown += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oot_triage::{DiffEntry, DiffSlot, JobSlot, TestId, Trigger};

    fn slot(job_name: &str) -> JobSlot {
        JobSlot {
            workflow_name: "ci".to_owned(),
            job_name: job_name.to_owned(),
        }
    }

    fn entry(name: &str, status: DiffStatus) -> DiffEntry {
        DiffEntry {
            test: TestId {
                classname: "T".to_owned(),
                name: name.to_owned(),
            },
            slot: slot("test"),
            status,
        }
    }

    fn nightly(key: &str, sha: &str) -> JobRef {
        JobRef {
            job_key: key.to_owned(),
            event: Trigger::Nightly,
            upstream_sha: sha.to_owned(),
            run_id: "9".to_owned(),
            run_attempt: 2,
            first_seen_at: 1_777_371_330,
        }
    }

    fn side(set: NightlySet, defaulted: bool) -> Side {
        Side {
            set,
            defaulted,
            nightly_jobs: 3,
        }
    }

    #[test]
    fn the_headline_counts_each_status_and_the_rules_order_is_kept() {
        let diff = ReleaseDiff {
            slots: vec![DiffSlot {
                slot: slot("test"),
                old: Some(nightly("o", "aaa")),
                new: None,
            }],
            tests: vec![
                entry("n1", DiffStatus::NewlyFailing),
                entry("n2", DiffStatus::NewlyFailing),
                entry("f", DiffStatus::Fixed),
                entry("s", DiffStatus::StillFailing),
                entry("u", DiffStatus::Unknown),
            ],
        };
        let old = side(NightlySet::Sha("aaa".to_owned()), true);
        let new = side(NightlySet::Sha("bbb".to_owned()), false);
        let view = build(
            DiffInputs {
                repo: "a/b",
                window: Window::Month,
                now: 1_777_400_000,
                old: Some(&old),
                new: Some(&new),
                nightly_commits: vec![NightlyCommit {
                    sha: "bbb".to_owned(),
                    first_seen_at: 1_777_371_330,
                    nightly_jobs: 4,
                }],
            },
            Some(diff),
            |key| (key == "o").then(|| "https://x.test/run/9".to_owned()),
        );
        assert_eq!(
            view.headline,
            Headline {
                slots: 1,
                newly_failing: 2,
                fixed: 1,
                still_failing: 1,
                unknown: 1
            }
        );
        let names: Vec<&str> = view.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["n1", "n2", "f", "s", "u"]);
        assert_eq!(
            view.compare_url.as_deref(),
            Some("https://github.com/pytorch/pytorch/compare/aaa...bbb")
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["tests"][0]["status"], "newly_failing");
        assert_eq!(json["tests"][3]["status"], "still_failing");
        assert_eq!(json["old"]["kind"], "commit");
        assert_eq!(json["old"]["defaulted"], true);
        assert_eq!(json["new"]["sha"], "bbb");
        assert_eq!(
            json["slots"][0]["old"]["workflow_run_url"],
            "https://x.test/run/9"
        );
        assert_eq!(
            json["slots"][0]["old"]["first_seen_at"],
            "2026-04-28T10:15:30Z"
        );
        assert_eq!(json["slots"][0]["new"], serde_json::Value::Null);
        assert_eq!(
            json["nightly_commits"][0]["first_seen_at"],
            "2026-04-28T10:15:30Z"
        );
        assert_eq!(json["window"], "30d");
    }

    #[test]
    fn a_time_range_side_has_no_compare_link_and_a_missing_side_compares_nothing() {
        let old = side(
            NightlySet::Between {
                from: 1_777_334_400,
                until: 1_777_420_800,
            },
            false,
        );
        let new = side(NightlySet::Sha("bbb".to_owned()), false);
        let inputs = |new| DiffInputs {
            repo: "a/b",
            window: Window::Week,
            now: 1_777_400_000,
            old: Some(&old),
            new,
            nightly_commits: Vec::new(),
        };
        let view = build(inputs(Some(&new)), None, |_| None);
        assert_eq!(view.compare_url, None);
        let line = view.old.unwrap();
        assert_eq!(
            (line.kind, line.from.as_deref(), line.until.as_deref()),
            (
                "time_range",
                Some("2026-04-28T00:00:00Z"),
                Some("2026-04-29T00:00:00Z")
            )
        );
        let view = build(inputs(None), None, |_| None);
        assert_eq!(view.new, None);
        assert!(view.slots.is_empty() && view.tests.is_empty());
        assert_eq!(view.headline, Headline::default());
    }
}
