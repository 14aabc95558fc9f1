//! The reads of a PR's "is it mine?" (contract §12.15), one SQL file each: the PR's shown jobs
//! by (backend, key), then their failed tests at the versions read, by job, one query for all
//! the backends judged at once; and, per backend, test and slot, how many other PRs of the
//! backend failed some of those tests since the window's start, one key range of the failed
//! tests on PRs per (backend, test), counted by the server, a query per backend side by side.
//! The nightlies are read by [`CompletedJobs::pr_triage_nightlies`], their failed tests by
//! [`CompletedJobs::baseline_failed_tests`].

use std::collections::{BTreeSet, HashMap};

use oot_contract::clickhouse::identity;
use oot_contract::{RepoName, UpstreamPr};
use oot_triage::{JobSlot, OtherPrs, TestId};
use serde::Deserialize;

use crate::observations::JobFacts;
use crate::stores::completed::{
    bound_key_bytes, chunk_by_size, conclusion, date_time, non_empty, CompletedJobs,
    KEYS_PER_QUERY_BYTES,
};
use crate::stores::triage::JobAt;
use crate::stores::{readable, Skipped, StoreError};

const STORE: &str = "clickhouse";

pub const PR_TRIAGE_JOBS_SQL: &str = include_str!("../../sql/pr_triage_jobs.sql");
pub const JOBS_BY_KEY_SQL: &str = include_str!("../../sql/jobs_by_key.sql");
pub const PR_TRIAGE_OTHER_PRS_SQL: &str = include_str!("../../sql/pr_triage_other_prs.sql");

/// Whose jobs [`CompletedJobs::judged_jobs`] reads: a PR's (read by its target, as the PR view
/// reads them, of any backends) or one backend's (the nightlies the release diff compares).
#[derive(Debug, Clone, Copy)]
pub enum JobsOf<'a> {
    Pr(&'a UpstreamPr),
    Repo(&'a RepoName),
}

/// A job asked for by key: its backend and its key.
#[derive(Debug, Clone, Copy)]
pub struct RepoJob<'a> {
    pub downstream_repo: &'a str,
    pub job_key: &'a str,
}

/// A job read by key with its failed list (a PR's shown job for its triage; a nightly the
/// release diff compares, contract §12.16): its backend, its facts and the tests its failed list
/// names, each once, in the list's order, both of the version read, and its downstream run's
/// link.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgedJob {
    pub downstream_repo: String,
    pub facts: JobFacts,
    pub failed: Vec<TestId>,
    pub workflow_run_url: Option<String>,
}

// Field names are column names of the jobs table (a test checks them), selected in this order
// and read positionally.
#[derive(Debug, clickhouse::Row, Deserialize)]
struct PrTriageJobRow {
    downstream_repo: String,
    #[serde(rename = "dynamoKey")]
    dynamo_key: String,
    version: u64,
    upstream_repo: String,
    pr_number: Option<u64>,
    pytorch_head_sha: String,
    event_type: String,
    workflow_name: String,
    job_name: String,
    run_id: String,
    run_attempt: u32,
    conclusion: String,
    first_seen_at: u32,
    failed_tests: Option<u64>,
    workflow_run_url: String,
}

impl TryFrom<PrTriageJobRow> for JudgedJob {
    type Error = Skipped;

    /// The job without its failed tests, read next at its version.
    fn try_from(row: PrTriageJobRow) -> Result<JudgedJob, Skipped> {
        let conclusion = conclusion(&row.conclusion).map_err(|why| why.of(&row.dynamo_key))?;
        Ok(JudgedJob {
            downstream_repo: row.downstream_repo,
            facts: JobFacts {
                job_key: row.dynamo_key,
                version: row.version,
                upstream_repo: non_empty(row.upstream_repo),
                pr_number: row.pr_number,
                head_sha: row.pytorch_head_sha,
                event_type: row.event_type,
                workflow_name: row.workflow_name,
                job_name: row.job_name,
                run_id: row.run_id,
                run_attempt: row.run_attempt,
                conclusion,
                first_seen_at: i64::from(row.first_seen_at),
                failed_count: row.failed_tests,
            },
            failed: Vec::new(),
            workflow_run_url: non_empty(row.workflow_run_url),
        })
    }
}

// Columns of the failed tests on PRs, but the count's (a test checks them).
#[derive(Debug, clickhouse::Row, Deserialize)]
struct OtherPrsRow {
    downstream_repo: String,
    test: u64,
    slot: u64,
    other_prs: u64,
}

/// A (backend, test, slot) triple whose other PRs are counted.
pub type TestOfSlot = (RepoName, TestId, JobSlot);
/// The most bytes one (test, slot) pair adds to the SQL: its test's hash in the two arrays of
/// tests and the two hashes of the pair's tuple, at most 20 digits each, with their separators.
const BOUND_PAIR_BYTES: usize = 2 * 21 + 43;

impl CompletedJobs {
    /// The jobs `jobs` (of `of`), latest version of each, with their failed tests at that
    /// version; in chunks of keys as [`Self::failed_tests`] sends them. A job of another backend
    /// than [`JobsOf::Repo`]'s is not read.
    pub async fn judged_jobs(
        &self,
        of: JobsOf<'_>,
        jobs: &[RepoJob<'_>],
    ) -> Result<Vec<JudgedJob>, StoreError> {
        let queries: Vec<clickhouse::query::Query> = chunk_by_size(
            jobs,
            |j| bound_key_bytes(j.downstream_repo) + bound_key_bytes(j.job_key),
            KEYS_PER_QUERY_BYTES,
        )
        .into_iter()
        .map(|chunk| match of {
            JobsOf::Pr(pr) => {
                let bound: Vec<(&str, &str)> = chunk
                    .iter()
                    .map(|j| (j.downstream_repo, j.job_key))
                    .collect();
                self.query(PR_TRIAGE_JOBS_SQL)
                    .bind(pr.repo.as_str())
                    .bind(u64::from(pr.number.get()))
                    .bind(bound)
            }
            JobsOf::Repo(repo) => {
                let keys: Vec<&str> = chunk
                    .iter()
                    .filter(|j| j.downstream_repo == repo.as_str())
                    .map(|j| j.job_key)
                    .collect();
                self.query(JOBS_BY_KEY_SQL).bind(repo.as_str()).bind(keys)
            }
        })
        .collect();
        let answers: Vec<PrTriageJobRow> = self.fetch_chunks(queries).await?;
        let mut jobs: Vec<JudgedJob> = readable(STORE, answers.into_iter().map(TryInto::try_into));
        let failed: Vec<JobAt<'_>> = jobs
            .iter()
            .filter(|j| j.facts.failed_count != Some(0))
            .map(|j| JobAt {
                downstream_repo: &j.downstream_repo,
                first_seen_at: j.facts.first_seen_at,
                job_key: &j.facts.job_key,
                version: j.facts.version,
            })
            .collect();
        let mut tests: HashMap<String, Vec<TestId>> = HashMap::new();
        for failure in self.failed_tests_at(&failed).await? {
            tests.entry(failure.job_key).or_default().push(failure.test);
        }
        for job in &mut jobs {
            job.failed = tests.remove(&job.facts.job_key).unwrap_or_default();
        }
        Ok(jobs)
    }

    /// Per (backend, test, slot) triple of `triples`, how many PRs numbered other than `pr`
    /// failed the test in the slot in that backend with a job first seen since `since`, each
    /// job at its latest version (what [`oot_triage::other_prs`] counts), by backend. The
    /// triples are bound and read back as their hashes ([`identity`]).
    pub async fn pr_triage_other_prs(
        &self,
        triples: &[TestOfSlot],
        since: i64,
        pr: u64,
    ) -> Result<HashMap<String, OtherPrs>, StoreError> {
        type Hashed = (String, u64, u64);
        let hashed: HashMap<Hashed, &TestOfSlot> = triples
            .iter()
            .map(|triple| {
                let (repo, test, slot) = triple;
                let test_hash = identity::pair_hash(&test.classname, &test.name);
                let slot_hash = identity::pair_hash(&slot.workflow_name, &slot.job_name);
                ((repo.to_string(), test_hash, slot_hash), triple)
            })
            .collect();
        // A query per backend (and per chunk of its pairs), side by side: the step's costly
        // read, the failures of its chronic tests in the window and the versions of its jobs
        // that failed them (pr_triage_other_prs.sql says why not one query for all).
        let mut keys: Vec<&Hashed> = hashed.keys().collect();
        keys.sort_unstable();
        let queries: Vec<clickhouse::query::Query> = keys
            .chunk_by(|a, b| a.0 == b.0)
            .flat_map(|of_repo| chunk_by_size(of_repo, |_| BOUND_PAIR_BYTES, KEYS_PER_QUERY_BYTES))
            .map(|chunk| {
                let repo = chunk.first().map_or("", |(repo, ..)| repo.as_str());
                let tests: Vec<u64> = chunk
                    .iter()
                    .map(|&(_, test, _)| *test)
                    .collect::<BTreeSet<u64>>()
                    .into_iter()
                    .collect();
                let pairs: Vec<(u64, u64)> = chunk
                    .iter()
                    .map(|&(_, test, slot)| (*test, *slot))
                    .collect();
                self.query(PR_TRIAGE_OTHER_PRS_SQL)
                    .bind(repo)
                    .bind(tests.as_slice())
                    .bind(date_time(since))
                    .bind(pr)
                    .bind(pairs)
                    .bind(repo)
                    .bind(date_time(since))
                    .bind(repo)
                    .bind(tests.as_slice())
                    .bind(date_time(since))
            })
            .collect();
        let rows: Vec<OtherPrsRow> = self.fetch_chunks(queries).await?;
        let mut by_repo: HashMap<String, OtherPrs> = HashMap::new();
        for row in rows {
            let Some((repo, test, slot)) = hashed.get(&(row.downstream_repo, row.test, row.slot))
            else {
                continue;
            };
            by_repo
                .entry(repo.to_string())
                .or_default()
                .insert((test.clone(), slot.clone()), row.other_prs);
        }
        Ok(by_repo)
    }
}

#[cfg(test)]
mod tests {
    use clickhouse::Row;
    use oot_contract::clickhouse::is_column;
    use oot_platform::read_tables::{
        declared_columns, BY_TARGET, FAILED_TESTS_ON_PRS, READ_TABLES, VERSIONS,
    };

    use super::*;

    /// `?` outside a value is a placeholder to the client: each file has exactly the binds its
    /// caller makes.
    #[test]
    fn every_sql_file_has_the_placeholders_its_caller_binds() {
        for (sql, binds, fields) in [
            (PR_TRIAGE_JOBS_SQL, 3, 1),
            (JOBS_BY_KEY_SQL, 2, 1),
            (PR_TRIAGE_OTHER_PRS_SQL, 10, 0),
        ] {
            assert_eq!(sql.matches("?fields").count(), fields, "{sql}");
            assert_eq!(sql.matches('?').count() - fields, binds, "{sql}");
            assert!(!sql.contains("FINAL"), "{sql}");
        }
    }

    #[test]
    fn a_pair_binds_within_its_estimate() {
        let sql = clickhouse::Client::default()
            .query("SELECT ?, ?, ?")
            .bind(vec![u64::MAX, u64::MAX])
            .bind(vec![(u64::MAX, u64::MAX), (u64::MAX, u64::MAX)])
            .bind(vec![u64::MAX, u64::MAX])
            .sql_display()
            .to_string();
        let bound = sql.len() - "SELECT [], [], []".len();
        assert!(
            bound <= 2 * BOUND_PAIR_BYTES,
            "{bound} > {}",
            2 * BOUND_PAIR_BYTES
        );
    }

    #[test]
    fn the_sql_names_the_tables_migrate_makes() {
        let on_prs = format!("{{table}}{FAILED_TESTS_ON_PRS}");
        assert!(PR_TRIAGE_JOBS_SQL.contains(&format!("FROM {{table}}{BY_TARGET}\n")));
        assert!(JOBS_BY_KEY_SQL.contains("FROM {table}\n"));
        assert!(PR_TRIAGE_OTHER_PRS_SQL.contains(&format!("FROM {on_prs}\n")));
        assert!(PR_TRIAGE_OTHER_PRS_SQL.contains(&format!("FROM {{table}}{VERSIONS}\n")));
    }

    #[test]
    fn every_row_reads_columns_of_the_contract() {
        let by_target = READ_TABLES
            .iter()
            .find(|t| t.suffix == BY_TARGET)
            .map(|t| declared_columns(t.create_sql))
            .unwrap_or_default();
        for name in PrTriageJobRow::COLUMN_NAMES {
            assert!(is_column(name), "{name} is not a column of the jobs table");
            assert!(
                by_target.contains(name),
                "{name} is not a column of the jobs by target"
            );
        }
        let on_prs = READ_TABLES
            .iter()
            .find(|t| t.suffix == FAILED_TESTS_ON_PRS)
            .map(|t| declared_columns(t.create_sql))
            .unwrap_or_default();
        for name in OtherPrsRow::COLUMN_NAMES
            .iter()
            .filter(|&&n| n != "other_prs")
        {
            assert!(
                on_prs.contains(name),
                "{name} is not a column of the failed tests on PRs"
            );
        }
    }

    #[test]
    fn a_jobs_row_reads_back_and_a_bad_conclusion_is_skipped() {
        let row = |conclusion: &str| PrTriageJobRow {
            downstream_repo: "intel/xpu".to_owned(),
            dynamo_key: "k".to_owned(),
            version: 4,
            upstream_repo: "pytorch/pytorch".to_owned(),
            pr_number: Some(7),
            pytorch_head_sha: "abc".to_owned(),
            event_type: "pull_request".to_owned(),
            workflow_name: "w".to_owned(),
            job_name: "j".to_owned(),
            run_id: "1".to_owned(),
            run_attempt: 1,
            conclusion: conclusion.to_owned(),
            first_seen_at: 1_000,
            failed_tests: Some(1),
            workflow_run_url: "https://github.com/a/b/actions/runs/1".to_owned(),
        };
        let job = JudgedJob::try_from(row("failure")).unwrap();
        assert_eq!((job.facts.version, job.facts.pr_number), (4, Some(7)));
        assert_eq!(job.downstream_repo, "intel/xpu");
        assert_eq!(
            job.workflow_run_url.as_deref(),
            Some("https://github.com/a/b/actions/runs/1")
        );
        assert!(job.failed.is_empty(), "read next, at the version");
        let skipped = JudgedJob::try_from(row("exploded")).unwrap_err();
        assert_eq!(skipped.why.name, "conclusion");
    }
}
