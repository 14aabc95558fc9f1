//! The HTTP metrics of every service, and the `/metrics` endpoint that exposes a registry to
//! Prometheus (OpenMetrics text format):
//!
//! - `oot_http_requests_total{service,route,method,status}`: answers given;
//! - `oot_http_request_duration_seconds{service,route}`: time to the response head;
//! - `oot_http_requests_in_flight{service}`: requests being handled now.
//!
//! `route` is the matched path template (`/api/oot/{org}/{repo}`), never the raw path: every
//! label value is a time series held in memory for the life of the process, so a label taken
//! from the URL would let any client grow the process without bound. For the same reason an
//! unmatched path is `unmatched` and a method outside the standard ones is `other`.
//!
//! The metrics are registered in a registry without a prefix (their names are complete); a
//! service adds its own metrics to the same registry and serves it with [`metrics_routes`].

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The metrics library, so every service builds its own metrics with the same version.
pub use prometheus_client;

/// What `/metrics` answers: OpenMetrics text, which Prometheus negotiates and parses natively.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `route` of a request no route matched (a 404): one series for all of them.
pub const UNMATCHED_ROUTE: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    service: &'static str,
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    service: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabels {
    service: &'static str,
}

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// From 1 ms to 30 s: an accepted callback or a page takes milliseconds; a store that does not
/// answer holds a request until its timeout (seconds).
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

/// The HTTP metrics of one service; cheap to clone (every clone records into the same series).
#[derive(Clone)]
pub struct HttpMetrics {
    service: &'static str,
    requests: Family<RequestLabels, Counter>,
    duration: HistogramFamily<RouteLabels>,
    in_flight: Gauge,
}

impl HttpMetrics {
    /// Registers the HTTP metrics of `service` (`ingest`, `query`, ...) in `registry`.
    pub fn register(registry: &mut Registry, service: &'static str) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let in_flight = Family::<ServiceLabels, Gauge>::default();
        registry.register(
            "oot_http_requests",
            "HTTP requests answered, by matched route, method and status",
            requests.clone(),
        );
        registry.register(
            "oot_http_request_duration_seconds",
            "Time from receiving an HTTP request to its response head, by matched route",
            duration.clone(),
        );
        registry.register(
            "oot_http_requests_in_flight",
            "HTTP requests being handled now",
            in_flight.clone(),
        );
        // One series per service, created now so it reads 0 before the first request.
        let in_flight = in_flight.get_or_create(&ServiceLabels { service }).clone();
        Self {
            service,
            requests,
            duration,
            in_flight,
        }
    }

    /// `router` with every request to its routes recorded. Add it after every route (axum
    /// applies a layer to the routes it already has), so the matched path is known.
    pub fn instrument<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), record))
    }

    fn observe(&self, route: String, method: &'static str, status: u16, seconds: f64) {
        self.duration
            .get_or_create(&RouteLabels {
                service: self.service,
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                service: self.service,
                route,
                method,
                status,
            })
            .inc();
    }
}

/// Lowers the in-flight gauge when the request ends, however it ends: a client that hangs up
/// drops the handler's future, and the gauge must not keep counting it.
struct InFlight(Gauge);

impl InFlight {
    fn start(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The `method` label: the standard methods by name, anything else (a client can send any
/// token) as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || UNMATCHED_ROUTE.to_owned(),
        |path| path.as_str().to_owned(),
    );
    let method = method_label(request.method());
    let started = Instant::now();
    let in_flight = InFlight::start(&metrics.in_flight);
    let response = next.run(request).await;
    drop(in_flight);
    metrics.observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `registry` in the OpenMetrics text format.
pub fn render(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail, and a collector that fails leaves what it wrote so far.
    let _ = encode(&mut text, registry);
    text
}

/// `GET /metrics`, rendering `registry` at each scrape.
pub fn metrics_routes<S>(registry: Arc<Registry>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
                    render(&registry),
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    use super::*;

    fn app() -> (Router, Arc<Registry>) {
        let mut registry = Registry::default();
        let metrics = HttpMetrics::register(&mut registry, "test");
        let registry = Arc::new(registry);
        let router = Router::new()
            .route("/items/{id}", get(|| async { "item" }))
            .merge(metrics_routes(registry.clone()));
        (metrics.instrument(router), registry)
    }

    async fn call(router: &Router, method: &str, uri: &str) -> StatusCode {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        router.clone().oneshot(request).await.unwrap().status()
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_method_and_status() {
        let (router, registry) = app();
        assert_eq!(call(&router, "GET", "/items/1").await, StatusCode::OK);
        assert_eq!(call(&router, "GET", "/items/2").await, StatusCode::OK);
        assert_eq!(
            call(&router, "POST", "/items/3").await,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let text = render(&registry);
        assert!(text.contains(
            r#"oot_http_requests_total{service="test",route="/items/{id}",method="GET",status="200"} 2"#
        ), "{text}");
        assert!(text.contains(
            r#"oot_http_requests_total{service="test",route="/items/{id}",method="POST",status="405"} 1"#
        ), "{text}");
        assert!(
            text.contains(
                r#"oot_http_request_duration_seconds_count{service="test",route="/items/{id}"} 3"#
            ),
            "{text}"
        );
        // The raw paths never become label values.
        assert!(!text.contains("/items/1"), "{text}");
        assert!(
            text.contains(r#"oot_http_requests_in_flight{service="test"} 0"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn unmatched_paths_and_odd_methods_share_one_series() {
        let (router, registry) = app();
        for path in ["/nope/1", "/nope/2", "/a/b/c"] {
            call(&router, "GET", path).await;
        }
        call(&router, "BREW", "/items/1").await;
        let text = render(&registry);
        assert!(!text.contains("/nope"), "{text}");
        assert!(text.contains(
            r#"oot_http_requests_total{service="test",route="unmatched",method="GET",status="404"} 3"#
        ), "{text}");
        assert!(text.contains(
            r#"oot_http_requests_total{service="test",route="/items/{id}",method="other",status="405"} 1"#
        ), "{text}");
    }

    #[tokio::test]
    async fn metrics_answers_openmetrics_text() {
        let (router, _) = app();
        let response = router
            .oneshot(
                Request::builder()
                    .uri("/metrics")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            OPENMETRICS_CONTENT_TYPE
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.ends_with("# EOF\n"), "{text}");
        // The scrape is itself a request in flight.
        assert!(
            text.contains(r#"oot_http_requests_in_flight{service="test"} 1"#),
            "{text}"
        );
    }
}
