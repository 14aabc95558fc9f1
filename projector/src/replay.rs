//! Rebuilding the projections from the log into fresh tables: the data engineer's tool for a
//! new projection, a backfill, a migration, or checking the live tables.
//!
//! The replay reads every partition from the beginning (or from the first offset at or after a
//! time) up to the end offsets it saw when it started. It joins no consumer group and commits
//! nothing, so it never disturbs the live projector.
//!
//! **`--into-existing`** replays into tables that exist, the live ones included: how a stack
//! that had jobs before a new projection (the rollups) fills it. Every job merges unchanged
//! (nothing is rewritten), and the ledger counts each run once whatever it already holds.
//!
//! **Both stores** (the default) project through the same pipeline as the live projector
//! ([`project`]); since the merge is order-independent the rebuilt tables hold what the live ones
//! hold for the same events (but for the row versions, which count DynamoDB writes).
//!
//! **`--only clickhouse`** skips DynamoDB entirely, which makes it fast enough to be the
//! migration tool for the ClickHouse tables. A row needs the job's merged record and a version,
//! which the pipeline reads from and writes to DynamoDB; here they come from memory instead:
//! - batches are large (20,000 events by default), and each is coalesced per job first, so a
//!   job whose callbacks fall in one batch is merged from all of them at once;
//! - a bounded map of the most recently seen jobs (`--window-jobs`, default 200,000) keeps
//!   each job's merged record (bounded as the DynamoDB item holds it) and its version, counted
//!   as DynamoDB counts them: 1 for the first write, one more for each batch that changes the
//!   record. A job's callbacks follow each other closely in the log, and a job's events are in
//!   one partition (keyed by job key), so a job seen again is almost always still in the map;
//!   the row written (and its failed tests' rows) is then the one a both-stores replay with
//!   the same batches writes.
//!
//! Its limit: a job whose earlier callbacks left the map (more than `--window-jobs` other jobs
//! came in between, e.g. a sweeper `timed_out` days later on a large log) gets a row merged from
//! its later callbacks only, and replaces the earlier row. The replay counts those jobs
//! ([`ReplayReport::beyond_window`], from a set of 8-byte hashes of the evicted keys) so such a
//! run can be redone with a larger window or with both stores. Memory is about the window times
//! a bounded record (a few KB), plus 16 bytes or so per evicted job.
//!
//! The rollups (`rollups`): both stores keep them through the DynamoDB ledger as the live
//! projector does; `--only clickhouse` counts them in memory ([`MemoryLedger`], runs bounded by
//! the same window, cells all held: a few hundred thousand at most) and writes every cell and
//! repo row when the log is read.
//!
//! **`--only dynamodb`** rebuilds the job table and the rollups' ledger through the pipeline,
//! inserting nothing into ClickHouse: for a new DynamoDB table, or to fill the ledger of a stack
//! upgraded to the rollups.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use oot_avro::CallbackEvent;
use oot_contract::JobKey;
use oot_platform::migrate::{self, Outcome};
use oot_platform::settings::StoreSettings;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use crate::completed_rows::{CompletedJobRow, CompletedJobs};
use crate::failed_test_rows::{FailedTestRow, FailedTestRows};
use crate::job_table::bounded_for_item;
use crate::ledger::{CellSnapshot, RepoSnapshot};
use crate::merge::JobRecord;
use crate::pipeline::{coalesce, dynamo_stores_of, now_micros, project, stores_of, Stores};
use crate::retry::{bisect, with_retries};
use crate::rollups::{attempt_seen, repos_latest, CellRow, RepoRow, RollupTables};
use crate::source::check_key;
use oot_rollup::MemoryLedger;

/// Which projection a replay rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Only {
    /// The completed-jobs table, its failed tests and the rollup tables, with DynamoDB left out
    /// (see the module docs).
    Clickhouse,
    /// The job table and the rollups' ledger, with ClickHouse left out.
    Dynamodb,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// DynamoDB table to build (its ledger `{table}-rollup` beside it); must not exist yet.
    /// Required unless `--only clickhouse`.
    #[arg(long = "into-dynamo-table")]
    pub into_dynamo_table: Option<String>,

    /// ClickHouse table to build (in the configured database; its rollup tables `{table}_cells`
    /// and `{table}_repos` and its failed tests `{table}_failed_tests` beside it); must not
    /// exist yet. Required unless `--only dynamodb`.
    #[arg(long = "into-clickhouse-table")]
    pub into_clickhouse_table: Option<String>,

    /// Rebuild one projection only (default: both).
    #[arg(long, value_enum)]
    pub only: Option<Only>,

    /// Start at the first event received at or after this RFC 3339 time (default: the beginning).
    #[arg(long = "from-time")]
    pub from_time: Option<String>,

    /// Events per batch (default: 5,000 for both stores, 20,000 for `--only clickhouse`).
    #[arg(long)]
    pub batch_events: Option<usize>,

    /// `--only clickhouse`: jobs whose merged record is kept in memory (see the module docs).
    #[arg(long, default_value_t = DEFAULT_WINDOW_JOBS)]
    pub window_jobs: usize,

    /// Replay into tables that exist, e.g. the live ones (not with `--only clickhouse`, whose
    /// versions are counted afresh): fills what a new projection adds to a stack that had jobs
    /// before it (the rollups' ledger and cells). Safe beside the live projector: every job
    /// merges unchanged, writes are conditional, and the ledger counts each run once.
    #[arg(long)]
    pub into_existing: bool,
}

/// How long the replay's reader lets librdkafka wait before fetching again once its prefetch is
/// full (see where the consumer is configured).
const REPLAY_FETCH_QUEUE_BACKOFF_MS: u32 = 10;

/// See [`ReplayArgs::window_jobs`].
pub const DEFAULT_WINDOW_JOBS: usize = 200_000;

impl ReplayArgs {
    /// Both stores into the given tables, default batches.
    pub fn both(dynamo_table: impl Into<String>, clickhouse_table: impl Into<String>) -> Self {
        Self {
            into_dynamo_table: Some(dynamo_table.into()),
            into_clickhouse_table: Some(clickhouse_table.into()),
            only: None,
            from_time: None,
            batch_events: None,
            window_jobs: DEFAULT_WINDOW_JOBS,
            into_existing: false,
        }
    }

    /// Both stores, into the tables of `settings` as they are (see [`Self::into_existing`]).
    pub fn into_existing(settings: &StoreSettings) -> Self {
        Self {
            into_existing: true,
            ..Self::both(
                settings.dynamo.table.clone(),
                settings.clickhouse.table.clone(),
            )
        }
    }

    /// The ClickHouse table alone, default batches and window.
    pub fn clickhouse_only(clickhouse_table: impl Into<String>) -> Self {
        Self {
            only: Some(Only::Clickhouse),
            into_dynamo_table: None,
            ..Self::both(String::new(), clickhouse_table)
        }
    }

    /// The DynamoDB tables alone, default batches.
    pub fn dynamodb_only(dynamo_table: impl Into<String>) -> Self {
        Self {
            only: Some(Only::Dynamodb),
            into_clickhouse_table: None,
            ..Self::both(dynamo_table, String::new())
        }
    }

    fn batch_size(&self) -> usize {
        self.batch_events.unwrap_or(match self.only {
            // Small enough that the merge of one batch, the INSERTs of the one before and the
            // reading of the next overlap (100,000: 45,000 events/s; 20,000: 52,000), large
            // enough that an INSERT is thousands of rows.
            Some(Only::Clickhouse) => 20_000,
            Some(Only::Dynamodb) | None => 5_000,
        })
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplayReport {
    pub events: u64,
    pub undecodable: u64,
    /// Decoded, but refused: keyed to another job, or not the contract's words. The live
    /// projector dead-lettered them; the replay skips them too.
    pub refused: u64,
    pub jobs_written: u64,
    pub rows: u64,
    /// Rows of the failed-test table inserted.
    pub failed_test_rows: u64,
    /// `--only clickhouse`: jobs seen again after leaving the window (their rows may miss
    /// earlier callbacks; see the module docs).
    pub beyond_window: u64,
    /// `--only clickhouse`: rollup cells written at the end.
    pub cells: u64,
    /// `--only clickhouse`: runs seen again after leaving the window (an older attempt may be
    /// counted beside the newer one in the rollups).
    pub runs_beyond_window: u64,
}

/// The first offset of each partition at or after `from` (ms since the epoch), or its beginning.
fn start_offsets(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: &[i32],
    from_ms: Option<i64>,
) -> anyhow::Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    for &partition in partitions {
        let offset = from_ms.map_or(Offset::Beginning, Offset::Offset);
        list.add_partition_offset(topic, partition, offset)?;
    }
    if from_ms.is_some() {
        list = consumer.offsets_for_times(list, Duration::from_secs(30))?;
    }
    Ok(list)
}

/// Where the batches go.
enum Sink {
    // Both boxed: each is hundreds of bytes, and only one is ever made.
    Both(Box<Stores>),
    ClickHouse(Box<ClickHouseOnly>),
}

/// What one batch did.
#[derive(Default)]
struct Flushed {
    events: u64,
    refused: u64,
    jobs_written: u64,
    rows: u64,
    failed_test_rows: u64,
    beyond_window: u64,
}

impl Sink {
    async fn flush(
        &mut self,
        batch: Vec<CallbackEvent>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Flushed> {
        match self {
            Sink::Both(stores) => {
                let events: Vec<&CallbackEvent> = batch.iter().collect();
                let projected = project(stores, &events, now_micros(), shutdown)
                    .await
                    .map_err(|e| anyhow::anyhow!("projecting: {e}"))?;
                Ok(Flushed {
                    events: projected.events as u64,
                    refused: projected.rejected.len() as u64,
                    jobs_written: projected.writes as u64,
                    rows: projected.rows as u64,
                    failed_test_rows: projected.failed_test_rows as u64,
                    beyond_window: 0,
                })
            }
            Sink::ClickHouse(only) => only.flush(batch, shutdown).await,
        }
    }
}

/// `--only clickhouse`: merged records and versions from a bounded window of recent jobs, and
/// the rollups counted in memory ([`MemoryLedger`], its runs bounded by the same window),
/// written when the replay ends.
pub struct ClickHouseOnly {
    completed: CompletedJobs,
    failed_tests: FailedTestRows,
    /// Always `Some` but while a batch is merged on a blocking thread, which owns it meanwhile.
    merger: Option<Box<Merger>>,
    rollups: RollupTables,
    /// The previous batch's INSERTs, while the next batch is read.
    inserting: Option<tokio::task::JoinHandle<anyhow::Result<Inserted>>>,
}

/// The rows one batch's INSERTs stored: completed jobs, failed tests.
#[derive(Debug, Default, Clone, Copy)]
struct Inserted {
    rows: u64,
    failed_test_rows: u64,
}

/// What merging a batch needs to remember: the window of recent jobs and the rollups counted.
struct Merger {
    window: Window,
    ledger: MemoryLedger,
}

/// The most recently first-seen jobs' records (as the item would hold them) and versions.
struct Window {
    capacity: usize,
    // foldhash: every job of a replay is looked up here (SipHash of the keys was ~4% of a
    // replay's CPU); the keys come from the log, which ingest validated.
    jobs: foldhash::HashMap<JobKey, (JobRecord, u64)>,
    order: VecDeque<JobKey>,
    evicted: HashSet<u64>,
}

fn key_hash(key: &JobKey) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.as_str().hash(&mut hasher);
    hasher.finish()
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            jobs: foldhash::HashMap::default(),
            order: VecDeque::new(),
            evicted: HashSet::new(),
        }
    }

    /// `record` (a batch's merge of one job) merged into the job's window entry: the merged
    /// record, its version, whether it changed, and whether the job had left the window.
    fn merge(&mut self, record: JobRecord) -> (JobRecord, u64, bool, bool) {
        if let Some((stored, version)) = self.jobs.get_mut(record.job_key()) {
            // Found by its key, so the keys are equal and the merge cannot refuse.
            let merged = stored.merge(&record).unwrap_or(record);
            let bounded = bounded_for_item(&merged);
            let changed = bounded != *stored;
            if changed {
                *stored = bounded;
                *version += 1;
            }
            return (merged, *version, changed, false);
        }
        let late = !self.evicted.is_empty() && self.evicted.contains(&key_hash(record.job_key()));
        while self.jobs.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.jobs.remove(&oldest);
            self.evicted.insert(key_hash(&oldest));
        }
        self.order.push_back(record.job_key().clone());
        self.jobs
            .insert(record.job_key().clone(), (bounded_for_item(&record), 1));
        (record, 1, true, late)
    }
}

impl ClickHouseOnly {
    pub fn new(
        completed: CompletedJobs,
        failed_tests: FailedTestRows,
        rollups: RollupTables,
        window_jobs: usize,
    ) -> Self {
        Self {
            completed,
            failed_tests,
            merger: Some(Box::new(Merger {
                window: Window::new(window_jobs),
                ledger: MemoryLedger::new(window_jobs),
            })),
            rollups,
            inserting: None,
        }
    }

    /// Waits for the last INSERTs, then writes the rollups counted over the whole replay;
    /// returns the last batch's rows, the cells written and the runs seen again after leaving
    /// the window.
    async fn finish(
        &mut self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<(Inserted, u64, u64)> {
        let last = self.wait_for_insert().await?;
        let merger = self.merger()?;
        let cells: Vec<CellRow> = merger
            .ledger
            .cells()
            .map(|(cell, figures, version)| {
                CellRow::of(&CellSnapshot {
                    cell: cell.clone(),
                    figures: *figures,
                    version,
                })
            })
            .collect();
        let repos: Vec<RepoRow> = merger
            .ledger
            .repos()
            .map(|(repo, latest, version)| {
                RepoRow::of(&RepoSnapshot {
                    downstream_repo: repo.to_owned(),
                    latest: latest.clone(),
                    version,
                })
            })
            .collect();
        for chunk in cells.chunks(100_000) {
            with_retries("clickhouse insert cells", shutdown, || {
                self.rollups.insert_cells(chunk)
            })
            .await
            .map_err(|e| anyhow::anyhow!("inserting cells: {e:?}"))?;
        }
        with_retries("clickhouse insert repos", shutdown, || {
            self.rollups.insert_repos(&repos)
        })
        .await
        .map_err(|e| anyhow::anyhow!("inserting repos: {e:?}"))?;
        let beyond_window = merger.ledger.beyond_window;
        Ok((last, cells.len() as u64, beyond_window))
    }

    fn merger(&self) -> anyhow::Result<&Merger> {
        self.merger
            .as_deref()
            .context("a batch's merge failed before (its thread panicked)")
    }

    /// Merges `events` into rows and starts inserting them, after the previous batch's INSERTs
    /// are done: the next batch is read and merged while this one is written. The rows counted
    /// are those of the previous batch ([`ClickHouseOnly::finish`] counts the last).
    ///
    /// The merge (~15 µs of CPU a job) runs on a blocking thread, so the reader goes on
    /// receiving and decoding the next batch on the runtime meanwhile.
    async fn flush(
        &mut self,
        events: Vec<CallbackEvent>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Flushed> {
        let mut merger = self
            .merger
            .take()
            .context("a batch's merge failed before (its thread panicked)")?;
        let (merger, flushed, rows, test_rows) = tokio::task::spawn_blocking(move || {
            let mut flushed = Flushed::default();
            let events: Vec<&CallbackEvent> = events.iter().collect();
            let (rows, test_rows) = merger.rows(&events, &mut flushed);
            (merger, flushed, rows, test_rows)
        })
        .await?;
        self.merger = Some(merger);
        let mut flushed = flushed;
        let previous = self.wait_for_insert().await?;
        flushed.rows = previous.rows;
        flushed.failed_test_rows = previous.failed_test_rows;
        let completed = self.completed.clone();
        let failed_tests = self.failed_tests.clone();
        let shutdown = shutdown.clone();
        self.inserting = Some(tokio::spawn(async move {
            let (rows, failed_test_rows) = tokio::try_join!(
                insert_rows(&completed, &rows, &shutdown),
                insert_failed_tests(&failed_tests, &test_rows, &shutdown),
            )?;
            Ok(Inserted {
                rows,
                failed_test_rows,
            })
        }));
        Ok(flushed)
    }

    /// The rows the INSERTs in flight stored, once they are done (none when none are).
    async fn wait_for_insert(&mut self) -> anyhow::Result<Inserted> {
        match self.inserting.take() {
            None => Ok(Inserted::default()),
            Some(task) => task.await?,
        }
    }
}

impl Merger {
    /// The rows of `events` (merged per job, then into the window) and their failed tests'
    /// rows, without storing them.
    fn rows(
        &mut self,
        events: &[&CallbackEvent],
        flushed: &mut Flushed,
    ) -> (Vec<CompletedJobRow>, Vec<FailedTestRow>) {
        let (jobs, rejected) = coalesce(events);
        flushed.refused += rejected.len() as u64;
        flushed.events += (events.len() - rejected.len()) as u64;
        let now = now_micros();
        let mut rows = Vec::with_capacity(jobs.len());
        let mut test_rows = Vec::new();
        let mut seen = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (merged, version, changed, late) = self.window.merge(job.record);
            flushed.jobs_written += u64::from(changed);
            flushed.beyond_window += u64::from(late);
            let row = CompletedJobRow::of(&merged, version, now);
            test_rows.extend(FailedTestRow::of(&merged, version));
            seen.push(attempt_seen(&merged, version, row.as_ref()));
            rows.extend(row);
        }
        self.ledger.apply(seen);
        for (repo, latest) in repos_latest(&rows) {
            self.ledger.join_repo(&repo, &latest);
        }
        (rows, test_rows)
    }
}

/// Inserts `rows`, skipping (and logging) any ClickHouse refuses for good; the rows stored.
async fn insert_rows(
    completed: &CompletedJobs,
    rows: &[CompletedJobRow],
    shutdown: &CancellationToken,
) -> anyhow::Result<u64> {
    let refused = bisect("clickhouse insert", shutdown, rows, |slice| {
        completed.insert(slice)
    })
    .await
    .map_err(|e| anyhow::anyhow!("inserting rows: {e:?}"))?;
    for (index, error) in &refused {
        if let Some(row) = rows.get(*index) {
            tracing::error!(job_key = %row.dynamo_key, %error, "ClickHouse refuses the row; skipped");
        }
    }
    Ok((rows.len() - refused.len()) as u64)
}

/// Inserts the failed tests' `rows` as [`insert_rows`] does the jobs'.
async fn insert_failed_tests(
    failed_tests: &FailedTestRows,
    rows: &[FailedTestRow],
    shutdown: &CancellationToken,
) -> anyhow::Result<u64> {
    let refused = bisect("clickhouse insert failed tests", shutdown, rows, |slice| {
        failed_tests.insert(slice)
    })
    .await
    .map_err(|e| anyhow::anyhow!("inserting failed-test rows: {e:?}"))?;
    for (index, error) in &refused {
        if let Some(row) = rows.get(*index) {
            tracing::error!(job_key = %row.dynamo_key, %error, "ClickHouse refuses the failed-test row; skipped");
        }
    }
    Ok((rows.len() - refused.len()) as u64)
}

/// Replays `settings.kafka.topic` into the tables named in `args`.
pub async fn replay(
    settings: &StoreSettings,
    args: &ReplayArgs,
    show_progress: bool,
    shutdown: &CancellationToken,
) -> anyhow::Result<ReplayReport> {
    let mut target = settings.clone();
    let (wants_dynamo, wants_clickhouse) = match args.only {
        None => (true, true),
        Some(Only::Dynamodb) => (true, false),
        Some(Only::Clickhouse) => (false, true),
    };
    if wants_dynamo {
        let Some(table) = &args.into_dynamo_table else {
            anyhow::bail!("--into-dynamo-table is required unless --only clickhouse");
        };
        target.dynamo.table = table.clone();
    }
    if wants_clickhouse {
        let Some(table) = &args.into_clickhouse_table else {
            anyhow::bail!("--into-clickhouse-table is required unless --only dynamodb");
        };
        target.clickhouse.table = table.clone();
    }
    target.validate()?;
    let batch_events = args.batch_size();
    anyhow::ensure!(batch_events > 0, "--batch-events must be at least 1");
    let from_ms = args
        .from_time
        .as_deref()
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|at| (at.unix_timestamp_nanos() / 1_000_000) as i64)
                .with_context(|| format!("--from-time {t:?} is not RFC 3339"))
        })
        .transpose()?;

    anyhow::ensure!(
        !(args.into_existing && args.only == Some(Only::Clickhouse)),
        "--into-existing cannot go with --only clickhouse: its versions are counted afresh and would not supersede the stored rows"
    );
    let fresh_only = !args.into_existing;
    if wants_dynamo {
        let dynamo = target.dynamo.client().await;
        let created = migrate::ensure_job_table(&dynamo, &target.dynamo).await?;
        anyhow::ensure!(
            created == Outcome::Created || !fresh_only,
            "DynamoDB table {} already exists; replay builds fresh tables (or give --into-existing)",
            target.dynamo.table
        );
    }
    if wants_clickhouse {
        let created =
            migrate::ensure_clickhouse(&target.clickhouse.client(), &target.clickhouse).await?;
        anyhow::ensure!(
            created == Outcome::Created || !fresh_only,
            "ClickHouse table {} already exists; replay builds fresh tables (or give --into-existing)",
            target.clickhouse.qualified_table()
        );
    }
    let mut sink = match args.only {
        None => Sink::Both(Box::new(stores_of(&target).await)),
        Some(Only::Dynamodb) => Sink::Both(Box::new(dynamo_stores_of(&target).await)),
        Some(Only::Clickhouse) => Sink::ClickHouse(Box::new(ClickHouseOnly::new(
            CompletedJobs::new(
                target.clickhouse.client(),
                &target.clickhouse.database,
                &target.clickhouse.table,
            ),
            FailedTestRows::new(target.clickhouse.client(), &target.clickhouse.table),
            RollupTables::new(target.clickhouse.client(), &target.clickhouse.table),
            args.window_jobs,
        ))),
    };
    let topic = &settings.kafka.topic;
    let group = format!("oot-replay-{}", uuid::Uuid::now_v7().simple());
    let mut config = settings.kafka.client_config();
    config
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        // librdkafka waits 1 s by default before fetching again once its prefetch (64 MiB) is
        // full, and a replay drains it in well under that: the reader stood idle ~2.6 s of a
        // 200,000-event replay's ~4.5 s. With 10 ms it is never the one waited for.
        .set(
            "fetch.queue.backoff.ms",
            REPLAY_FETCH_QUEUE_BACKOFF_MS.to_string(),
        );
    let metadata_client: BaseConsumer = config.create()?;
    let metadata = metadata_client.fetch_metadata(Some(topic), Duration::from_secs(30))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    anyhow::ensure!(
        !partitions.is_empty(),
        "topic {topic} has no partitions (does it exist?)"
    );

    let starts = start_offsets(&metadata_client, topic, &partitions, from_ms)?;
    let mut remaining: HashMap<i32, (i64, i64)> = HashMap::new(); // partition -> (next, end)
    let mut total = 0u64;
    for element in starts.elements() {
        let (low, high) = metadata_client.fetch_watermarks(
            topic,
            element.partition(),
            Duration::from_secs(30),
        )?;
        let start = match element.offset() {
            Offset::Offset(o) => o.max(low),
            Offset::End => high,
            _ => low,
        };
        if start < high {
            remaining.insert(element.partition(), (start, high));
            total += (high - start) as u64;
        }
    }
    let mut assignment = TopicPartitionList::new();
    for (&partition, &(start, _)) in &remaining {
        assignment.add_partition_offset(topic, partition, Offset::Offset(start))?;
    }
    let consumer: StreamConsumer = config.create()?;
    consumer.assign(&assignment)?;

    let progress = indicatif::ProgressBar::new(total);
    if !show_progress {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replay [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );

    // The reader receives and decodes the next batch while the sink merges and writes this
    // one; a channel of one batch bounds what is held to about two batches and the INSERTs in
    // flight.
    let (batches, mut to_flush) = tokio::sync::mpsc::channel(1);
    let reader = tokio::spawn(read_batches(
        consumer,
        remaining,
        batch_events,
        progress.clone(),
        batches,
        shutdown.clone(),
    ));
    let mut report = ReplayReport::default();
    while let Some(batch) = to_flush.recv().await {
        let flushed = sink.flush(batch, shutdown).await?;
        report.events += flushed.events;
        report.refused += flushed.refused;
        report.jobs_written += flushed.jobs_written;
        report.rows += flushed.rows;
        report.failed_test_rows += flushed.failed_test_rows;
        report.beyond_window += flushed.beyond_window;
    }
    let skipped = reader
        .await?
        .with_context(|| format!("replay stopped after {} events", report.events))?;
    report.undecodable += skipped.undecodable;
    report.refused += skipped.refused;
    if let Sink::ClickHouse(only) = &mut sink {
        let (last, cells, beyond) = only.finish(shutdown).await?;
        report.rows += last.rows;
        report.failed_test_rows += last.failed_test_rows;
        report.cells = cells;
        report.runs_beyond_window = beyond;
    }
    progress.finish_and_clear();
    Ok(report)
}

/// Events the reader left out of the batches.
#[derive(Debug, Default)]
struct Skipped {
    undecodable: u64,
    /// Keyed to another job than the one they name.
    refused: u64,
}

/// Receives `remaining` (partition → next offset, end offset) and sends the decoded events on
/// `batches`, `batch_events` at a time (fewer when the log pauses for half a second, and at the
/// end); stops early when the receiver is gone.
async fn read_batches(
    consumer: StreamConsumer,
    mut remaining: HashMap<i32, (i64, i64)>,
    batch_events: usize,
    progress: indicatif::ProgressBar,
    batches: tokio::sync::mpsc::Sender<Vec<CallbackEvent>>,
    shutdown: CancellationToken,
) -> anyhow::Result<Skipped> {
    let mut skipped = Skipped::default();
    let mut batch: Vec<CallbackEvent> = Vec::new();
    while !remaining.is_empty() || !batch.is_empty() {
        let mut paused = remaining.is_empty();
        if !remaining.is_empty() {
            let received = tokio::select! {
                () = shutdown.cancelled() => anyhow::bail!("stopped"),
                received = tokio::time::timeout(Duration::from_millis(500), consumer.recv()) => received,
            };
            match received {
                Ok(message) => {
                    let message = message?;
                    let partition = message.partition();
                    if let Some((next, end)) = remaining.get_mut(&partition) {
                        if message.offset() < *end {
                            *next = message.offset() + 1;
                            progress.inc(1);
                            match oot_avro::decode_event(message.payload().unwrap_or_default()) {
                                Ok(event) => match check_key(message.key(), &event.job_key) {
                                    Ok(()) => batch.push(event),
                                    Err(_) => skipped.refused += 1,
                                },
                                Err(_) => skipped.undecodable += 1,
                            }
                        }
                        if *next >= *end {
                            remaining.remove(&partition);
                        }
                    }
                }
                Err(_) => paused = true,
            }
        }
        let flush = batch.len() >= batch_events || paused || remaining.is_empty();
        if flush && !batch.is_empty() {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_events.min(1 << 20)));
            if batches.send(full).await.is_err() {
                break;
            }
        }
    }
    Ok(skipped)
}
