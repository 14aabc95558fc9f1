//! Reading the delivery log (docs/contract.md §16.7): a backend's receipts newest first, and the
//! count of each outcome since a time, from `{jobs table}_deliveries`
//! ([`oot_contract::deliveries`]).
//!
//! Reads are designed, not scanned: every query is one key range of the table, ordered by
//! `(downstream_repo, accepted, received_at, receipt_id)`. A page reads the newest hour first and
//! older slices of the window only while the page is not full ([`slices`]), since ClickHouse
//! 18.16 reads a whole range before it can sort it. No `FINAL`: each receipt's best row is
//! taken in the query (`LIMIT 1 BY receipt_id` after `rank DESC`).

use std::time::Duration;

use oot_contract::deliveries::{self, ACCEPTED_OUTCOMES, REFUSED_OUTCOMES};
use oot_contract::RepoName;
use serde::Deserialize;

use crate::stores::completed::date_time;
use crate::stores::StoreError;

pub const DELIVERIES_PAGE_SQL: &str = include_str!("../../sql/deliveries_page.sql");
pub const DELIVERIES_COUNTS_SQL: &str = include_str!("../../sql/deliveries_counts.sql");
/// `deliveries_page.sql`'s condition on the outcomes asked (bound to their list); none when
/// every outcome of the kinds asked is.
const OUTCOME_CONDITION: &str = "WHERE has(?, outcome)";

/// One receipt as the table holds it (every column but `projected_at`), its best row.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Deserialize)]
pub struct DeliveryLogRow {
    pub downstream_repo: String,
    pub accepted: u8,
    pub received_at: u32,
    pub receipt_id: String,
    pub rank: u8,
    pub outcome: String,
    pub status: u16,
    pub error: String,
    pub message: String,
    pub problem_fields: Vec<String>,
    pub problem_messages: Vec<String>,
    pub problems_total: u32,
    pub delivery_id: String,
    pub job_key: String,
    pub callback_status: String,
    pub conclusion: String,
    pub retry_after_seconds: Option<u32>,
    pub body_bytes: Option<u64>,
    pub body_excerpt: String,
    pub visible_after_ms: Option<u64>,
}

/// `deliveries_counts.sql`'s answer: per refusal outcome (`refusal`; empty for the accepted
/// ones), distinct receipts, and of those the ones whose best row is at least unchanged, and
/// changed.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, Deserialize)]
pub struct OutcomeCountRow {
    pub refusal: String,
    pub receipts: u64,
    pub unchanged_or_better: u64,
    pub changed: u64,
}

/// Which deliveries a request asks for: a kind (accepted, refused), one outcome, or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    All,
    Accepted,
    Refused,
    /// One outcome of [`ACCEPTED_OUTCOMES`] or [`REFUSED_OUTCOMES`].
    One(&'static str),
}

impl OutcomeFilter {
    /// `accepted`, `refused`, or one outcome's name; `None` for anything else.
    pub fn parse(text: &str) -> Option<OutcomeFilter> {
        match text {
            deliveries::ACCEPTED => Some(OutcomeFilter::Accepted),
            deliveries::REFUSED => Some(OutcomeFilter::Refused),
            _ => ACCEPTED_OUTCOMES
                .into_iter()
                .chain(REFUSED_OUTCOMES)
                .find(|o| *o == text)
                .map(OutcomeFilter::One),
        }
    }

    /// Every name [`OutcomeFilter::parse`] takes, for the 400 that lists them.
    pub fn names() -> Vec<&'static str> {
        [deliveries::ACCEPTED, deliveries::REFUSED]
            .into_iter()
            .chain(ACCEPTED_OUTCOMES)
            .chain(REFUSED_OUTCOMES)
            .collect()
    }

    /// The name, `None` for all.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            OutcomeFilter::All => None,
            OutcomeFilter::Accepted => Some(deliveries::ACCEPTED),
            OutcomeFilter::Refused => Some(deliveries::REFUSED),
            OutcomeFilter::One(outcome) => Some(outcome),
        }
    }

    /// The bounds of the `accepted` column to read (a key range).
    fn kinds(self) -> (u8, u8) {
        match self {
            OutcomeFilter::All => (0, 1),
            OutcomeFilter::Accepted => (1, 1),
            OutcomeFilter::Refused => (0, 0),
            OutcomeFilter::One(outcome) if ACCEPTED_OUTCOMES.contains(&outcome) => (1, 1),
            OutcomeFilter::One(_) => (0, 0),
        }
    }
}

/// The slices of `[since, until)` a page reads, newest first: the last hour, then 6 hours, a
/// day, a week, 30 days and 90 days back from `until`, then the rest; each clipped at `since`,
/// none empty. A busy backend's page is full within the first; a quiet one reads its whole
/// window in a handful of small queries.
pub fn slices(since: i64, until: i64) -> Vec<(i64, i64)> {
    const HOUR: i64 = 3600;
    const BACK: [i64; 6] = [
        HOUR,
        6 * HOUR,
        24 * HOUR,
        7 * 24 * HOUR,
        30 * 24 * HOUR,
        90 * 24 * HOUR,
    ];
    let mut out = Vec::new();
    let mut upper = until;
    for back in BACK
        .into_iter()
        .map(|b| until.saturating_sub(b))
        .chain([since])
    {
        let lower = back.max(since);
        if lower < upper {
            out.push((lower, upper));
            upper = lower;
        }
    }
    out
}

/// The delivery log of the query service.
#[derive(Clone)]
pub struct DeliveryLog {
    client: clickhouse::Client,
    /// `database.{jobs table}_deliveries`.
    table: String,
    timeout: Duration,
}

impl DeliveryLog {
    /// The deliveries table of the completed-jobs table `qualified_jobs_table`
    /// (`database.table`).
    pub fn new(client: clickhouse::Client, qualified_jobs_table: &str, timeout: Duration) -> Self {
        Self {
            client,
            table: deliveries::deliveries_table(qualified_jobs_table),
            timeout,
        }
    }

    /// The newest `wanted` receipts of `repo` received in `[since, until)` that `filter` asks
    /// for, newest first (ties within a second by receipt id, newest first).
    pub async fn newest(
        &self,
        repo: &RepoName,
        filter: OutcomeFilter,
        since: i64,
        until: i64,
        wanted: usize,
    ) -> Result<Vec<DeliveryLogRow>, StoreError> {
        let mut rows: Vec<DeliveryLogRow> = Vec::new();
        for (lower, upper) in slices(since, until) {
            if rows.len() >= wanted {
                break;
            }
            let limit = u64::try_from(wanted - rows.len()).unwrap_or(u64::MAX);
            rows.extend(self.slice(repo, filter, lower, upper, limit).await?);
        }
        Ok(rows)
    }

    async fn slice(
        &self,
        repo: &RepoName,
        filter: OutcomeFilter,
        lower: i64,
        upper: i64,
        limit: u64,
    ) -> Result<Vec<DeliveryLogRow>, StoreError> {
        let outcome = match filter {
            OutcomeFilter::One(outcome) => Some(vec![outcome]),
            _ => None,
        };
        let sql = DELIVERIES_PAGE_SQL
            .replace("{deliveries}", &self.table)
            .replace(
                "{outcome_condition}",
                if outcome.is_some() {
                    OUTCOME_CONDITION
                } else {
                    ""
                },
            );
        let (lowest, highest) = filter.kinds();
        let mut query = self
            .client
            .query(&sql)
            .bind(repo.as_str())
            .bind(lowest)
            .bind(highest)
            .bind(date_time(lower))
            .bind(date_time(upper));
        if let Some(outcome) = outcome {
            query = query.bind(outcome);
        }
        super::fetch_rows(query.bind(limit), self.timeout).await
    }

    /// Per outcome, `repo`'s receipts received since `since` (each once, as its best row).
    pub async fn counts(&self, repo: &RepoName, since: i64) -> Result<OutcomeCounts, StoreError> {
        let sql = DELIVERIES_COUNTS_SQL.replace("{deliveries}", &self.table);
        let query = self
            .client
            .query(&sql)
            .bind(repo.as_str())
            .bind(date_time(since));
        let rows: Vec<OutcomeCountRow> = super::fetch_rows(query, self.timeout).await?;
        Ok(OutcomeCounts::of(&rows))
    }
}

/// The count of each outcome of a backend's receipts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub changed: u64,
    pub unchanged: u64,
    pub parked: u64,
    /// Per refusal outcome, in the order of [`REFUSED_OUTCOMES`] (then any other, by name).
    pub refused: Vec<(String, u64)>,
}

impl OutcomeCounts {
    /// From `deliveries_counts.sql`'s rows: the accepted receipts split by their best row
    /// (changed; unchanged = at least unchanged, not changed; parked = the rest).
    pub fn of(rows: &[OutcomeCountRow]) -> OutcomeCounts {
        let mut counts = OutcomeCounts::default();
        for row in rows {
            if row.refusal.is_empty() {
                counts.changed += row.changed;
                counts.unchanged += row.unchanged_or_better.saturating_sub(row.changed);
                counts.parked += row.receipts.saturating_sub(row.unchanged_or_better);
            } else {
                counts.refused.push((row.refusal.clone(), row.receipts));
            }
        }
        let position = |outcome: &str| {
            REFUSED_OUTCOMES
                .iter()
                .position(|o| *o == outcome)
                .unwrap_or(REFUSED_OUTCOMES.len())
        };
        counts
            .refused
            .sort_by(|a, b| (position(&a.0), &a.0).cmp(&(position(&b.0), &b.0)));
        counts
    }

    pub fn accepted(&self) -> u64 {
        self.changed + self.unchanged + self.parked
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.iter().map(|(_, n)| n).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_read_the_tables_columns_but_projected_at() {
        let mut columns = deliveries::COLUMNS.to_vec();
        columns.retain(|c| *c != "projected_at");
        assert_eq!(<DeliveryLogRow as clickhouse::Row>::COLUMN_NAMES, columns);
    }

    #[test]
    fn slices_go_back_from_the_newest_hour_and_cover_the_window_once() {
        let until = 1_000_000_000;
        let since = until - 30 * 86_400;
        let got = slices(since, until);
        assert_eq!(got.first(), Some(&(until - 3600, until)));
        assert_eq!(got.last().map(|s| s.0), Some(since));
        for pair in got.windows(2) {
            assert_eq!(pair[0].0, pair[1].1, "contiguous: {got:?}");
        }
        assert_eq!(got.len(), 5, "1h, 6h, 24h, 7d, 30d: {got:?}");
        // A window shorter than the first slice is one slice.
        assert_eq!(slices(until - 600, until), [(until - 600, until)]);
        assert!(slices(until, until).is_empty());
    }

    #[test]
    fn filters_name_a_kind_or_one_outcome_and_read_their_kinds_range() {
        assert_eq!(
            OutcomeFilter::parse("refused"),
            Some(OutcomeFilter::Refused)
        );
        assert_eq!(
            OutcomeFilter::parse("unchanged").map(OutcomeFilter::kinds),
            Some((1, 1))
        );
        assert_eq!(
            OutcomeFilter::parse("rate_limited").map(OutcomeFilter::kinds),
            Some((0, 0))
        );
        assert_eq!(OutcomeFilter::All.kinds(), (0, 1));
        assert_eq!(OutcomeFilter::parse("unauthorized"), None, "never recorded");
        assert_eq!(OutcomeFilter::parse("CHANGED"), None);
        for name in OutcomeFilter::names() {
            assert_eq!(
                OutcomeFilter::parse(name).and_then(OutcomeFilter::as_str),
                Some(name)
            );
        }
    }

    #[test]
    fn accepted_receipts_count_once_as_their_best_projection() {
        // 10 accepted: 6 changed (2 of them also written as unchanged by a redelivered
        // batch), 3 unchanged only, 1 parked only.
        let rows = [
            OutcomeCountRow {
                refusal: String::new(),
                receipts: 10,
                unchanged_or_better: 9,
                changed: 6,
            },
            OutcomeCountRow {
                refusal: "rate_limited".into(),
                receipts: 4,
                unchanged_or_better: 0,
                changed: 0,
            },
            OutcomeCountRow {
                refusal: "invalid".into(),
                receipts: 2,
                unchanged_or_better: 0,
                changed: 0,
            },
        ];
        let counts = OutcomeCounts::of(&rows);
        assert_eq!((counts.changed, counts.unchanged, counts.parked), (6, 3, 1));
        assert_eq!(counts.accepted(), 10);
        assert_eq!(
            counts.refused,
            [("invalid".to_owned(), 2), ("rate_limited".to_owned(), 4)]
        );
        assert_eq!(counts.refused_total(), 6);
    }
}
