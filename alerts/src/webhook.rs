//! A webhook delivery (docs/contract.md §17.4): the JSON body of an alert's opening or closing,
//! its signature, its idempotency key, and one POST of it.
//!
//! The body is built once, when the delivery is recorded, and stored with it: every try sends
//! the same bytes, signed as they are, so a receiver can compare two deliveries of one key.

use hmac::{Hmac, KeyInit, Mac};
use oot_contract::alerts::{RunLink, StoredAlert, StoredWebhook};
use serde::Serialize;
use sha2::Sha256;

/// The signature header: `sha256=` and the hex HMAC-SHA256 of the body under the shared secret.
pub const SIGNATURE_HEADER: &str = "X-OOT-Signature";
/// The idempotency header: `{alert id}:{opened|closed}`, the same on every try.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// `{alert id}:{kind}`.
pub fn idempotency_key(alert_id: &str, kind: &str) -> String {
    format!("{alert_id}:{kind}")
}

/// `sha256=` + hex HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail; an empty key still signs.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[derive(Serialize)]
struct Body<'a> {
    alert_id: &'a str,
    /// `opened` or `closed`.
    kind: &'a str,
    idempotency_key: String,
    rule: &'a str,
    backend: &'a str,
    slot: Option<Slot<'a>>,
    summary: &'a str,
    first_failing: Option<&'a RunLink>,
    links: Links<'a>,
    opened_at: Option<String>,
    closed_at: Option<String>,
    closed_because: Option<&'a str>,
}

#[derive(Serialize)]
struct Slot<'a> {
    workflow_name: &'a str,
    job_name: &'a str,
}

#[derive(Serialize)]
struct Links<'a> {
    /// The downstream workflow runs judged, newest first.
    runs: Vec<&'a str>,
    /// The backend's alerts page, when the HUD's address is configured.
    alerts_page: Option<String>,
}

/// RFC 3339 of µs since the epoch.
pub fn rfc3339(micros: i64) -> Option<String> {
    let nanos = i128::from(micros) * 1000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
}

/// The body of `alert`'s `kind` delivery. `hud_url`: the query service's public address.
pub fn body(alert: &StoredAlert, kind: &str, hud_url: Option<&str>) -> String {
    let slot = match (&alert.workflow_name, &alert.job_name) {
        (Some(workflow_name), Some(job_name)) => Some(Slot {
            workflow_name,
            job_name,
        }),
        _ => None,
    };
    let body = Body {
        alert_id: &alert.id,
        kind,
        idempotency_key: idempotency_key(&alert.id, kind),
        rule: &alert.rule,
        backend: &alert.backend,
        slot,
        summary: &alert.summary,
        first_failing: alert.first_failing.as_ref(),
        links: Links {
            runs: alert.runs.iter().map(|r| r.url.as_str()).collect(),
            alerts_page: hud_url
                .map(|hud| format!("{}/oot/{}/alerts", hud.trim_end_matches('/'), alert.backend)),
        },
        opened_at: rfc3339(alert.opened_at),
        closed_at: alert.closed_at.and_then(rfc3339),
        closed_because: alert.closed_because.as_deref(),
    };
    // Plain strings, numbers and options: serializing cannot fail.
    serde_json::to_string(&body).unwrap_or_default()
}

/// The scheme and host of `url` (what the views show: a webhook URL often holds its secret).
pub fn target_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
            (Some(host), None) => format!("{}://{host}", parsed.scheme()),
            _ => parsed.scheme().to_owned(),
        },
        Err(_) => String::new(),
    }
}

/// The outcome of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// A 2xx answer.
    Delivered,
    /// Anything else: the status, or why there was none.
    Failed(String),
}

/// POSTs `webhook`'s body, signed with `secret`.
pub async fn send(client: &reqwest::Client, webhook: &StoredWebhook, secret: &[u8]) -> Tried {
    let answer = client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(secret, webhook.body.as_bytes()))
        .header(
            IDEMPOTENCY_HEADER,
            idempotency_key(&webhook.alert_id, &webhook.kind),
        )
        .body(webhook.body.clone())
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => Tried::Delivered,
        Ok(response) => Tried::Failed(format!("HTTP {}", response.status().as_u16())),
        // Without the URL: it may hold the receiver's secret, and errors are shown.
        Err(error) => Tried::Failed(describe(&error)),
    }
}

fn describe(error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_request() {
        "the request failed"
    } else {
        "no answer"
    };
    what.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        let signed = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            signed,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_body_names_the_backend_the_slot_the_first_failure_and_the_runs() {
        let link = crate::history::tests::link(42, 1, "failure", true);
        let alert = StoredAlert {
            id: "abc".into(),
            rule: "failing_streak".into(),
            backend: "a/b".into(),
            workflow_name: Some("ci".into()),
            job_name: Some("test".into()),
            summary: "red".into(),
            first_failing: Some(link.clone()),
            runs: vec![link],
            opened_at: 1_777_373_112_000_000,
            closed_at: None,
            closed_because: None,
        };
        let text = body(&alert, "opened", Some("https://hud.example/"));
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(json["idempotency_key"], "abc:opened");
        assert_eq!(json["slot"]["job_name"], "test");
        assert_eq!(json["first_failing"]["run_id"], "42");
        assert_eq!(json["links"]["runs"][0], "https://ci.example/runs/42");
        assert_eq!(
            json["links"]["alerts_page"],
            "https://hud.example/oot/a/b/alerts"
        );
        assert_eq!(json["opened_at"], "2026-04-28T10:45:12Z");
        assert_eq!(json["closed_at"], serde_json::Value::Null);
    }

    #[test]
    fn the_target_hides_the_path_and_query() {
        assert_eq!(
            target_of("https://hooks.example/T0/B1/secret?x=1"),
            "https://hooks.example"
        );
        assert_eq!(
            target_of("http://127.0.0.1:9000/hook"),
            "http://127.0.0.1:9000"
        );
    }
}
