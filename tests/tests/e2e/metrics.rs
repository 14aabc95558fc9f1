//! `/metrics` of ingest and of the query service against the real stack: requests counted by
//! route template (never the raw path) and status, refusals by reason, the producer's queue;
//! and the backend view of a backend whose failed jobs' keys would not fit one ClickHouse query.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use oot_contract::{Conclusion, RepoLevel};
use oot_e2e::callbacks::{ago, repo, sample, upstream_pr, Job};
use oot_e2e::fixtures::COMPLETED;
use oot_e2e::{
    ingest_config, query_config, seed_views, TestIngest, TestQuery, TestStores, TEST_TOKENS,
};
use serde_json::Value;

/// GETs `{base_url}/metrics`: it answers 200 in the OpenMetrics text format.
async fn scrape(client: &reqwest::Client, base_url: &str) -> String {
    let response = client
        .get(format!("{base_url}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// The value of the sample `series` (name and labels, exactly as rendered), if present.
fn sample_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

fn assert_sample(text: &str, series: &str, expected: f64) {
    assert_eq!(
        sample_value(text, series),
        Some(expected),
        "{series}\n{text}"
    );
}

#[tokio::test]
async fn ingest_metrics_count_requests_by_route_and_status_and_refusals_by_reason() {
    let stores = TestStores::unique("metrics_ingest");
    let ingest = TestIngest::spawn(ingest_config(&stores.settings))
        .await
        .unwrap();
    let before = scrape(&ingest.client, &ingest.base_url).await;
    for reason in [
        "unauthorized",
        "invalid",
        "too_large",
        "rate_limited",
        "log_unavailable",
    ] {
        assert_sample(
            &before,
            &format!(r#"oot_ingest_refused_total{{reason="{reason}"}}"#),
            0.0,
        );
    }
    assert!(
        sample_value(&before, "oot_ingest_producer_queue").is_some(),
        "{before}"
    );

    assert_eq!(ingest.post_callback(COMPLETED).await.status(), 202);
    let wrong_token = ingest.post_with_token(COMPLETED, Some("not-a-token")).await;
    assert_eq!(wrong_token.status(), 401);
    // A JSON object missing every field of the contract.
    assert_eq!(ingest.post_callback("{}").await.status(), 400);
    for path in ["/api/oot/openapi.yaml", "/healthz", "/no/such/path/12345"] {
        ingest
            .client
            .get(format!("{}{path}", ingest.base_url))
            .send()
            .await
            .unwrap();
    }

    let text = scrape(&ingest.client, &ingest.base_url).await;
    let requests = |route: &str, method: &str, status: u16| {
        format!(
            r#"oot_http_requests_total{{service="ingest",route="{route}",method="{method}",status="{status}"}}"#
        )
    };
    assert_sample(&text, &requests("/api/oot/results", "POST", 202), 1.0);
    assert_sample(&text, &requests("/api/oot/results", "POST", 401), 1.0);
    assert_sample(&text, &requests("/api/oot/results", "POST", 400), 1.0);
    assert_sample(&text, &requests("/api/oot/openapi.yaml", "GET", 200), 1.0);
    assert_sample(&text, &requests("/healthz", "GET", 200), 1.0);
    assert_sample(&text, &requests("unmatched", "GET", 404), 1.0);
    assert_sample(&text, &requests("/metrics", "GET", 200), 1.0);
    assert_sample(
        &text,
        r#"oot_http_request_duration_seconds_count{service="ingest",route="/api/oot/results"}"#,
        3.0,
    );
    // The scrape itself is the one request in flight.
    assert_sample(
        &text,
        r#"oot_http_requests_in_flight{service="ingest"}"#,
        1.0,
    );
    assert_sample(
        &text,
        r#"oot_ingest_refused_total{reason="unauthorized"}"#,
        1.0,
    );
    assert_sample(&text, r#"oot_ingest_refused_total{reason="invalid"}"#, 1.0);
    assert_sample(
        &text,
        r#"oot_ingest_refused_total{reason="rate_limited"}"#,
        0.0,
    );
    // Delivered events leave the queue: the 202 came after the broker's acknowledgement.
    assert_sample(&text, "oot_ingest_producer_queue", 0.0);
    assert!(
        !text.contains("12345"),
        "a raw path became a label:\n{text}"
    );
    assert!(!text.contains(TEST_TOKENS[0]), "{text}");
}

#[tokio::test]
async fn query_metrics_count_requests_by_route_template_and_status() {
    let stores = TestStores::unique("metrics_query");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .unwrap();
    for (path, status) in [
        ("/api/oot/summary?window=7d", 200),
        ("/api/oot/summary?window=1y", 400),
        ("/api/oot/secret-org/secret-repo?window=7d", 200),
        ("/api/oot/other-org/other-repo", 200),
        ("/api/oot/pr/123456?upstream_repo=pytorch/pytorch", 200),
        ("/oot/secret-org/secret-repo", 200),
    ] {
        assert_eq!(query.get(path).await.0, status, "{path}");
    }

    let text = scrape(&query.client, &query.base_url).await;
    let requests = |route: &str, status: u16| {
        format!(
            r#"oot_http_requests_total{{service="query",route="{route}",method="GET",status="{status}"}}"#
        )
    };
    assert_sample(&text, &requests("/api/oot/summary", 200), 1.0);
    assert_sample(&text, &requests("/api/oot/summary", 400), 1.0);
    assert_sample(&text, &requests("/api/oot/{org}/{repo}", 200), 2.0);
    assert_sample(&text, &requests("/api/oot/pr/{number}", 200), 1.0);
    assert_sample(&text, &requests("/oot/{org}/{repo}", 200), 1.0);
    assert_sample(
        &text,
        r#"oot_http_request_duration_seconds_count{service="query",route="/api/oot/{org}/{repo}"}"#,
        2.0,
    );
    assert!(
        text.contains(r#"oot_http_request_duration_seconds_bucket{le="0.001",service="query",route="/api/oot/summary"}"#)
            || text.contains(r#"oot_http_request_duration_seconds_bucket{service="query",route="/api/oot/summary",le="0.001"}"#),
        "{text}"
    );
    assert_sample(
        &text,
        r#"oot_http_requests_in_flight{service="query"}"#,
        1.0,
    );
    for raw in ["secret-org", "other-repo", "123456"] {
        assert!(!text.contains(raw), "a raw path became a label:\n{text}");
    }
}

/// ClickHouse's default `max_query_size`: a query whose text is longer is refused.
const MAX_QUERY_SIZE: usize = 256 * 1024;

/// A broken backend with many failed jobs whose names are long: the keys of its failed jobs,
/// as one array literal, are longer than ClickHouse accepts in one query. Its view answers 200
/// with every failed job's tests, as JSON and as a page.
#[tokio::test]
async fn a_backend_whose_failed_keys_exceed_one_query_still_gets_its_view() {
    const REPO: &str = "broken/long-names";
    const FAILED_JOBS: u64 = 700;
    let jobs: Vec<Job> = (0..FAILED_JOBS)
        .map(|i| Job {
            repo: repo(REPO),
            level: RepoLevel::L3,
            trigger: upstream_pr(910_001),
            delivery_id: "d-910001".to_owned(),
            workflow: "ci".to_owned(),
            // 400 bytes, distinct: each is its own column of the one PR row.
            job_name: format!("test (shard {i:04}) {}", "x".repeat(382)),
            run_id: 9_100,
            run_attempt: 1,
            check_run_id: 91_000 + i,
        })
        .collect();
    assert_eq!(jobs[0].job_name.len(), 400);
    let literal_bytes: usize = jobs
        .iter()
        .map(|j| j.key().unwrap().as_str().len() + 3)
        .sum();
    assert!(literal_bytes > MAX_QUERY_SIZE, "{literal_bytes}");
    let callbacks: Vec<Value> = jobs
        .iter()
        .map(|job| {
            job.completed(Conclusion::Failure, ago(600), Some(60.0))
                .with_tests(
                    sample::completed().test_results.unwrap(),
                    sample::failed_tests(),
                )
                .to_json()
        })
        .collect();
    let seeded = seed_views("metrics_chunks", &[callbacks], &[])
        .await
        .unwrap();

    let (status, _, view) = seeded
        .query
        .get(&format!("/api/oot/{REPO}?window=24h"))
        .await;
    assert_eq!(status, 200, "{view}");
    let failures = view["failures"].as_array().unwrap();
    assert_eq!(failures.len() as u64, FAILED_JOBS);
    for failure in failures {
        let names: Vec<&str> = failure["failed_tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "test_matmul_epilogue_bf16",
                "test_conv_backward_channels_last"
            ],
            "{}",
            failure["job_key"]
        );
    }

    let page = seeded
        .query
        .client
        .get(format!("{}/oot/{REPO}?window=24h", seeded.query.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("test_conv_backward_channels_last"));
}
