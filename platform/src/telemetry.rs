//! Logs and traces, set up the same way by every service and by the tests.
//!
//! Logs go to stderr through `tracing-subscriber` (`RUST_LOG` filters them, `OOT_LOG_FORMAT=json`
//! makes them structured). Spans are also OpenTelemetry spans (`tracing-opentelemetry`): they get
//! W3C trace ids that travel in Kafka headers from ingest to the projector, and are exported over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;

const TRACED_SPANS: &str =
    "warn,oot_ingest=info,oot_projector=info,oot_query=info,oot_platform=info,tower_http=info";

/// Flushes the spans still buffered when dropped, so the last requests before a shutdown are
/// not lost. Keep it alive for the whole of `main`.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("telemetry: spans not flushed at shutdown: {error}");
        }
    }
}

/// Installs the global subscriber and propagator. Logs are filtered by `RUST_LOG`, or by
/// `default_filter` (e.g. `"info"`) when it is unset.
pub fn init_telemetry(
    service_name: &'static str,
    default_filter: &str,
) -> anyhow::Result<TelemetryGuard> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| default_filter.to_owned());
    init_telemetry_with_filter(service_name, &filter)
}

/// [`init_telemetry`] with the log filter given (tests pass theirs).
pub fn init_telemetry_with_filter(
    service_name: &'static str,
    log_filter: &str,
) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name)
        .build();
    let mut builder = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
        // The exporter reads its endpoint, headers and timeout from the standard OTEL_* variables.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    // Spans are traced whatever the log level, so trace context reaches Kafka headers even when
    // logs are quiet; only the project's own spans (and the HTTP layer's) are worth a trace.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name))
        .with_filter(EnvFilter::new(TRACED_SPANS));

    let log_filter = EnvFilter::try_new(log_filter)?;
    let json = std::env::var("OOT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let registry = tracing_subscriber::registry().with(otel_layer);
    if json {
        let logs = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr);
        registry.with(logs.with_filter(log_filter)).try_init()?;
    } else {
        let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        registry.with(logs.with_filter(log_filter)).try_init()?;
    }
    Ok(TelemetryGuard { provider })
}

/// Reads W3C trace context from HTTP headers.
struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl opentelemetry::propagation::Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The span of one HTTP request, continuing the caller's trace when it sent `traceparent`
/// (for tower-http's `TraceLayer::make_span_with`).
pub fn http_request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let span = tracing::info_span!("http_request", method = %request.method(), path = %request.uri().path());
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Fails only when the span is disabled (filtered out); then there is nothing to continue.
    let _ = span.set_parent(parent);
    span
}
