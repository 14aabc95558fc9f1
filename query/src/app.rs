//! Building the query service and running it until stopped: `build` binds and prepares the two
//! tables (idempotently, so the service can start before the projector) and routes the health
//! checks, the views' JSON endpoints and their pages, and `/metrics` (requests by route and
//! status, latency, in flight); `run_until_stopped` serves.

use std::sync::Arc;

use anyhow::Context as _;
use oot_platform::health::{health_routes, Readiness};
use oot_platform::http_metrics::prometheus_client::registry::Registry;
use oot_platform::http_metrics::{metrics_routes, HttpMetrics};
use oot_platform::migrate;
use oot_platform::probes::{clickhouse_probe, dynamo_probe};
use oot_platform::shutdown::serve_until_cancelled;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Stores};
use crate::config::QueryConfig;
use crate::pages;
use crate::stores::STORE_TIMEOUT;

pub struct Application {
    listener: tokio::net::TcpListener,
    router: axum::Router,
}

/// `routes` served `max` requests at a time, all routes together; more wait for a turn (one
/// semaphore shared by every route: `Router::layer` wraps each route on its own, and a plain
/// concurrency limit would give each route its own `max`).
fn at_most_at_once(routes: axum::Router, max: usize) -> axum::Router {
    routes.layer(tower::limit::GlobalConcurrencyLimitLayer::new(max))
}

/// The views, `max_views` at a time, beside the failing tests, `max_failing_tests` at a time
/// under a limit of their own: a request may wait seconds for its backend's answer to be
/// computed (one computation at a time by default, `crate::kept`), and that wait may not hold
/// up the other views.
fn views_under_limits(
    views: axum::Router,
    max_views: usize,
    failing_tests: axum::Router,
    max_failing_tests: usize,
) -> axum::Router {
    at_most_at_once(views, max_views).merge(at_most_at_once(failing_tests, max_failing_tests))
}

impl Application {
    pub async fn build(config: QueryConfig) -> anyhow::Result<Self> {
        config.dynamo.validate()?;
        config.clickhouse.validate()?;
        let thresholds = match &config.readiness_thresholds {
            Some(path) => oot_readiness::Thresholds::load(path)?,
            None => oot_readiness::Thresholds::default(),
        };
        let dynamo = config.dynamo.client().await;
        let clickhouse = config.clickhouse.client();
        migrate::ensure_job_table(&dynamo, &config.dynamo).await?;
        migrate::ensure_clickhouse(&clickhouse, &config.clickhouse).await?;
        let readiness = Readiness::new(vec![
            dynamo_probe(dynamo.clone(), &config.dynamo),
            clickhouse_probe(clickhouse.clone(), &config.clickhouse),
        ]);
        let timeout = STORE_TIMEOUT;
        let stores = Arc::new(
            Stores::connect(&config.clickhouse, dynamo, &config.dynamo.table, timeout)
                .with_thresholds(thresholds)
                .with_failing_tests_kept(
                    std::time::Duration::from_secs(config.failing_tests_fresh_for_s),
                    config.max_concurrent_failing_tests.into(),
                )
                .with_pr_triage_kept(std::time::Duration::from_secs(config.pr_triage_fresh_for_s)),
        );
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry, "query");
        let views = api::routes(stores.clone()).merge(pages::routes(stores.clone()));
        let failing_tests =
            api::failing_tests_routes(stores.clone()).merge(pages::failing_tests_routes(stores));
        let router = health_routes(readiness)
            .merge(views_under_limits(
                views,
                config.max_concurrent_views.into(),
                failing_tests,
                config.max_concurrent_views.into(),
            ))
            .merge(metrics_routes(Arc::new(registry)));
        Ok(Self {
            listener,
            // After every route, so each request is recorded under its matched route.
            router: metrics.instrument(router),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = ?self.listener.local_addr().ok(), "query service listening");
        serve_until_cancelled(self.listener, self.router, shutdown).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tokio::sync::Notify;
    use tower::ServiceExt as _;

    use super::*;

    fn get_request(path: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .body(Body::empty())
            .expect("a request")
    }

    /// What the handlers share: how many have started, and the signal each waits for to answer.
    #[derive(Default)]
    struct Handlers {
        started: AtomicUsize,
        release: Notify,
    }

    /// Two view routes, limited to `max` at a time, whose handlers count their start and answer
    /// when released; beside them a health route outside the limit.
    fn limited(handlers: Arc<Handlers>, max: usize) -> axum::Router {
        let handler = |h: Arc<Handlers>| {
            move || async move {
                h.started.fetch_add(1, Ordering::SeqCst);
                h.release.notified().await;
            }
        };
        let views = axum::Router::new()
            .route("/a", get(handler(handlers.clone())))
            .route("/b", get(handler(handlers)));
        axum::Router::new()
            .route("/health", get(|| async { "ok" }))
            .merge(at_most_at_once(views, max))
    }

    /// Sends `/a` then `/b` and returns how many handlers had started 200 ms later.
    async fn started_of_two(max: usize) -> usize {
        let handlers = Arc::new(Handlers::default());
        let router = limited(handlers.clone(), max);
        let _first = tokio::spawn(router.clone().oneshot(get_request("/a")));
        let _second = tokio::spawn(router.oneshot(get_request("/b")));
        tokio::time::sleep(Duration::from_millis(200)).await;
        handlers.started.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn the_limit_is_shared_by_every_view_route() {
        // A limit of one per route would let both start.
        assert_eq!(started_of_two(1).await, 1);
        assert_eq!(started_of_two(2).await, 2);
    }

    #[tokio::test]
    async fn a_view_beyond_the_limit_waits_for_a_turn_and_health_checks_do_not() {
        let handlers = Arc::new(Handlers::default());
        let router = limited(handlers.clone(), 1);
        let first = tokio::spawn(router.clone().oneshot(get_request("/a")));
        let second = tokio::spawn(router.clone().oneshot(get_request("/b")));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(handlers.started.load(Ordering::SeqCst), 1);

        let health = tokio::time::timeout(
            Duration::from_secs(5),
            router.clone().oneshot(get_request("/health")),
        )
        .await
        .expect("the health check waits for no turn")
        .expect("infallible");
        assert_eq!(health.status(), StatusCode::OK);

        // The first answers; the second gets the turn, starts, and answers once released.
        handlers.release.notify_one();
        let answered = first.await.expect("joined").expect("infallible");
        assert_eq!(answered.status(), StatusCode::OK);
        handlers.release.notify_one();
        let answered = tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("the second is served once the first is done")
            .expect("joined")
            .expect("infallible");
        assert_eq!(answered.status(), StatusCode::OK);
        assert_eq!(handlers.started.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn failing_tests_waiting_for_their_turn_hold_up_no_other_view() {
        let heavy = Arc::new(Handlers::default());
        let light = Arc::new(Handlers::default());
        let handler = |h: Arc<Handlers>| {
            move || async move {
                h.started.fetch_add(1, Ordering::SeqCst);
                h.release.notified().await;
            }
        };
        let router = views_under_limits(
            axum::Router::new().route("/view", get(handler(light.clone()))),
            1,
            axum::Router::new().route("/tests", get(handler(heavy.clone()))),
            1,
        );
        let _running = tokio::spawn(router.clone().oneshot(get_request("/tests")));
        let _waiting = tokio::spawn(router.clone().oneshot(get_request("/tests")));
        let view = tokio::spawn(router.oneshot(get_request("/view")));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(heavy.started.load(Ordering::SeqCst), 1, "one at a time");
        assert_eq!(
            light.started.load(Ordering::SeqCst),
            1,
            "the view did not wait"
        );
        light.release.notify_one();
        let answered = tokio::time::timeout(Duration::from_secs(5), view)
            .await
            .expect("answered while the failing tests wait")
            .expect("joined")
            .expect("infallible");
        assert_eq!(answered.status(), StatusCode::OK);
    }
}
