//! Sending the outbox: every webhook delivery recorded as pending is POSTed when due, retried
//! with exponential backoff after a failure (`[webhooks]` of the configuration), and recorded
//! as `sent` after a 2xx answer, or `failed` after its last try (shown on the alerts page and
//! counted in `oot_alerts_webhooks_total{result="failed"}`).
//!
//! At least once: the status is written after the answer, so a crash between the two sends the
//! delivery again after a restart, with the same body and `Idempotency-Key`; a delivery whose
//! status `sent` was written is never sent again (the outbox is reloaded from the table, pending
//! deliveries only).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oot_contract::alerts::webhook_state;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::WebhookPolicy;
use crate::metrics::AlertsMetrics;
use crate::store::{AlertStore, OutboxEntry};
use crate::webhook::{send, Tried};

/// The deliveries waiting to be sent, shared by the evaluator (which adds what it recorded) and
/// the dispatcher.
#[derive(Default)]
pub struct Outbox {
    entries: Mutex<Vec<OutboxEntry>>,
    added: Notify,
}

impl Outbox {
    pub fn add(&self, entries: Vec<OutboxEntry>) {
        if entries.is_empty() {
            return;
        }
        if let Ok(mut held) = self.entries.lock() {
            for entry in entries {
                // A delivery already held (reloaded, then recorded again) is held once.
                if !held.iter().any(|e| e.sk == entry.sk && e.pk == entry.pk) {
                    held.push(entry);
                }
            }
        }
        self.added.notify_one();
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn due(&self, now: i64) -> Vec<OutboxEntry> {
        self.entries
            .lock()
            .map(|e| {
                e.iter()
                    .filter(|e| e.webhook.next_attempt_at <= now)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn next_due(&self) -> Option<i64> {
        self.entries
            .lock()
            .ok()
            .and_then(|e| e.iter().map(|e| e.webhook.next_attempt_at).min())
    }

    /// Replaces the held entry by `entry`, or drops it once it is settled.
    fn update(&self, entry: OutboxEntry) {
        if let Ok(mut held) = self.entries.lock() {
            held.retain(|e| !(e.sk == entry.sk && e.pk == entry.pk));
            if entry.webhook.state == webhook_state::PENDING {
                held.push(entry);
            }
        }
    }
}

/// µs since the epoch, the wall clock.
pub fn now_micros() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// `entry` after a try at `now` that ended in `tried`.
pub fn after_try(
    mut entry: OutboxEntry,
    tried: &Tried,
    now: i64,
    policy: &WebhookPolicy,
) -> OutboxEntry {
    let webhook = &mut entry.webhook;
    webhook.attempts = webhook.attempts.saturating_add(1);
    webhook.last_attempt_at = Some(now);
    match tried {
        Tried::Delivered => {
            webhook.state = webhook_state::SENT.to_owned();
            webhook.sent_at = Some(now);
        }
        Tried::Failed(error) => {
            webhook.last_error = Some(error.clone());
            if webhook.attempts >= policy.max_attempts {
                webhook.state = webhook_state::FAILED.to_owned();
            } else {
                let wait = i64::try_from(policy.backoff_ms(webhook.attempts)).unwrap_or(i64::MAX);
                webhook.next_attempt_at = now.saturating_add(wait.saturating_mul(1000));
            }
        }
    }
    entry
}

/// Sends what is due until `shutdown`.
pub async fn run(
    outbox: Arc<Outbox>,
    store: AlertStore,
    policy: WebhookPolicy,
    secret: SecretString,
    metrics: AlertsMetrics,
    shutdown: CancellationToken,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_millis(policy.timeout_ms))
        // A redirect would send the signed body somewhere not configured.
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; no webhook is sent");
            return;
        }
    };
    while !shutdown.is_cancelled() {
        let now = now_micros();
        let due = outbox.due(now);
        let tries = due.into_iter().map(|entry| {
            let client = &client;
            let secret = &secret;
            async move {
                let tried = send(client, &entry.webhook, secret.expose_secret().as_bytes()).await;
                (entry, tried)
            }
        });
        for (entry, tried) in futures::future::join_all(tries).await {
            let entry = after_try(entry, &tried, now_micros(), &policy);
            let result = match (&tried, entry.webhook.state.as_str()) {
                (Tried::Delivered, _) => "sent",
                (_, webhook_state::FAILED) => "failed",
                _ => "retried",
            };
            match &tried {
                Tried::Delivered => {
                    tracing::info!(alert = %entry.webhook.alert_id, kind = %entry.webhook.kind, target = %entry.webhook.target, "webhook delivered")
                }
                Tried::Failed(error) if result == "failed" => {
                    tracing::error!(alert = %entry.webhook.alert_id, kind = %entry.webhook.kind, target = %entry.webhook.target, attempts = entry.webhook.attempts, %error, "webhook given up after its last try")
                }
                Tried::Failed(error) => {
                    tracing::warn!(alert = %entry.webhook.alert_id, kind = %entry.webhook.kind, target = %entry.webhook.target, attempts = entry.webhook.attempts, %error, "webhook failed; will retry")
                }
            }
            if !save(&store, &entry, &shutdown).await {
                return;
            }
            metrics.count_webhook(result);
            outbox.update(entry);
        }
        metrics
            .outbox
            .set(i64::try_from(outbox.len()).unwrap_or(i64::MAX));
        let wait = outbox.next_due().map_or(Duration::from_secs(60), |at| {
            Duration::from_micros(u64::try_from(at.saturating_sub(now_micros())).unwrap_or(0))
        });
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = outbox.added.notified() => {}
            () = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
        }
    }
}

/// Writes the delivery's status, retrying until it is written: `false` when stopped first (the
/// delivery stays pending in the table and is tried again after a restart: at least once).
async fn save(store: &AlertStore, entry: &OutboxEntry, shutdown: &CancellationToken) -> bool {
    let mut delay = Duration::from_millis(100);
    loop {
        match store.save_webhook(entry).await {
            // Refused for good (logged): the stored status stays; nothing to wait for.
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), retry_in = ?delay, "webhook status not stored; retrying");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oot_contract::alerts::StoredWebhook;

    fn entry() -> OutboxEntry {
        OutboxEntry {
            pk: "p".into(),
            sk: "s".into(),
            webhook: StoredWebhook {
                alert_id: "a".into(),
                kind: "opened".into(),
                url: "http://127.0.0.1:1/".into(),
                target: "http://127.0.0.1:1".into(),
                state: webhook_state::PENDING.into(),
                attempts: 0,
                next_attempt_at: 0,
                last_attempt_at: None,
                last_error: None,
                sent_at: None,
                body: "{}".into(),
            },
            expires_at: None,
        }
    }

    #[test]
    fn failures_back_off_then_give_up_visibly() {
        let policy = WebhookPolicy {
            max_attempts: 3,
            first_retry_ms: 10,
            max_retry_ms: 1000,
            timeout_ms: 1000,
        };
        let failed = Tried::Failed("HTTP 500".into());
        let once = after_try(entry(), &failed, 1_000, &policy);
        assert_eq!(
            (once.webhook.state.as_str(), once.webhook.next_attempt_at),
            ("pending", 11_000)
        );
        let twice = after_try(once, &failed, 2_000, &policy);
        assert_eq!(twice.webhook.next_attempt_at, 22_000);
        let thrice = after_try(twice, &failed, 3_000, &policy);
        assert_eq!(thrice.webhook.state, "failed");
        assert_eq!(thrice.webhook.last_error.as_deref(), Some("HTTP 500"));
        let sent = after_try(entry(), &Tried::Delivered, 5, &policy);
        assert_eq!(
            (sent.webhook.state.as_str(), sent.webhook.sent_at),
            ("sent", Some(5))
        );
    }

    #[test]
    fn a_settled_delivery_leaves_the_outbox() {
        let outbox = Outbox::default();
        outbox.add(vec![entry(), entry()]);
        assert_eq!(outbox.len(), 1, "held once");
        let sent = after_try(entry(), &Tried::Delivered, 5, &WebhookPolicy::default());
        outbox.update(sent);
        assert!(outbox.is_empty());
    }
}
