//! The DynamoDB sink of the rollups: the ledger that keeps the hourly cells exact.
//!
//! One table (`{job table}-rollup`, hash key `pk`) holds three kinds of items:
//! - `run#…`: per run, its latest attempt and what that attempt contributes, in which hour
//!   ([`RunState`]);
//! - `cell#…`: per cell (repo, hour, workflow, job), the sums of the contributions of the runs
//!   counted in it, and a version bumped by every change;
//! - `repo#…`: per repo, the latest completion and the latest job's level ([`RepoLatest`]).
//!
//! A run's new state and the deltas it makes to its cells are written in **one transaction**
//! (the run's put conditional on the version read), so a cell always equals the sum of the runs
//! counted in it: a crash, a lost race or a redelivery can neither count a run twice nor lose
//! it. The ClickHouse cells are snapshots of the cell items, versioned by them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt as _;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use oot_contract::rollup::attr;
use oot_platform::dynamo_batch::{get_items, BatchRead};
use oot_rollup::{
    AttemptRank, CellKey, Contribution, Figures, LevelRank, Outcome, RepoLatest, RunChange, RunKey,
    RunState,
};

use crate::job_table::{batch_get_failed, transact, unavailable, JobTableError, Transacted};

/// BatchGetItem takes at most 100 keys; TransactWriteItems at most 100 items.
const TRANSACTION_ITEMS: usize = 100;

/// A cell's sums as the ledger holds them, at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSnapshot {
    pub cell: CellKey,
    pub figures: Figures,
    pub version: u64,
}

/// A repo's latest as the ledger holds it, at a version.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoSnapshot {
    pub downstream_repo: String,
    pub latest: RepoLatest,
    pub version: u64,
}

/// The ledger of one projector.
#[derive(Clone)]
pub struct Ledger {
    client: Client,
    table: String,
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn key_of(pk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([(attr::PK.to_owned(), AttributeValue::S(pk))])
}

fn corrupt(pk: &str, what: &str) -> JobTableError {
    JobTableError::Corrupt {
        key: pk.to_owned(),
        reason: format!("ledger item without a readable {what}"),
    }
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    }
}

fn run_state(pk: &str, item: &HashMap<String, AttributeValue>) -> Result<RunState, JobTableError> {
    let need = |what: &str| corrupt(pk, what);
    let counted = match text(item, attr::OUTCOME) {
        None => None,
        Some(name) => Some(Contribution {
            outcome: Outcome::parse(name).ok_or_else(|| need(attr::OUTCOME))?,
            duration_us: number(item, attr::DURATION_US),
            queue_us: number(item, attr::QUEUE_US),
        }),
    };
    Ok(RunState {
        rank: AttemptRank {
            run_attempt: number(item, attr::RUN_ATTEMPT).ok_or_else(|| need(attr::RUN_ATTEMPT))?,
            job_key: text(item, attr::JOB_KEY)
                .ok_or_else(|| need(attr::JOB_KEY))?
                .to_owned(),
            job_version: number(item, attr::JOB_VERSION).ok_or_else(|| need(attr::JOB_VERSION))?,
        },
        hour: number(item, attr::HOUR).ok_or_else(|| need(attr::HOUR))?,
        counted,
        version: number(item, attr::VERSION).ok_or_else(|| need(attr::VERSION))?,
        hours: match item.get(attr::HOURS) {
            Some(AttributeValue::Ns(hours)) => {
                let mut hours: Vec<i64> = hours.iter().filter_map(|h| h.parse().ok()).collect();
                hours.sort_unstable();
                hours
            }
            _ => Vec::new(),
        },
    })
}

fn run_item(run: &RunKey, state: &RunState) -> HashMap<String, AttributeValue> {
    let mut item = key_of(run.storage_key());
    item.insert(attr::VERSION.to_owned(), n(state.version));
    item.insert(attr::RUN_ATTEMPT.to_owned(), n(state.rank.run_attempt));
    item.insert(attr::JOB_KEY.to_owned(), s(&state.rank.job_key));
    item.insert(attr::JOB_VERSION.to_owned(), n(state.rank.job_version));
    item.insert(attr::HOUR.to_owned(), n(state.hour));
    if !state.hours.is_empty() {
        let hours = state.hours.iter().map(ToString::to_string).collect();
        item.insert(attr::HOURS.to_owned(), AttributeValue::Ns(hours));
    }
    if let Some(counted) = &state.counted {
        item.insert(attr::OUTCOME.to_owned(), s(counted.outcome.as_str()));
        if let Some(us) = counted.duration_us {
            item.insert(attr::DURATION_US.to_owned(), n(us));
        }
        if let Some(us) = counted.queue_us {
            item.insert(attr::QUEUE_US.to_owned(), n(us));
        }
    }
    item
}

/// The transaction items of `change`: the run's conditional put, and one `ADD` per cell it
/// changes (deltas of several runs to one cell are summed by the caller's [`Pack`]).
fn run_put(table: &str, change: &RunChange) -> Result<TransactWriteItem, JobTableError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(run_item(&change.run, &change.state)))
        .expression_attribute_names("#v", attr::VERSION);
    let put = match change.expected_version {
        None => put.condition_expression("attribute_not_exists(#v)"),
        Some(v) => put
            .condition_expression("#v = :expected")
            .expression_attribute_values(":expected", n(v)),
    };
    let put = put
        .build()
        .map_err(|e| JobTableError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn cell_update(
    table: &str,
    cell: &CellKey,
    delta: &Figures,
) -> Result<TransactWriteItem, JobTableError> {
    let mut adds = vec!["#v :one".to_owned()];
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key_of(cell.storage_key())))
        .expression_attribute_names("#v", attr::VERSION)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_names("#repo", attr::DOWNSTREAM_REPO)
        .expression_attribute_values(":repo", s(&cell.downstream_repo))
        .expression_attribute_names("#hour", attr::HOUR)
        .expression_attribute_values(":hour", n(cell.hour))
        .expression_attribute_names("#wf", attr::WORKFLOW_NAME)
        .expression_attribute_values(":wf", s(&cell.workflow_name))
        .expression_attribute_names("#job", attr::JOB_NAME)
        .expression_attribute_values(":job", s(&cell.job_name));
    for (i, (name, value)) in delta.fields().into_iter().enumerate() {
        if value != 0 {
            adds.push(format!("#f{i} :f{i}"));
            update = update
                .expression_attribute_names(format!("#f{i}"), name)
                .expression_attribute_values(format!(":f{i}"), n(value));
        }
    }
    let update = update
        .update_expression(format!(
            "ADD {} SET #repo = :repo, #hour = :hour, #wf = :wf, #job = :job",
            adds.join(", ")
        ))
        .build()
        .map_err(|e| JobTableError::Unavailable(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Runs gathered into one transaction (their indexes among the changes), with their deltas
/// summed per cell (a transaction may touch an item once).
#[derive(Default)]
struct Pack {
    changes: Vec<usize>,
    cells: BTreeMap<CellKey, Figures>,
}

impl Pack {
    fn items_with(&self, change: &RunChange) -> usize {
        let new_cells = change
            .deltas
            .iter()
            .filter(|(hour, _)| !self.cells.contains_key(&change.run.cell(*hour)))
            .count();
        self.changes.len() + 1 + self.cells.len() + new_cells
    }

    fn push(&mut self, index: usize, change: &RunChange) {
        for (hour, delta) in &change.deltas {
            self.cells
                .entry(change.run.cell(*hour))
                .or_default()
                .add(delta);
        }
        self.changes.push(index);
    }
}

/// What became of one pack's transaction.
enum PackOutcome {
    Written(Vec<usize>),
    Retry(Vec<usize>),
    Refused(Vec<usize>, JobTableError),
}

/// Transactions in flight at once, within a wave.
const CONCURRENT_TRANSACTIONS: usize = 8;

/// `changes` gathered into packs of at most [`TRANSACTION_ITEMS`] items, in the order of the
/// first cell each changes, so that the runs of one cell share packs and few packs share a cell.
fn packs(changes: &[RunChange]) -> Vec<Pack> {
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_by_cached_key(|&i| {
        changes
            .get(i)
            .and_then(|c| c.deltas.first().map(|(hour, _)| c.run.cell(*hour)))
    });
    let mut packs: Vec<Pack> = vec![Pack::default()];
    for index in order {
        let Some(change) = changes.get(index) else {
            continue;
        };
        if packs
            .last()
            .is_some_and(|p| !p.changes.is_empty() && p.items_with(change) > TRANSACTION_ITEMS)
        {
            packs.push(Pack::default());
        }
        if let Some(pack) = packs.last_mut() {
            pack.push(index, change);
        }
    }
    packs.retain(|p| !p.changes.is_empty());
    packs
}

/// `packs` in waves: each pack in the first wave holding no pack that touches one of its
/// cells, so the packs of a wave touch disjoint cells. Packs in cell order overlap only their
/// neighbours (a cell split between two), which makes two waves. The order of the waves does
/// not matter: a batch changes each run once, and cell deltas add up in any order.
fn waves(packs: Vec<Pack>) -> Vec<Vec<Pack>> {
    let mut waves: Vec<(BTreeSet<CellKey>, Vec<Pack>)> = Vec::new();
    for pack in packs {
        let free = waves
            .iter()
            .position(|(cells, _)| !pack.cells.keys().any(|c| cells.contains(c)))
            .unwrap_or(waves.len());
        if free == waves.len() {
            waves.push((BTreeSet::new(), Vec::new()));
        }
        if let Some((cells, wave)) = waves.get_mut(free) {
            cells.extend(pack.cells.keys().cloned());
            wave.push(pack);
        }
    }
    waves.into_iter().map(|(_, wave)| wave).collect()
}

/// What became of the changes given to [`Ledger::apply`].
#[derive(Debug, Default)]
pub struct Applied {
    /// Indexes of the changes written.
    pub written: Vec<usize>,
    /// Lost a race (another writer changed the run) or refused in a transaction with others:
    /// re-read and try again, alone.
    pub retry: Vec<usize>,
    /// Refused for good, alone in its transaction: the run cannot be kept.
    pub refused: Vec<(usize, JobTableError)>,
}

impl Ledger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Strongly consistent reads of `pks`, 100 per request; the items found, by `pk`.
    async fn get(
        &self,
        pks: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, HashMap<String, AttributeValue>>, JobTableError> {
        let keys = pks.into_iter().map(key_of).collect();
        let read = BatchRead {
            consistent: true,
            projection: None,
        };
        let items = get_items(&self.client, &self.table, keys, &read)
            .await
            .map_err(batch_get_failed)?;
        let mut found = HashMap::new();
        for item in items {
            if let Some(pk) = text(&item, attr::PK) {
                found.insert(pk.to_owned(), item);
            }
        }
        Ok(found)
    }

    /// The stored state of each of `runs` that has one.
    pub async fn load_runs(
        &self,
        runs: &[&RunKey],
    ) -> Result<HashMap<RunKey, RunState>, JobTableError> {
        let by_pk: HashMap<String, &RunKey> = runs.iter().map(|r| (r.storage_key(), *r)).collect();
        let items = self.get(by_pk.keys().cloned()).await?;
        let mut states = HashMap::new();
        for (pk, item) in items {
            if let Some(run) = by_pk.get(&pk) {
                states.insert((*run).clone(), run_state(&pk, &item)?);
            }
        }
        Ok(states)
    }

    /// Writes `changes`, as many runs per transaction as fit. Transactions touching one cell at
    /// once would cancel each other, so the packs go in waves ([`waves`]): the packs of a wave
    /// touch disjoint cells and are sent at once, the waves one after the other.
    pub async fn apply(&self, changes: &[RunChange]) -> Result<Applied, JobTableError> {
        let mut applied = Applied::default();
        for wave in waves(packs(changes)) {
            let sent: Vec<Result<PackOutcome, JobTableError>> = futures::stream::iter(wave)
                .map(|pack| self.send(changes, pack))
                .buffer_unordered(CONCURRENT_TRANSACTIONS)
                .collect()
                .await;
            for outcome in sent {
                match outcome? {
                    PackOutcome::Written(indexes) => applied.written.extend(indexes),
                    PackOutcome::Retry(indexes) => applied.retry.extend(indexes),
                    PackOutcome::Refused(indexes, refused) => applied
                        .refused
                        .extend(indexes.into_iter().map(|i| (i, refused.clone()))),
                }
            }
        }
        applied.written.sort_unstable();
        applied.retry.sort_unstable();
        applied.refused.sort_by_key(|(i, _)| *i);
        Ok(applied)
    }

    /// One pack's transaction.
    async fn send(&self, changes: &[RunChange], pack: Pack) -> Result<PackOutcome, JobTableError> {
        let indexes = pack.changes;
        let mut items = Vec::with_capacity(indexes.len() + pack.cells.len());
        for change in indexes.iter().filter_map(|i| changes.get(*i)) {
            items.push(run_put(&self.table, change)?);
        }
        for (cell, delta) in &pack.cells {
            if !delta.is_zero() {
                items.push(cell_update(&self.table, cell, delta)?);
            }
        }
        let alone = indexes.len() == 1;
        Ok(match transact(&self.client, items).await? {
            Transacted::Written => PackOutcome::Written(indexes),
            Transacted::Refused(refused) if alone => PackOutcome::Refused(indexes, refused),
            Transacted::Canceled | Transacted::Refused(_) => PackOutcome::Retry(indexes),
        })
    }

    /// The current sums of `cells` (a cell no run was ever counted in has none).
    pub async fn load_cells(&self, cells: &[CellKey]) -> Result<Vec<CellSnapshot>, JobTableError> {
        let by_pk: HashMap<String, &CellKey> = cells.iter().map(|c| (c.storage_key(), c)).collect();
        let items = self.get(by_pk.keys().cloned()).await?;
        let mut snapshots = Vec::with_capacity(items.len());
        for (pk, item) in items {
            let Some(cell) = by_pk.get(&pk) else { continue };
            snapshots.push(CellSnapshot {
                cell: (*cell).clone(),
                figures: Figures::from_fields(|name| number(&item, name)),
                version: number(&item, attr::VERSION).ok_or_else(|| corrupt(&pk, attr::VERSION))?,
            });
        }
        snapshots.sort_by(|a, b| a.cell.cmp(&b.cell));
        Ok(snapshots)
    }

    /// Joins `latest` into the repo's stored latest (read, join, write conditionally, again on
    /// a lost race) and returns what is stored after.
    pub async fn join_repo(
        &self,
        downstream_repo: &str,
        latest: &RepoLatest,
    ) -> Result<RepoSnapshot, JobTableError> {
        let pk = format!("repo#{downstream_repo}");
        loop {
            let mut found = self.get([pk.clone()]).await?;
            let stored = match found.remove(&pk) {
                None => None,
                Some(item) => Some((
                    repo_latest(&pk, &item)?,
                    number::<u64>(&item, attr::VERSION)
                        .ok_or_else(|| corrupt(&pk, attr::VERSION))?,
                )),
            };
            let (mut joined, expected) = match stored {
                Some((stored, version)) => (stored, Some(version)),
                None => (latest.clone(), None),
            };
            let changed = expected.is_none() || joined.absorb(latest);
            let version = expected.unwrap_or(0);
            if !changed {
                return Ok(RepoSnapshot {
                    downstream_repo: downstream_repo.to_owned(),
                    latest: joined,
                    version,
                });
            }
            let mut item = key_of(pk.clone());
            item.insert(attr::VERSION.to_owned(), n(version + 1));
            item.insert(attr::DOWNSTREAM_REPO.to_owned(), s(downstream_repo));
            item.insert(
                attr::LAST_COMPLETED_AT.to_owned(),
                n(joined.last_completed_at),
            );
            item.insert(attr::LEVEL.to_owned(), s(&joined.level));
            item.insert(
                attr::LEVEL_FIRST_SEEN_AT.to_owned(),
                n(joined.level_rank.first_seen_at),
            );
            item.insert(
                attr::LEVEL_JOB_KEY.to_owned(),
                s(&joined.level_rank.job_key),
            );
            item.insert(
                attr::LEVEL_JOB_VERSION.to_owned(),
                n(joined.level_rank.job_version),
            );
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .expression_attribute_names("#v", attr::VERSION);
            let request = match expected {
                None => request.condition_expression("attribute_not_exists(#v)"),
                Some(v) => request
                    .condition_expression("#v = :expected")
                    .expression_attribute_values(":expected", n(v)),
            };
            match request.send().await {
                Ok(_) => {
                    return Ok(RepoSnapshot {
                        downstream_repo: downstream_repo.to_owned(),
                        latest: joined,
                        version: version + 1,
                    })
                }
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                Err(error) => return Err(unavailable(error)),
            }
        }
    }
}

fn repo_latest(
    pk: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<RepoLatest, JobTableError> {
    let need = |what: &str| corrupt(pk, what);
    Ok(RepoLatest {
        last_completed_at: number(item, attr::LAST_COMPLETED_AT)
            .ok_or_else(|| need(attr::LAST_COMPLETED_AT))?,
        level_rank: LevelRank {
            first_seen_at: number(item, attr::LEVEL_FIRST_SEEN_AT)
                .ok_or_else(|| need(attr::LEVEL_FIRST_SEEN_AT))?,
            job_key: text(item, attr::LEVEL_JOB_KEY)
                .ok_or_else(|| need(attr::LEVEL_JOB_KEY))?
                .to_owned(),
            job_version: number(item, attr::LEVEL_JOB_VERSION)
                .ok_or_else(|| need(attr::LEVEL_JOB_VERSION))?,
        },
        level: text(item, attr::LEVEL).unwrap_or_default().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(run_id: &str, hours: &[i64]) -> RunChange {
        let run = RunKey {
            downstream_repo: "a/b".into(),
            workflow_name: "ci".into(),
            job_name: "t".into(),
            run_id: run_id.into(),
        };
        let one = Figures {
            completed: 1,
            ..Figures::default()
        };
        RunChange {
            run,
            state: RunState {
                rank: AttemptRank {
                    run_attempt: 1,
                    job_key: run_id.into(),
                    job_version: 1,
                },
                hour: hours[0],
                counted: None,
                version: 1,
                hours: hours.to_vec(),
            },
            expected_version: None,
            deltas: hours.iter().map(|h| (*h, one)).collect(),
        }
    }

    #[test]
    fn a_pack_counts_each_cell_once() {
        let (a, b) = (change("1", &[0, 3600]), change("2", &[0]));
        let mut pack = Pack::default();
        assert_eq!(pack.items_with(&a), 3, "the run and its two cells");
        pack.push(0, &a);
        assert_eq!(pack.items_with(&b), 4, "one more run, no new cell");
        pack.push(1, &b);
        assert_eq!(pack.cells.len(), 2);
        assert_eq!(pack.cells[&a.run.cell(0)].completed, 2, "summed");
    }

    #[test]
    fn packs_of_a_wave_touch_disjoint_cells_and_hold_every_change_once() {
        // 600 runs in 120 hours (5 per hour, given in a shuffled order), some also in the next
        // hour: packs of up to 100 items, in waves.
        let changes: Vec<RunChange> = (0..600i64)
            .map(|i| (i * 7) % 600)
            .map(|i| {
                let hour = (i / 5) * 3600;
                let hours: Vec<i64> = if i % 4 == 0 {
                    vec![hour, hour + 3600]
                } else {
                    vec![hour]
                };
                change(&i.to_string(), &hours)
            })
            .collect();
        let packs = packs(&changes);
        assert!(packs.len() >= 2, "{} packs", packs.len());
        for pack in &packs {
            let items = pack.changes.len() + pack.cells.len();
            assert!(items <= TRANSACTION_ITEMS, "{items} items");
        }
        let waves = waves(packs);
        assert!(waves.len() <= 2, "{} waves", waves.len());
        assert!(
            waves.iter().any(|w| w.len() > 1),
            "some packs are sent at once"
        );
        let mut seen: Vec<usize> = Vec::new();
        for wave in &waves {
            let mut cells: BTreeSet<&CellKey> = BTreeSet::new();
            for pack in wave {
                for cell in pack.cells.keys() {
                    assert!(cells.insert(cell), "{cell:?} in two packs of one wave");
                }
                seen.extend(&pack.changes);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..changes.len()).collect::<Vec<_>>());
        // A cell's deltas over every pack sum to its runs' deltas.
        let cell = changes[0].run.cell(0);
        let total: i64 = waves
            .iter()
            .flatten()
            .filter_map(|p| p.cells.get(&cell))
            .map(|f| f.completed)
            .sum();
        assert_eq!(total, 5, "hour 0 holds runs 0..5, none from an hour before");
    }

    #[test]
    fn run_items_read_back() {
        let mut state = change("9", &[7200]).state;
        state.counted = Some(Contribution {
            outcome: Outcome::TimedOut,
            duration_us: Some(5),
            queue_us: None,
        });
        let run = change("9", &[0]).run;
        let item = run_item(&run, &state);
        assert_eq!(run_state("pk", &item).expect("readable"), state);
    }
}
