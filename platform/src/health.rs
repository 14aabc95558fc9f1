//! `/healthz` (the process is alive) and `/readyz` (its dependencies answer), for every service.
//!
//! Readiness runs each dependency's probe concurrently under a short deadline and answers 503
//! naming the ones that failed, so a load balancer stops sending work to an instance whose
//! broker or database is gone, and an operator sees which one.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One dependency and how to ask whether it answers.
#[derive(Clone)]
pub struct Probe {
    name: &'static str,
    check: Arc<dyn Fn() -> ProbeFuture + Send + Sync>,
}

impl Probe {
    pub fn new<F, Fut>(name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self {
            name,
            check: Arc::new(move || Box::pin(check())),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The dependencies a service needs to do its work.
#[derive(Clone, Default)]
pub struct Readiness {
    probes: Vec<Probe>,
}

/// Each probe's answer: `None` when it is ready, the reason otherwise.
pub type ReadinessReport = Vec<(&'static str, Option<String>)>;

const PROBE_DEADLINE: Duration = Duration::from_secs(3);

impl Readiness {
    pub fn new(probes: Vec<Probe>) -> Self {
        Self { probes }
    }

    /// Asks every dependency at once.
    pub async fn check(&self) -> ReadinessReport {
        let answers = self.probes.iter().map(|probe| async move {
            let outcome = match tokio::time::timeout(PROBE_DEADLINE, (probe.check)()).await {
                Ok(Ok(())) => None,
                Ok(Err(reason)) => Some(reason),
                Err(_) => Some(format!("no answer within {}s", PROBE_DEADLINE.as_secs())),
            };
            (probe.name, outcome)
        });
        futures::future::join_all(answers).await
    }
}

/// Routes `/healthz` and `/readyz`; merge them into the service's router.
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({"status": "alive"})) }),
        )
        .route("/readyz", get(readyz))
        .with_state(readiness)
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, Json<Value>) {
    let report = readiness.check().await;
    let ready = report.iter().all(|(_, failure)| failure.is_none());
    let dependencies: serde_json::Map<String, Value> = report
        .into_iter()
        .map(|(name, failure)| {
            let answer = match failure {
                None => json!({"ready": true}),
                Some(reason) => json!({"ready": false, "error": reason}),
            };
            (name.to_owned(), answer)
        })
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"ready": ready, "dependencies": dependencies})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_names_the_dependency_that_failed() {
        let readiness = Readiness::new(vec![
            Probe::new("kafka", || async { Ok(()) }),
            Probe::new("clickhouse", || async {
                Err("connection refused".to_owned())
            }),
        ]);
        let (status, Json(body)) = readyz(State(readiness)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["dependencies"]["kafka"]["ready"], true);
        assert_eq!(
            body["dependencies"]["clickhouse"]["error"],
            "connection refused"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_hangs_is_reported_not_waited_for() {
        let readiness = Readiness::new(vec![Probe::new("dynamodb", std::future::pending)]);
        let report = readiness.check().await;
        assert!(report[0]
            .1
            .as_deref()
            .is_some_and(|r| r.contains("no answer")));
    }

    #[tokio::test]
    async fn ready_when_every_dependency_answers() {
        let readiness = Readiness::new(vec![Probe::new("kafka", || async { Ok(()) })]);
        let (status, _) = readyz(State(readiness)).await;
        assert_eq!(status, StatusCode::OK);
    }
}
