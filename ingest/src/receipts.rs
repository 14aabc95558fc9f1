//! Delivery receipts (docs/contract.md §16): one Avro receipt per authenticated callback that
//! ingest refuses, on the deliveries topic, so the downstream team sees why on its deliveries
//! page instead of in our logs.
//!
//! - [`build_receipt`] (pure): the receipt of a refusal, from what the request was known by when
//!   it was answered ([`Attempt`]); `None` when it cannot be attributed to a verified repo.
//! - [`excerpt`] (pure): the body's first bytes, cut on a UTF-8 boundary, never the whole body.
//! - [`ReceiptPublisher`]: produces them fire and forget. Producing never delays nor fails the
//!   HTTP answer: the message goes into librdkafka's bounded queue and the answer is sent; the
//!   broker's acknowledgement (or failure) arrives later on the producer's own thread and is
//!   only counted. A full queue, a broker away, a receipt over its repo's budget: counted in
//!   `oot_ingest_receipts_total{result}`, never waited for.
//!
//! Accepted callbacks have no receipt: their event on the callbacks topic is their record, and
//! the projector writes what became of them. Unauthenticated requests have none either: there is
//! no verified repo to attribute them to (`oot_ingest_refused_total{reason="unauthorized"}`
//! counts them). Neither do refusals answered before the document is read whole (413, 415, 408,
//! an unreadable body) nor a body that is not a JSON object or whose `trusted.verified_repo`
//! breaks its rule: their repo cannot be read, so they are counted as `unattributed`.

use std::time::{Duration, Instant};

use oot_avro::{DeliveryReceipt, ReceiptProblem};
use oot_platform::http_metrics::prometheus_client::metrics::counter::Counter;
use oot_platform::http_metrics::prometheus_client::metrics::family::Family;
use oot_platform::settings::KafkaSettings;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use time::OffsetDateTime;

use crate::callback::limits::cut_at_char_boundary;
use crate::callback::Identity;
use crate::rate_limit::{Decision, SlidingWindowLimiter};
use crate::response::Refusal;

/// The most of a refused body a receipt keeps: enough to see what was sent (its `trusted` part
/// and the start of the payload), never the body.
pub const EXCERPT_BYTES: usize = 1024;

/// The most of a refusal's message a receipt keeps (the 400's problems are bounded on their own).
pub const MESSAGE_BYTES: usize = 1024;

/// How many receipts may wait in the producer's queue (not yet acknowledged by the broker);
/// beyond, a receipt is dropped and counted. With the broker away for minutes under a flood of
/// refusals this is the whole memory receipts take (a few KiB each).
const QUEUE_MESSAGES: u32 = 10_000;
/// The same bound in KiB.
const QUEUE_KIB: u32 = 16 * 1024;

/// Every `result` of `oot_ingest_receipts_total`, each present from the start.
pub const RESULTS: [&str; 6] = [
    "produced",
    "failed",
    "queue_full",
    "over_budget",
    "unattributed",
    "unencodable",
];

/// What a request is known by when its answer is decided, filled in as its checks pass.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// When ingest received it (set once the content type passes).
    pub received_at: Option<OffsetDateTime>,
    /// Who it is from and which job it is about, as far as the document could be read.
    pub identity: Identity,
    /// The body's size, once read whole.
    pub body_bytes: Option<usize>,
    /// The body's first bytes, kept only for a refusal about the document ([`excerpt`]).
    pub excerpt: Option<String>,
}

/// The first `max` bytes of `body` as text: cut on a UTF-8 boundary (a character that does not
/// fit is left out whole), bytes that are not UTF-8 replaced by U+FFFD, never longer than `max`.
pub fn excerpt(body: &[u8], max: usize) -> String {
    let head = body.get(..max).unwrap_or(body);
    match std::str::from_utf8(head) {
        Ok(text) => text.to_owned(),
        // Only the last character was cut: keep what precedes it.
        Err(error) if error.error_len().is_none() => {
            String::from_utf8_lossy(&head[..error.valid_up_to()]).into_owned()
        }
        // Not UTF-8 inside: replacements may make it longer, so cut again.
        Err(_) => {
            let lossy = String::from_utf8_lossy(head);
            cut_at_char_boundary(&lossy, max).to_owned()
        }
    }
}

fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn bounded(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let kept = cut_at_char_boundary(&text, max - '…'.len_utf8());
    format!("{kept}…")
}

/// The receipt of `refusal` of the request `attempt`, with id `receipt_id`, received at
/// `attempt.received_at` (else `now`); `None` when nothing attributes it to a verified repo (an
/// unauthenticated request, a body whose repo could not be read).
pub fn build_receipt(
    refusal: &Refusal,
    attempt: &Attempt,
    receipt_id: uuid::Uuid,
    now: OffsetDateTime,
) -> Option<DeliveryReceipt> {
    if matches!(refusal, Refusal::Unauthorized { .. }) {
        return None;
    }
    let repo = attempt.identity.verified_repo.as_ref()?;
    let (error, problems, problems_total, excerpt) = match refusal {
        Refusal::Invalid(invalid) => (
            invalid.code().to_owned(),
            invalid
                .problems()
                .into_iter()
                .map(|p| ReceiptProblem {
                    field: p.field,
                    message: p.message,
                })
                .collect(),
            i64::try_from(invalid.problems_total()).unwrap_or(i64::MAX),
            attempt.excerpt.clone(),
        ),
        // The answers' own codes (`response.rs`), for the other refusals; none is about the
        // document's content, so no excerpt.
        other => (answer_code(other).to_owned(), Vec::new(), 0, None),
    };
    let retry_after_seconds = match refusal {
        Refusal::RateLimited {
            retry_after_secs, ..
        }
        | Refusal::LogUnavailable { retry_after_secs } => i64::try_from(*retry_after_secs).ok(),
        _ => None,
    };
    Some(DeliveryReceipt {
        receipt_id: receipt_id.to_string(),
        received_at: micros(attempt.received_at.unwrap_or(now)),
        verified_repo: repo.as_str().to_owned(),
        outcome: refusal.reason().to_owned(),
        status: i32::from(refusal.status().as_u16()),
        error,
        message: bounded(refusal.to_string(), MESSAGE_BYTES),
        problems,
        problems_total,
        delivery_id: attempt
            .identity
            .delivery_id
            .as_ref()
            .map(|d| d.as_str().to_owned()),
        job_key: attempt
            .identity
            .job_key
            .as_ref()
            .map(|k| k.as_str().to_owned()),
        retry_after_seconds,
        body_bytes: attempt.body_bytes.and_then(|n| i64::try_from(n).ok()),
        body_excerpt: excerpt,
    })
}

/// The `error` code the answer to `refusal` carries (as `response.rs` writes it).
fn answer_code(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Unauthorized { .. } => "unauthorized",
        Refusal::UnsupportedMediaType => "unsupported_media_type",
        Refusal::TooLarge { .. } => "payload_too_large",
        Refusal::UnreadableBody(_) => "unreadable_body",
        Refusal::BodyReadTimeout { .. } => "body_read_timeout",
        Refusal::Invalid(invalid) => invalid.code(),
        Refusal::RateLimited { .. } => "rate_limited",
        Refusal::LogUnavailable { .. } => "log_unavailable",
        Refusal::Internal => "internal",
    }
}

type ResultLabel = [(&'static str, &'static str); 1];

/// `oot_ingest_receipts_total{result}`.
pub type ReceiptResults = Family<ResultLabel, Counter>;

fn count(results: &ReceiptResults, result: &'static str) {
    results.get_or_create(&[("result", result)]).inc();
}

/// Counts each receipt's acknowledgement or failure, on the producer's polling thread.
pub struct ReceiptContext {
    results: ReceiptResults,
}

impl ClientContext for ReceiptContext {}

impl ProducerContext for ReceiptContext {
    type DeliveryOpaque = ();

    fn delivery(&self, delivery: &DeliveryResult<'_>, _: ()) {
        match delivery {
            Ok(_) => count(&self.results, "produced"),
            Err((error, _)) => {
                count(&self.results, "failed");
                tracing::warn!(%error, "a delivery receipt was not produced");
            }
        }
    }
}

/// Produces receipts, fire and forget, within a per-repo budget.
pub struct ReceiptPublisher {
    producer: ThreadedProducer<ReceiptContext>,
    topic: String,
    /// Receipts per repo per window: a downstream (or relay) stuck in a loop of refused
    /// callbacks must not flood the topic and the table; the refusals past it are counted.
    budget: SlidingWindowLimiter,
    results: ReceiptResults,
}

impl ReceiptPublisher {
    /// A publisher to `kafka`'s deliveries topic, at most `budget` receipts per repo per
    /// `window` (0: no bound), counting into `results`. Connects lazily.
    pub fn new(
        kafka: &KafkaSettings,
        budget: u32,
        window: Duration,
        results: ReceiptResults,
    ) -> Result<Self, KafkaError> {
        let producer = kafka
            .client_config()
            .set("acks", "all")
            // Not idempotent: a retry may write a receipt twice, which the table collapses
            // (same receipt_id); an idempotent producer can end in a fatal state, which this
            // one would have to replace, for nothing a reader could see.
            .set("enable.idempotence", "false")
            // Receipts are not waited for: batch them.
            .set("linger.ms", "50")
            .set("compression.type", "lz4")
            .set("message.timeout.ms", "60000")
            .set("queue.buffering.max.messages", QUEUE_MESSAGES.to_string())
            .set("queue.buffering.max.kbytes", QUEUE_KIB.to_string())
            .create_with_context(ReceiptContext {
                results: results.clone(),
            })?;
        Ok(Self {
            producer,
            topic: kafka.deliveries_topic.clone(),
            budget: SlidingWindowLimiter::new(budget, window),
            results,
        })
    }

    /// Records `refusal` of `attempt`: builds its receipt and hands it to the producer's queue,
    /// or counts why not. Never waits for the broker, never fails.
    pub fn record(&self, refusal: &Refusal, attempt: &Attempt) {
        if matches!(refusal, Refusal::Unauthorized { .. }) {
            return; // counted as a refusal; there is nobody to show it to
        }
        let now = OffsetDateTime::now_utc();
        let Some(receipt) = build_receipt(refusal, attempt, uuid::Uuid::now_v7(), now) else {
            count(&self.results, "unattributed");
            return;
        };
        if let Decision::Reject { .. } = self.budget.check(&receipt.verified_repo, Instant::now()) {
            count(&self.results, "over_budget");
            return;
        }
        let payload = match oot_avro::encode_receipt(&receipt) {
            Ok(payload) => payload,
            Err(error) => {
                count(&self.results, "unencodable");
                tracing::error!(%error, "a delivery receipt could not be encoded");
                return;
            }
        };
        let record = BaseRecord::to(&self.topic)
            .key(receipt.verified_repo.as_bytes())
            .payload(&payload);
        if let Err((error, _)) = self.producer.send(record) {
            count(&self.results, "queue_full");
            tracing::warn!(%error, repo = %receipt.verified_repo, "a delivery receipt was dropped: the producer's queue is full");
        }
    }

    /// Waits for the receipts still queued to be delivered (at shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callback::{validate_callback_identified, Limits, ValidationError};
    use oot_contract::deliveries::REFUSED_OUTCOMES;

    const COMPLETED: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/completed.json"
    ));
    const JOB_KEY: &str = "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001";

    fn at() -> OffsetDateTime {
        time::macros::datetime!(2026-04-28 10:45:12.5 UTC)
    }

    fn attempt_of(body: &[u8]) -> (Refusal, Attempt) {
        let refused = validate_callback_identified(body, &Limits::default(), at())
            .err()
            .unwrap_or_else(|| panic!("the body is valid"));
        let attempt = Attempt {
            received_at: Some(at()),
            identity: refused.identity,
            body_bytes: Some(body.len()),
            excerpt: Some(excerpt(body, EXCERPT_BYTES)),
        };
        (Refusal::Invalid(refused.error), attempt)
    }

    fn with(path: &[&str], value: serde_json::Value) -> Vec<u8> {
        let mut doc: serde_json::Value = serde_json::from_str(COMPLETED).unwrap_or_default();
        let mut at = &mut doc;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        serde_json::to_vec(&doc).unwrap_or_default()
    }

    fn id() -> uuid::Uuid {
        uuid::Uuid::nil()
    }

    #[test]
    fn a_bad_field_is_attributed_with_its_path_and_message_as_the_400_lists_them() {
        let body = with(
            &["untrusted", "callback_payload", "workflow", "run_attempt"],
            "0".into(),
        );
        let (refusal, attempt) = attempt_of(&body);
        let receipt = build_receipt(&refusal, &attempt, id(), at()).expect("attributed");
        let Refusal::Invalid(invalid) = &refusal else {
            unreachable!()
        };
        let answer = invalid.to_json();
        assert_eq!(receipt.verified_repo, "intel/torch-xpu-ops");
        assert_eq!(receipt.outcome, "invalid");
        assert_eq!(receipt.status, 400);
        assert_eq!(receipt.error, "validation_failed");
        assert_eq!(receipt.problems.len(), 1);
        assert_eq!(
            receipt.problems[0].field,
            "untrusted.callback_payload.workflow.run_attempt"
        );
        assert_eq!(
            serde_json::json!(receipt.problems[0].message),
            answer["problems"][0]["message"],
            "the receipt says what the 400 said"
        );
        assert_eq!(receipt.problems_total, 1);
        // Every part of the key passed: the job is known.
        assert_eq!(receipt.job_key.as_deref(), Some(JOB_KEY));
        assert_eq!(
            receipt.delivery_id.as_deref(),
            Some("a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1")
        );
        assert_eq!(receipt.received_at, 1_777_373_112_500_000);
        assert_eq!(receipt.body_bytes, Some(body.len() as i64));
        let excerpt = receipt.body_excerpt.expect("an excerpt");
        assert!(excerpt.len() <= EXCERPT_BYTES && body.len() > EXCERPT_BYTES);
        assert!(body.starts_with(excerpt.as_bytes()));
        assert_eq!(receipt.retry_after_seconds, None);
        let bytes = oot_avro::encode_receipt(&receipt_of(&refusal, &attempt)).unwrap_or_default();
        assert_eq!(
            oot_avro::decode_receipt(&bytes).ok(),
            Some(receipt_of(&refusal, &attempt))
        );
    }

    fn receipt_of(refusal: &Refusal, attempt: &Attempt) -> DeliveryReceipt {
        build_receipt(refusal, attempt, id(), at()).expect("attributed")
    }

    #[test]
    fn a_bad_key_part_leaves_the_job_unknown_but_the_repo_and_delivery_known() {
        let body = with(
            &["untrusted", "callback_payload", "workflow", "check_run_id"],
            "0".into(),
        );
        let (refusal, attempt) = attempt_of(&body);
        let receipt = receipt_of(&refusal, &attempt);
        assert_eq!(receipt.job_key, None);
        assert!(receipt.delivery_id.is_some());
        assert_eq!(
            receipt.problems[0].field,
            "untrusted.callback_payload.workflow.check_run_id"
        );
    }

    #[test]
    fn a_refusal_whose_repo_cannot_be_read_has_no_receipt() {
        for body in [
            b"not json".to_vec(),
            b"[1, 2]".to_vec(),
            with(&["trusted", "verified_repo"], "not a repo".into()),
            with(&["trusted"], serde_json::Value::Null),
        ] {
            let (refusal, attempt) = attempt_of(&body);
            assert_eq!(
                build_receipt(&refusal, &attempt, id(), at()),
                None,
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
        // Answered before the body is read: nothing names the repo.
        let nothing = Attempt::default();
        for refusal in [
            Refusal::UnsupportedMediaType,
            Refusal::TooLarge { limit: 1 },
            Refusal::BodyReadTimeout { timeout_ms: 1 },
        ] {
            assert_eq!(build_receipt(&refusal, &nothing, id(), at()), None);
        }
    }

    #[test]
    fn an_unauthenticated_request_never_has_a_receipt_whatever_it_names() {
        let body = COMPLETED.as_bytes();
        let callback = crate::callback::validate_callback(body, &Limits::default()).ok();
        let attempt = Attempt {
            received_at: Some(at()),
            identity: Identity {
                verified_repo: callback.as_ref().map(|c| c.verified_repo().clone()),
                ..Identity::default()
            },
            ..Attempt::default()
        };
        assert!(attempt.identity.verified_repo.is_some());
        let refusal = Refusal::Unauthorized {
            header: "x-hud-internal-bot",
        };
        assert_eq!(build_receipt(&refusal, &attempt, id(), at()), None);
    }

    fn known(body: &[u8]) -> Attempt {
        let callback = crate::callback::validate_callback_at(body, &Limits::default(), at())
            .unwrap_or_else(|e| panic!("valid: {e}"));
        Attempt {
            received_at: Some(at()),
            identity: Identity {
                verified_repo: Some(callback.verified_repo().clone()),
                delivery_id: Some(callback.delivery_id().clone()),
                job_key: Some(callback.job_key().clone()),
            },
            body_bytes: Some(body.len()),
            excerpt: None,
        }
    }

    #[test]
    fn a_rate_limited_callback_names_its_job_and_when_to_retry() {
        let refusal = Refusal::RateLimited {
            repo: "intel/torch-xpu-ops".into(),
            limit: 600,
            window_secs: 60,
            retry_after_secs: 7,
        };
        let receipt = receipt_of(&refusal, &known(COMPLETED.as_bytes()));
        assert_eq!(
            (
                receipt.outcome.as_str(),
                receipt.status,
                receipt.error.as_str()
            ),
            ("rate_limited", 429, "rate_limited")
        );
        assert_eq!(receipt.retry_after_seconds, Some(7));
        assert_eq!(receipt.job_key.as_deref(), Some(JOB_KEY));
        assert!(
            receipt.message.contains("600 callbacks per 60 s"),
            "{}",
            receipt.message
        );
        assert!(receipt.problems.is_empty() && receipt.body_excerpt.is_none());
    }

    #[test]
    fn a_log_outage_and_an_encoding_bug_are_receipts_too() {
        let attempt = known(COMPLETED.as_bytes());
        let unavailable = receipt_of(
            &Refusal::LogUnavailable {
                retry_after_secs: 5,
            },
            &attempt,
        );
        assert_eq!(
            (unavailable.outcome.as_str(), unavailable.status),
            ("log_unavailable", 503)
        );
        assert_eq!(unavailable.retry_after_seconds, Some(5));
        let internal = receipt_of(&Refusal::Internal, &attempt);
        assert_eq!(
            (internal.outcome.as_str(), internal.status),
            ("internal", 500)
        );
    }

    #[test]
    fn every_refusal_but_unauthorized_is_an_outcome_of_the_contract() {
        let reasons: Vec<&str> = Refusal::REASONS
            .into_iter()
            .filter(|r| *r != "unauthorized")
            .collect();
        let mut listed = REFUSED_OUTCOMES.to_vec();
        listed.sort_unstable();
        let mut reasons_sorted = reasons.clone();
        reasons_sorted.sort_unstable();
        assert_eq!(reasons_sorted, listed);
    }

    #[test]
    fn the_excerpt_is_cut_on_a_utf8_boundary_and_never_longer_than_asked() {
        // 'é' is 2 bytes, '✓' 3: the cut falls inside the character at 1024.
        let body = format!("{}é✓ and more", "a".repeat(1023));
        let cut = excerpt(body.as_bytes(), EXCERPT_BYTES);
        assert_eq!(cut, "a".repeat(1023), "the split 'é' is left out whole");
        let body = format!("{}✓", "a".repeat(1022));
        assert_eq!(excerpt(body.as_bytes(), EXCERPT_BYTES), "a".repeat(1022));
        let body = format!("{}✓", "a".repeat(1021));
        assert_eq!(
            excerpt(body.as_bytes(), EXCERPT_BYTES),
            body,
            "fits exactly"
        );
        // Short bodies are kept whole.
        assert_eq!(excerpt(b"{\"a\": 1}", EXCERPT_BYTES), "{\"a\": 1}");
        // Bytes that are not UTF-8 are replaced, and the replacements do not make it longer.
        let mut bad = vec![b'{'];
        bad.extend(std::iter::repeat_n(0xFF_u8, 2000));
        let cut = excerpt(&bad, EXCERPT_BYTES);
        assert!(cut.len() <= EXCERPT_BYTES, "{}", cut.len());
        assert!(cut.starts_with("{\u{FFFD}"), "{cut}");
    }

    #[test]
    fn a_long_message_is_cut_and_marked() {
        let long = "x".repeat(5000);
        let cut = bounded(long, MESSAGE_BYTES);
        assert!(cut.len() <= MESSAGE_BYTES && cut.ends_with('…'));
        assert_eq!(bounded("short".into(), MESSAGE_BYTES), "short");
    }

    #[test]
    fn the_problems_of_a_document_with_thousands_of_errors_stay_bounded() {
        let mut doc: serde_json::Value = serde_json::from_str(COMPLETED).unwrap_or_default();
        let bad: Vec<serde_json::Value> =
            (0..5000).map(|_| serde_json::json!({"name": 5})).collect();
        doc["untrusted"]["callback_payload"]["workflow"]["failed_tests"] = bad.into();
        let body = serde_json::to_vec(&doc).unwrap_or_default();
        let (refusal, attempt) = attempt_of(&body);
        let receipt = receipt_of(&refusal, &attempt);
        assert_eq!(
            receipt.problems.len(),
            oot_contract::limits::MAX_PROBLEMS_LISTED
        );
        assert_eq!(receipt.problems_total, 5000);
        let Refusal::Invalid(ValidationError::Invalid { .. }) = refusal else {
            panic!("invalid");
        };
    }
}
