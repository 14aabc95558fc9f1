//! How long a crash costs: the real `oot-projector` binary killed with -9 under a stream of
//! callbacks and started again on the same address, with static group membership (the default
//! `group.instance.id`, `{host}-{port}`) and, for comparison, without it
//! (`OOT_PROJECTOR_INSTANCE_ID=""`). Prints restart-to-progress and restart-to-caught-up times;
//! asserts only that the projector comes back and loses nothing, never a timing.
//!
//! Ignored in a plain `cargo test` (it starts processes and loads the shared stack);
//! `compose/test.sh` runs it alone with the drills:
//! `cargo test -p oot-e2e --test e2e -- --ignored --test-threads=1 --nocapture projector_restart::`
//! (after `cargo build --workspace --bins`).
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use oot_e2e::drill::{
    free_port, group_position, post_job, start_ingest, store_env, wait_caught_up, ServiceProcess,
};
use oot_e2e::{unique_name, TestStores};
use oot_platform::settings::StoreSettings;
use tokio::time::Instant;

const DRILL: &str = "restart";
const KILLS: usize = 3;

/// The projector binary on `port`, in `group`; `instance_id` as `OOT_PROJECTOR_INSTANCE_ID`
/// (unset: the default, derived from the host name and the port).
async fn start(
    stores: &StoreSettings,
    group: &str,
    port: u16,
    instance_id: Option<&str>,
) -> ServiceProcess {
    let binary = oot_e2e::service_binary("oot-projector").unwrap();
    let mut env = store_env(stores);
    env.extend([
        ("OOT_PROJECTOR_LISTEN", format!("127.0.0.1:{port}")),
        ("OOT_PROJECTOR_GROUP", group.to_owned()),
    ]);
    if let Some(id) = instance_id {
        env.push(("OOT_PROJECTOR_INSTANCE_ID", id.to_owned()));
    }
    ServiceProcess::start(&binary, "oot-projector", port, &env)
        .await
        .unwrap()
}

/// Kills and restarts the projector `KILLS` times under ~50 jobs/s; the seconds from each
/// restart to the first new commit, and to the lag being back where it was at the kill.
async fn drill(instance_id: Option<&str>) -> Vec<(f64, f64)> {
    let stores = TestStores::unique("restart");
    let s = &stores.settings;
    let group = unique_name("drill-restart");
    let port = free_port().unwrap();
    let ingest = start_ingest(s).await.unwrap();
    let mut projector = start(s, &group, port, instance_id).await;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let stream = {
        let (stop, sent, url) = (stop.clone(), sent.clone(), ingest.base_url.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                post_job(&client, &url, DRILL, n, Duration::from_secs(60)).await?;
                sent.fetch_add(1, Ordering::SeqCst);
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            anyhow::Ok(n)
        })
    };

    let mut figures = Vec::new();
    for kill in 1..=KILLS {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = group_position(&s.kafka, &group).await.unwrap();
        projector.kill9().await.unwrap();
        let restarted = Instant::now();
        projector = start(s, &group, port, instance_id).await;
        let mut progress = None;
        let mut caught_up = None;
        while restarted.elapsed() < Duration::from_secs(120) && caught_up.is_none() {
            let now = group_position(&s.kafka, &group).await.unwrap();
            if progress.is_none() && now.committed > before.committed {
                progress = Some(restarted.elapsed().as_secs_f64());
            }
            if progress.is_some() && now.lag() <= before.lag().max(50) {
                caught_up = Some(restarted.elapsed().as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let (Some(progress), Some(caught_up)) = (progress, caught_up) else {
            panic!(
                "kill {kill}: no recovery within 120 s; log {}",
                projector.log.display()
            );
        };
        println!(
            "  kill {kill}: lag {} at the kill; committing again {progress:.2}s after the restart, lag back down {caught_up:.2}s after",
            before.lag()
        );
        figures.push((progress, caught_up));
    }
    stop.store(true, Ordering::SeqCst);
    let jobs = stream.await.unwrap().unwrap();
    wait_caught_up(&s.kafka, &group, Duration::from_secs(120))
        .await
        .unwrap();
    let items = oot_e2e::drill::item_count(s).await.unwrap();
    assert_eq!(items, jobs, "every job projected, none lost");
    projector.terminate().await.unwrap();
    figures
}

#[tokio::test]
#[ignore = "kills the projector binary; run alone by compose/test.sh"]
async fn a_projector_killed_with_9_and_restarted_moves_again_within_seconds() {
    println!("static membership (default group.instance.id from host and port):");
    let fixed = drill(None).await;
    println!("dynamic membership (OOT_PROJECTOR_INSTANCE_ID=\"\"):");
    let dynamic = drill(Some("")).await;
    let worst = |f: &[(f64, f64)]| f.iter().map(|(p, _)| *p).fold(0.0, f64::max);
    println!(
        "restart to first commit, worst of {KILLS}: {:.2}s with static membership, {:.2}s without",
        worst(&fixed),
        worst(&dynamic)
    );
}
