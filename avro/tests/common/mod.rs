//! Sample events shared by the integration tests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use oot_avro::{CallbackEvent, FailedTest, TestCounts, WorkflowRun};

/// 2026-04-28T10:45:12.123456Z in µs since the epoch.
pub const RECEIVED_AT: i64 = 1_777_373_112_123_456;

/// The relay document of [`full_event`]: the spec's `completed.json` sample, with non-ASCII text.
pub const RELAY_DOCUMENT: &str = r#"{"trusted":{"verified_repo":"intel/torch-xpu-ops","downstream_repo_level":"L2","ci_metrics":{"queue_time":null,"execution_time":1782.0}},"untrusted":{"callback_payload":{"event_type":"pull_request","delivery_id":"a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1","payload":{"action":"synchronize","number":179565,"pull_request":{"number":179565,"title":"[inductor] fuse pointwise epilogues — ünïcödé ✓","head":{"sha":"3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f"}},"repository":{"full_name":"pytorch/pytorch"}},"workflow":{"schema_version":"1","status":"completed","conclusion":"failure","name":"xpu-ci","url":"https://github.com/intel/torch-xpu-ops/actions/runs/9876543210","job_name":"linux-xpu / test (default, 1, 4)","check_run_id":"28374650001","run_id":"9876543210","run_attempt":"1","started_at":null,"completed_at":"2026-04-28T10:45:12Z","test_results":{"passed":8430,"failed":2,"skipped":20,"total":8452},"failed_tests":[{"name":"test_matmul_epilogue_bf16","classname":"test.inductor.test_fused_attention.TestFusion","message":"AssertionError: Tensor-likes are not close!","stacktrace":"Traceback (most recent call last):\n  ...","duration_s":4.2},{"name":"test_conv_backward_channels_last","classname":"test.test_nn.TestConvolutionNNDeviceTypeXPU","message":"RuntimeError: UR error","duration_s":0.8}],"environment":{"device":"Intel Data Center GPU Max 1550","driver":"1.3.29735","nested":{"a":[1,2,null]}},"artifact_url":"https://github.com/intel/torch-xpu-ops/actions/runs/9876543210/artifacts/3141592653"}}}}"#;

/// Every optional field set, every array non-empty.
///
/// This is also the content of the committed `fixtures/callback_event.v1.bin`: do not edit it
/// (add another sample instead), or the fixture test no longer proves v1 bytes decode right.
pub fn full_event() -> CallbackEvent {
    CallbackEvent {
        event_id: "0b6a3f2e-8c1d-4e5f-9a7b-3c2d1e0f9a8b".into(),
        received_at: RECEIVED_AT,
        job_key: "intel/torch-xpu-ops/a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1/xpu-ci/linux-xpu / test (default, 1, 4)/28374650001".into(),
        verified_repo: "intel/torch-xpu-ops".into(),
        downstream_repo_level: Some("L2".into()),
        queue_time: Some(12.345),
        execution_time: Some(1782.0),
        event_type: "pull_request".into(),
        delivery_id: "a8f5f167-0c4e-4a47-9f0b-54f5c0b0a9b1".into(),
        upstream_repo: Some("pytorch/pytorch".into()),
        pr_number: Some(179_565),
        head_sha: Some("3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b7c8d9e0f".into()),
        workflow: WorkflowRun {
            schema_version: Some("1".into()),
            status: "completed".into(),
            conclusion: Some("failure".into()),
            name: "xpu-ci".into(),
            url: "https://github.com/intel/torch-xpu-ops/actions/runs/9876543210".into(),
            job_name: "linux-xpu / test (default, 1, 4)".into(),
            check_run_id: "28374650001".into(),
            run_id: "9876543210".into(),
            run_attempt: 1,
            started_at: Some(1_777_371_330_000_000),
            completed_at: Some(1_777_373_112_000_000),
            test_results: Some(TestCounts {
                passed: 8430,
                failed: 2,
                skipped: 20,
                total: Some(8452),
            }),
            failed_tests: vec![
                FailedTest {
                    name: "test_matmul_epilogue_bf16".into(),
                    classname: "test.inductor.test_fused_attention.TestFusion".into(),
                    message: Some("AssertionError: Tensor-likes are not close! — ✗".into()),
                    stacktrace: Some("Traceback (most recent call last):\n  ...".into()),
                    duration_s: Some(4.2),
                    message_truncated: true,
                    stacktrace_truncated: false,
                },
                FailedTest {
                    name: "test_conv_backward_channels_last".into(),
                    classname: "test.test_nn.TestConvolutionNNDeviceTypeXPU".into(),
                    message: Some("RuntimeError: UR error".into()),
                    stacktrace: None,
                    duration_s: Some(0.8),
                    message_truncated: false,
                    stacktrace_truncated: true,
                },
            ],
            environment_json: Some(
                r#"{"device":"Intel Data Center GPU Max 1550","driver":"1.3.29735","nested":{"a":[1,2,null]}}"#
                    .into(),
            ),
            artifact_url: Some(
                "https://github.com/intel/torch-xpu-ops/actions/runs/9876543210/artifacts/3141592653"
                    .into(),
            ),
        },
        truncations: vec![
            "failed_tests[0].message: cut to 1024 bytes".into(),
            "failed_tests[1].stacktrace: cut to 4096 bytes".into(),
        ],
        relay_document: RELAY_DOCUMENT.into(),
    }
}

/// Every optional field null, every array empty.
pub fn minimal_event() -> CallbackEvent {
    CallbackEvent {
        event_id: "5d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
        received_at: 0,
        job_key: "o/r/d/w/j/1".into(),
        verified_repo: "o/r".into(),
        downstream_repo_level: None,
        queue_time: None,
        execution_time: None,
        event_type: "pull_request".into(),
        delivery_id: "d".into(),
        upstream_repo: None,
        pr_number: None,
        head_sha: None,
        workflow: WorkflowRun {
            schema_version: None,
            status: "in_progress".into(),
            conclusion: None,
            name: "w".into(),
            url: "https://example.com/run".into(),
            job_name: "j".into(),
            check_run_id: "1".into(),
            run_id: "2".into(),
            run_attempt: 1,
            started_at: None,
            completed_at: None,
            test_results: None,
            failed_tests: vec![],
            environment_json: None,
            artifact_url: None,
        },
        truncations: vec![],
        relay_document: "{}".into(),
    }
}
