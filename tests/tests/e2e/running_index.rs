//! Running jobs come from sparse indexes (issue 10): a backend's running jobs are read without
//! reading its history, its running nightlies without its running PR jobs, and `migrate` gives
//! a table made before an index both the index and the keys of its running items.
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use oot_contract::dynamo::{
    attr, RUNNING_NIGHTLY_INDEX, RUNNING_PR_INDEX, RUNNING_REPO_INDEX, RUNNING_VIEW_ATTRIBUTES,
};
use oot_e2e::callbacks::sample;
use oot_e2e::{ingest_config, job_item, read_topic, TestIngest, TestStores};
use oot_platform::migrate::{self, Outcome};
use oot_projector::job_table::JobTable;
use oot_projector::merge::JobRecord;

const COMPLETED: usize = 2_000;
/// Running PR jobs, then running nightlies.
const RUNNING: usize = 3;
const RUNNING_NIGHTLIES: usize = 2;

/// The events ingest makes of the sample's in-progress and completed callbacks.
async fn templates() -> (oot_avro::CallbackEvent, oot_avro::CallbackEvent) {
    let scratch = TestStores::unique("template");
    let ingest = TestIngest::spawn(ingest_config(&scratch.settings))
        .await
        .unwrap();
    for body in [
        sample::in_progress().to_json(),
        sample::completed().to_json(),
    ] {
        let response = ingest.post_callback(body.to_string()).await;
        assert_eq!(response.status().as_u16(), 202);
    }
    let events: Vec<oot_avro::CallbackEvent> = read_topic(&scratch.settings.kafka, 2)
        .await
        .unwrap()
        .iter()
        .map(|m| oot_avro::decode_event(rdkafka::Message::payload(m).unwrap()).unwrap())
        .collect();
    let running = events
        .iter()
        .find(|e| e.workflow.status == "in_progress")
        .unwrap()
        .clone();
    let completed = events
        .iter()
        .find(|e| e.workflow.status == "completed")
        .unwrap()
        .clone();
    (running, completed)
}

/// `template` as job `n`: its own check run, hence its own job key.
fn numbered(template: &oot_avro::CallbackEvent, n: usize) -> JobRecord {
    let mut event = template.clone();
    let (prefix, _) = event.job_key.rsplit_once('/').unwrap();
    event.job_key = format!("{prefix}/{}", 1_000_000 + n);
    event.workflow.check_run_id = (1_000_000 + n).to_string();
    JobRecord::from_event(&event).unwrap()
}

/// Running job `record` merged with its completion, `template` made the job's.
fn completion_of(record: &JobRecord, template: &oot_avro::CallbackEvent) -> JobRecord {
    let mut event = template.clone();
    event.job_key = record.job_key().as_str().to_owned();
    event.workflow.check_run_id = record.view().check_run_id.to_owned();
    record
        .merge(&JobRecord::from_event(&event).unwrap())
        .unwrap()
}

/// The generations of the job table's indexes before this one.
#[derive(Clone, Copy, Debug)]
enum Legacy {
    /// Every job of a PR and of a repo, whole items (before the running-jobs indexes).
    NoRunningIndexes,
    /// Those, and the first running-jobs indexes, whole items too.
    WholeRunningIndexes,
    /// The running-jobs indexes of a repo and of a PR as they are now, without the running
    /// nightlies' (the previous version).
    NoNightlyIndex,
}

/// The job table as it was made by an earlier version.
async fn create_legacy_table(client: &aws_sdk_dynamodb::Client, table: &str, legacy: Legacy) {
    let s = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let index = |name: &str, hash: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(hash, KeyType::Hash))
            .key_schema(key(attr::DYNAMO_KEY, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .unwrap()
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(s(attr::DYNAMO_KEY))
        .key_schema(key(attr::DYNAMO_KEY, KeyType::Hash));
    if let Legacy::NoRunningIndexes | Legacy::WholeRunningIndexes = legacy {
        request = request
            .attribute_definitions(s(attr::UPSTREAM_PR))
            .attribute_definitions(s(attr::DOWNSTREAM_REPO))
            .global_secondary_indexes(index("upstream_pr-index", attr::UPSTREAM_PR))
            .global_secondary_indexes(index("downstream_repo-index", attr::DOWNSTREAM_REPO));
    }
    if let Legacy::WholeRunningIndexes = legacy {
        request = request
            .attribute_definitions(s(attr::RUNNING_REPO))
            .attribute_definitions(s(attr::RUNNING_PR))
            .global_secondary_indexes(index("running_repo-index", attr::RUNNING_REPO))
            .global_secondary_indexes(index("running_pr-index", attr::RUNNING_PR));
    }
    if let Legacy::NoNightlyIndex = legacy {
        let shown = Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(RUNNING_VIEW_ATTRIBUTES.map(str::to_owned).to_vec()))
            .build();
        for (name, hash) in [
            (RUNNING_REPO_INDEX, attr::RUNNING_REPO),
            (RUNNING_PR_INDEX, attr::RUNNING_PR),
        ] {
            request = request
                .attribute_definitions(s(hash))
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(name)
                        .key_schema(key(hash, KeyType::Hash))
                        .key_schema(key(attr::DYNAMO_KEY, KeyType::Range))
                        .projection(shown.clone())
                        .build()
                        .unwrap(),
                );
        }
    }
    request.send().await.unwrap();
}

/// The table's indexes, each with the non-key attributes it projects (`None`: all).
async fn indexes(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> BTreeSet<(String, Option<BTreeSet<String>>)> {
    let answer = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    answer
        .table()
        .unwrap()
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection().unwrap();
            let attributes = match projection.projection_type().unwrap() {
                ProjectionType::All => None,
                _ => Some(projection.non_key_attributes().iter().cloned().collect()),
            };
            (i.index_name().unwrap().to_owned(), attributes)
        })
        .collect()
}

/// The indexes of this version: the three running-jobs indexes, holding what the views show.
fn current_indexes() -> BTreeSet<(String, Option<BTreeSet<String>>)> {
    let shown: BTreeSet<String> = RUNNING_VIEW_ATTRIBUTES.map(str::to_owned).into();
    [RUNNING_REPO_INDEX, RUNNING_PR_INDEX, RUNNING_NIGHTLY_INDEX]
        .into_iter()
        .map(|name| (name.to_owned(), Some(shown.clone())))
        .collect()
}

#[tokio::test]
async fn a_new_table_has_only_the_running_indexes() {
    let stores = TestStores::unique("running");
    let s = &stores.settings;
    let client = s.dynamo.client().await;
    assert_eq!(
        migrate::ensure_job_table(&client, &s.dynamo).await.unwrap(),
        Outcome::Created
    );
    assert_eq!(indexes(&client, &s.dynamo.table).await, current_indexes());
}

#[tokio::test]
async fn a_backends_running_jobs_are_read_without_its_history() {
    upgrade_then_read_running_jobs(Legacy::NoRunningIndexes).await;
}

#[tokio::test]
async fn a_table_with_the_whole_item_running_indexes_is_upgraded() {
    upgrade_then_read_running_jobs(Legacy::WholeRunningIndexes).await;
}

#[tokio::test]
async fn a_table_without_the_running_nightlies_index_is_upgraded() {
    upgrade_then_read_running_jobs(Legacy::NoNightlyIndex).await;
}

async fn upgrade_then_read_running_jobs(legacy: Legacy) {
    let stores = TestStores::unique("running");
    let s = &stores.settings;
    let client = s.dynamo.client().await;
    create_legacy_table(&client, &s.dynamo.table, legacy).await;

    // One backend: 2,000 completed jobs, 3 running PR jobs and 2 running nightlies.
    let (running_template, completed_template) = templates().await;
    let as_nightly = |template: &oot_avro::CallbackEvent| {
        let mut nightly = template.clone();
        nightly.event_type = "nightly".into();
        nightly.pr_number = None;
        nightly
    };
    let nightly_template = as_nightly(&running_template);
    let nightly_completed = as_nightly(&completed_template);
    let table = JobTable::new(client.clone(), s.dynamo.table.clone());
    let completed: Vec<JobRecord> = (0..COMPLETED)
        .map(|n| numbered(&completed_template, n))
        .collect();
    let running: Vec<JobRecord> = (COMPLETED..COMPLETED + RUNNING)
        .map(|n| numbered(&running_template, n))
        .collect();
    let nightlies: Vec<JobRecord> = (COMPLETED + RUNNING..COMPLETED + RUNNING + RUNNING_NIGHTLIES)
        .map(|n| numbered(&nightly_template, n))
        .collect();
    let writes: Vec<(&JobRecord, Option<u64>)> = completed
        .iter()
        .chain(&running)
        .chain(&nightlies)
        .map(|r| (r, None))
        .collect();
    let versions = table.save_all(&writes).await.unwrap();
    assert!(versions.iter().all(Option::is_some), "every job written");

    // Items written before an index lack its key: take the keys of the indexes the legacy
    // version did not have off the running ones.
    let unknown_keys = match legacy {
        Legacy::NoRunningIndexes => "REMOVE #repo, #pr, #nightly",
        Legacy::WholeRunningIndexes | Legacy::NoNightlyIndex => "REMOVE #nightly",
    };
    for record in running.iter().chain(&nightlies) {
        let mut update = client
            .update_item()
            .table_name(&s.dynamo.table)
            .key(
                attr::DYNAMO_KEY,
                AttributeValue::S(record.job_key().as_str().to_owned()),
            )
            .update_expression(unknown_keys)
            .expression_attribute_names("#nightly", attr::RUNNING_NIGHTLY);
        if let Legacy::NoRunningIndexes = legacy {
            update = update
                .expression_attribute_names("#repo", attr::RUNNING_REPO)
                .expression_attribute_names("#pr", attr::RUNNING_PR);
        }
        update.send().await.unwrap();
    }

    // migrate gives the table this version's indexes (and the running items their keys, once),
    // and deletes the retired ones.
    assert_eq!(
        migrate::ensure_job_table(&client, &s.dynamo).await.unwrap(),
        Outcome::AlreadyThere
    );
    assert_eq!(
        indexes(&client, &s.dynamo.table).await,
        current_indexes(),
        "from {legacy:?}"
    );
    for record in running.iter().chain(&nightlies) {
        let item = job_item(s, record.job_key().as_str())
            .await
            .unwrap()
            .unwrap();
        let nightly = record.view().pr_number.is_none();
        assert_eq!(
            item.get(attr::RUNNING_REPO),
            item.get(attr::DOWNSTREAM_REPO)
        );
        assert_eq!(item.get(attr::RUNNING_PR), item.get(attr::UPSTREAM_PR));
        assert_eq!(
            item.get(attr::RUNNING_NIGHTLY),
            nightly.then(|| item.get(attr::DOWNSTREAM_REPO)).flatten()
        );
    }
    assert_eq!(
        migrate::ensure_job_table(&client, &s.dynamo).await.unwrap(),
        Outcome::AlreadyThere,
        "migrating again changes nothing"
    );
    assert_eq!(indexes(&client, &s.dynamo.table).await, current_indexes());
    assert_eq!(
        migrate::backfill_running_keys(&client, &s.dynamo.table)
            .await
            .unwrap(),
        0,
        "nothing left to backfill"
    );

    // The backend's running jobs: exactly the running ones, reading only them.
    let live = oot_query::stores::live::LiveJobs::new(
        client.clone(),
        s.dynamo.table.clone(),
        Duration::from_secs(10),
    );
    let repo = running[0].view().downstream_repo.clone();
    let keys = |jobs: &[oot_query::job::Job]| -> BTreeSet<String> {
        jobs.iter().map(|j| j.job_key.clone()).collect()
    };
    let key_set = |records: &[JobRecord]| -> BTreeSet<String> {
        records
            .iter()
            .map(|r| r.job_key().as_str().to_owned())
            .collect()
    };
    let (prs, nightly) = (key_set(&running), key_set(&nightlies));
    let every: BTreeSet<String> = prs.union(&nightly).cloned().collect();
    let read = live.running_of_repo_read(&repo).await.unwrap();
    assert_eq!(keys(&read.jobs), every);
    assert_eq!(
        read.scanned,
        (RUNNING + RUNNING_NIGHTLIES) as u64,
        "items read for {RUNNING} + {RUNNING_NIGHTLIES} running jobs"
    );
    assert_eq!(
        keys(&live.running_nightlies_of_repo(&repo).await.unwrap()),
        nightly,
        "the running nightlies, without the running PR jobs"
    );
    let upstream = oot_contract::UpstreamPr::new(
        running[0].view().upstream_repo.unwrap().clone(),
        running[0].view().pr_number.unwrap(),
    );
    assert_eq!(keys(&live.running_of_pr(&upstream).await.unwrap()), prs);
    assert_eq!(keys(&live.running_everywhere().await.unwrap()), every);

    // A running job that completes leaves the index.
    table
        .save(&completion_of(&running[0], &completed_template), Some(1))
        .await
        .unwrap();
    let read = live.running_of_repo_read(&repo).await.unwrap();
    assert_eq!(read.jobs.len(), RUNNING + RUNNING_NIGHTLIES - 1);
    assert_eq!(read.scanned, (RUNNING + RUNNING_NIGHTLIES - 1) as u64);
    assert!(!keys(&read.jobs).contains(running[0].job_key().as_str()));

    // And a running nightly that completes leaves its index.
    table
        .save(&completion_of(&nightlies[0], &nightly_completed), Some(1))
        .await
        .unwrap();
    let still: BTreeSet<String> = nightly
        .iter()
        .filter(|k| k.as_str() != nightlies[0].job_key().as_str())
        .cloned()
        .collect();
    assert_eq!(
        keys(&live.running_nightlies_of_repo(&repo).await.unwrap()),
        still
    );
}
