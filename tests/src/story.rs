//! A story of callbacks, each at its own time in the past, posted through ingest (whose test
//! clock is moved back to each one's time, since ingest stamps `first_seen_at` itself),
//! projected, then a query service over the stores: how the triage tests set up a backend's
//! history of nightlies and PRs.

use std::time::Duration;

use crate::{
    eventually, ingest_config, projector_config, query_config, TestClock, TestIngest,
    TestProjector, TestQuery, TestStores,
};

/// The services of a seeded story, kept running while the test reads.
pub struct Seeded {
    pub stores: TestStores,
    pub ingest: TestIngest,
    pub projector: TestProjector,
    pub query: TestQuery,
}

/// Posts `story` in order, each entry `ago(entry)` seconds before now with the body
/// `body(entry, at)` (`at`: ingest's time for it), waits until the projector has projected
/// every one, and starts a query service.
pub async fn seed<S>(
    prefix: &str,
    story: &[S],
    ago: impl Fn(&S) -> i64,
    body: impl Fn(&S, time::OffsetDateTime) -> String,
) -> Seeded {
    let stores = TestStores::unique(prefix);
    let clock = TestClock::default();
    let ingest = TestIngest::spawn_with_clock(ingest_config(&stores.settings), clock.clock())
        .await
        .expect("ingest starts");
    let projector = TestProjector::spawn(projector_config(&stores.settings))
        .await
        .expect("the projector starts");
    let mut offset = 0;
    for entry in story {
        clock.advance(-ago(entry) - offset);
        offset = -ago(entry);
        let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset);
        let response = ingest.post_callback(body(entry, at)).await;
        let status = response.status().as_u16();
        assert_eq!(status, 202, "{}", response.text().await.unwrap_or_default());
    }
    eventually(
        Duration::from_secs(60),
        "the projector projects every event",
        || async { projector.metrics.events.get() >= story.len() as u64 },
    )
    .await
    .expect("every event projected");
    let query = TestQuery::spawn(query_config(&stores.settings))
        .await
        .expect("the query service starts");
    Seeded {
        stores,
        ingest,
        projector,
        query,
    }
}

/// The completed callback of `job` at ingest's time `at` (started a minute before, 600 s of
/// execution) listing `failed` as (classname, name), with counts covering the list (100 tests):
/// `conclusion`, or by default `failure` when a test failed and `success` when none did.
pub fn completed_listing(
    job: &crate::callbacks::Job,
    conclusion: Option<oot_contract::Conclusion>,
    failed: &[(&str, &str)],
    at: time::OffsetDateTime,
) -> serde_json::Value {
    let failed: Vec<crate::callbacks::FailedTest> = failed
        .iter()
        .map(|(classname, name)| crate::callbacks::FailedTest {
            name: (*name).to_owned(),
            classname: (*classname).to_owned(),
            message: format!("AssertionError in {name}"),
            stacktrace: None,
            duration_s: Some(1.0),
        })
        .collect();
    let count = failed.len() as u64;
    let counts = oot_contract::TestCounts::new(100 - count, count, 0, Some(100))
        .expect("100 tests cover at most 100 failures");
    let conclusion = conclusion.unwrap_or(if failed.is_empty() {
        oot_contract::Conclusion::Success
    } else {
        oot_contract::Conclusion::Failure
    });
    job.completed(conclusion, at - time::Duration::seconds(60), Some(600.0))
        .with_tests(counts, failed)
        .to_json()
}
