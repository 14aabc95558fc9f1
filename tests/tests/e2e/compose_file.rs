//! `compose/docker-compose.yml` parses and describes the same stack as the native scripts:
//! the three servers, the migrations and the three services, published on loopback only.
//! (No Docker engine runs here, so this is as far as CI can check it.)
#![allow(clippy::unwrap_used)] // a failed step should stop the test where it failed

use std::path::Path;

use serde_yaml::Value;

fn compose_file() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose/docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut document: Value = serde_yaml::from_str(&text).unwrap();
    document.apply_merge().unwrap();
    document
}

#[test]
fn describes_the_three_servers_the_migrations_and_the_three_services() {
    let document = compose_file();
    let services = document["services"].as_mapping().unwrap();
    let names: Vec<&str> = services.keys().filter_map(Value::as_str).collect();
    for expected in [
        "kafka",
        "clickhouse",
        "dynamodb",
        "migrate",
        "ingest",
        "projector",
        "query",
    ] {
        assert!(
            names.contains(&expected),
            "service {expected} missing from {names:?}"
        );
    }
    assert_eq!(document["services"]["migrate"]["command"][1], "migrate");
}

#[test]
fn published_ports_are_on_loopback_only() {
    let document = compose_file();
    for (name, service) in document["services"].as_mapping().unwrap() {
        for port in service["ports"].as_sequence().into_iter().flatten() {
            let port = port.as_str().unwrap();
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name:?} publishes {port} beyond loopback"
            );
        }
    }
}

#[test]
fn services_reach_the_stores_by_their_compose_names_and_take_secrets_from_the_environment() {
    let document = compose_file();
    for service in ["migrate", "ingest", "projector", "query"] {
        let env = &document["services"][service]["environment"];
        assert_eq!(env["OOT_KAFKA_BROKERS"], "kafka:9092", "{service}");
        assert_eq!(
            env["OOT_DYNAMO_ENDPOINT"], "http://dynamodb:8000",
            "{service}"
        );
        assert_eq!(
            env["OOT_CLICKHOUSE_URL"], "http://clickhouse:8123",
            "{service}"
        );
    }
    let tokens = document["services"]["ingest"]["environment"]["OOT_INGEST_TOKENS"]
        .as_str()
        .unwrap();
    assert!(
        tokens.starts_with("${OOT_INGEST_TOKENS"),
        "the token must come from the environment"
    );
}

#[test]
fn every_dockerfile_it_builds_exists() {
    let document = compose_file();
    let compose_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose");
    let mut builds = 0;
    for (_, service) in document["services"].as_mapping().unwrap() {
        if let Some(dockerfile) = service["build"]["dockerfile"].as_str() {
            let context = compose_dir.join(service["build"]["context"].as_str().unwrap());
            assert!(
                context.join(dockerfile).is_file(),
                "{dockerfile} does not exist"
            );
            builds += 1;
        }
    }
    assert!(
        builds >= 4,
        "expected dynoxide and the services to be built, found {builds} builds"
    );
}

#[test]
fn runs_the_same_kafka_and_dynoxide_as_the_native_stack() {
    let document = compose_file();
    let compose_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../compose");
    let pom = std::fs::read_to_string(compose_dir.join("kafka/pom.xml")).unwrap();
    let native_kafka = pom
        .split_once("<kafka.version>")
        .and_then(|(_, rest)| rest.split_once("</kafka.version>"))
        .map(|(version, _)| version)
        .unwrap();
    assert_eq!(
        document["services"]["kafka"]["image"].as_str().unwrap(),
        format!("apache/kafka:{native_kafka}")
    );
    let stack = std::fs::read_to_string(compose_dir.join("stack.sh")).unwrap();
    let dockerfile =
        std::fs::read_to_string(compose_dir.join("docker/dynoxide.Dockerfile")).unwrap();
    let native_dynoxide = stack
        .split_once("DYNOXIDE_VERSION=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(version, _)| version)
        .unwrap();
    assert!(
        dockerfile.contains(&format!("dynoxide-rs@{native_dynoxide}")),
        "the dynoxide image is not built from {native_dynoxide}"
    );
}
