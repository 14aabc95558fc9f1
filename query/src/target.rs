//! What a row of the per-backend matrix stands for upstream: an upstream PR, or, for an event
//! without one (a nightly, a push), the upstream delivery that triggered it. The key is the
//! same whether it is computed from a job here or read from the read tables, which store it as
//! (upstream_repo, target_pr, target_event, target_delivery): (repo, PR, "", "") or
//! (repo, 0, event type, delivery id) (`platform/sql/create_oot_workflow_job_by_target.sql`).

use oot_contract::PrNumber;

use crate::job::Job;

/// Which row a job belongs to. The derived order (PRs first, then by field) is the order rows
/// with the same newest job and label keep, so both ways of building the matrix agree on it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKey {
    Pr {
        upstream_repo: String,
        pr_number: PrNumber,
    },
    Delivery {
        event_type: String,
        upstream_repo: String,
        delivery_id: String,
    },
}

/// The key as the read tables store it and the queries bind it.
pub type StoredTarget = (String, u64, String, String);

impl TargetKey {
    pub fn of(job: &Job) -> TargetKey {
        let upstream_repo = job.upstream_repo.clone().unwrap_or_default();
        match job.pr_number {
            Some(pr_number) => TargetKey::Pr {
                upstream_repo,
                pr_number,
            },
            None => TargetKey::Delivery {
                event_type: job.event_type.clone(),
                upstream_repo,
                delivery_id: job.delivery_id.clone(),
            },
        }
    }

    /// The key read back from the read tables' columns; `None` when `target_pr` is no PR
    /// number of the contract (a row outside it).
    pub fn from_stored(
        upstream_repo: String,
        target_pr: u64,
        target_event: String,
        target_delivery: String,
    ) -> Option<TargetKey> {
        if target_pr == 0 {
            return Some(TargetKey::Delivery {
                event_type: target_event,
                upstream_repo,
                delivery_id: target_delivery,
            });
        }
        PrNumber::new(target_pr)
            .ok()
            .map(|pr_number| TargetKey::Pr {
                upstream_repo,
                pr_number,
            })
    }

    /// The key as the read tables store it.
    pub fn stored(&self) -> StoredTarget {
        match self {
            TargetKey::Pr {
                upstream_repo,
                pr_number,
            } => (
                upstream_repo.clone(),
                u64::from(pr_number.get()),
                String::new(),
                String::new(),
            ),
            TargetKey::Delivery {
                event_type,
                upstream_repo,
                delivery_id,
            } => (
                upstream_repo.clone(),
                0,
                event_type.clone(),
                delivery_id.clone(),
            ),
        }
    }
}

/// The newest of some jobs, by `first_seen_at` then job key (ties within a second go to the
/// higher key, so the choice never depends on the order rows arrive in), with what it carries
/// (its head commit, its level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    pub first_seen_at: i64,
    pub job_key: String,
    pub value: Option<String>,
}

impl Newest {
    fn rank(&self) -> (i64, &str) {
        (self.first_seen_at, &self.job_key)
    }

    /// Keeps the newer of `kept` and `candidate`; on a tie (the same job) `kept`, so a job's
    /// completed row read first wins over its running copy, as everywhere in the views.
    pub fn newer(kept: Option<Newest>, candidate: Newest) -> Option<Newest> {
        match kept {
            Some(kept) if kept.rank() >= candidate.rank() => Some(kept),
            _ => Some(candidate),
        }
    }
}

/// One target of a window as the targets table sums it up: its newest job (with its head
/// commit) and its newest job that reported a level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSummary {
    pub key: TargetKey,
    pub newest: Newest,
    pub level: Option<Newest>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(n: u64) -> PrNumber {
        PrNumber::new(n).unwrap()
    }

    #[test]
    fn keys_read_back_as_they_are_stored() {
        let keys = [
            TargetKey::Pr {
                upstream_repo: "pytorch/pytorch".into(),
                pr_number: pr(179_565),
            },
            TargetKey::Delivery {
                event_type: "nightly".into(),
                upstream_repo: "pytorch/pytorch".into(),
                delivery_id: "night-1".into(),
            },
            TargetKey::Delivery {
                event_type: "push".into(),
                upstream_repo: String::new(),
                delivery_id: "d".into(),
            },
        ];
        for key in keys {
            let (a, b, c, d) = key.stored();
            assert_eq!(TargetKey::from_stored(a, b, c, d), Some(key));
        }
        let too_big = u64::from(u32::MAX) + 1;
        assert_eq!(
            TargetKey::from_stored("a/b".into(), too_big, String::new(), String::new()),
            None
        );
    }

    #[test]
    fn the_newest_is_the_latest_first_seen_then_the_higher_key_and_ties_keep_the_first() {
        let n = |at: i64, key: &str, value: &str| Newest {
            first_seen_at: at,
            job_key: key.into(),
            value: Some(value.into()),
        };
        let kept = Newest::newer(None, n(10, "b", "x"));
        let kept = Newest::newer(kept, n(9, "z", "older"));
        let kept = Newest::newer(kept, n(10, "a", "lower key"));
        assert_eq!(kept.as_ref().and_then(|k| k.value.as_deref()), Some("x"));
        let kept = Newest::newer(kept, n(10, "b", "same job, read second"));
        assert_eq!(kept.as_ref().and_then(|k| k.value.as_deref()), Some("x"));
        let kept = Newest::newer(kept, n(10, "c", "higher key"));
        assert_eq!(kept.and_then(|k| k.value), Some("higher key".into()));
    }
}
