//! `validate_callback`: turns a request body into a [`ValidatedCallback`] or the complete list
//! of what is wrong with it. Applies every rule of `docs/contract.md` (sections 4–6) that can be
//! decided from the body alone (the token, body size and rate limit belong to the HTTP layer).
//!
//! The decisions taken where the contract is silent are listed in the docs of the `callback`
//! module (`mod.rs`).

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::error::{Problem, ValidationError, ROOT_PATH};
use super::json::{describe, dig, Dig, Field, Need, Obj, Path, Report};
use super::limits::{cut_at_char_boundary, cut_to_json_len, Limits, MAX_ENVIRONMENT_KEY_BYTES};
use super::validated::{FailedTest, ValidatedCallback, Workflow};
use oot_contract::limits::{json_string_len, MAX_SECONDS_AFTER_RECEIPT, MAX_TEST_COUNT};
use oot_contract::{
    parse_seconds, CommitSha, Conclusion, DeliveryId, EventKind, EventType, HttpsUrl, JobKey,
    JobName, NumericId, PrNumber, RepoLevel, RepoName, RunAttempt, Status, TestCounts, Timestamp,
    WorkflowName,
};

const IN_PROGRESS: &str = "status is \"in_progress\"";
const COMPLETED: &str = "status is \"completed\"";

/// Validates one relay callback body (`{trusted, untrusted}`) against `docs/contract.md` (sections 4–6).
///
/// Unknown fields anywhere are accepted and left uninterpreted (they stay in
/// [`ValidatedCallback::original`]). Over-long free text is cut, not refused, and listed in
/// [`ValidatedCallback::truncations`]. On refusal every problem found is reported, each under
/// the JSON path of its field.
///
/// Timestamps are judged against the system clock as the receive time; the service passes its
/// own through [`validate_callback_at`].
pub fn validate_callback(
    body: &[u8],
    limits: &Limits,
) -> Result<ValidatedCallback, ValidationError> {
    validate_callback_at(body, limits, OffsetDateTime::now_utc())
}

/// [`validate_callback`] of a body received at `received_at`: `started_at` and `completed_at`
/// more than [`MAX_SECONDS_AFTER_RECEIPT`] after it are refused.
pub fn validate_callback_at(
    body: &[u8],
    limits: &Limits,
    received_at: OffsetDateTime,
) -> Result<ValidatedCallback, ValidationError> {
    validate_callback_identified(body, limits, received_at).map_err(|refused| refused.error)
}

/// Who a callback is from and which job it is about, as far as its fields passed their rules:
/// what a refusal is attributed by (its delivery receipt, docs/contract.md §16). `verified_repo`
/// is the relay's (`trusted`), as trustworthy in a refused document as in an accepted one: the
/// whole document comes from the authenticated relay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub verified_repo: Option<RepoName>,
    pub delivery_id: Option<DeliveryId>,
    /// When every part of the key passed its rule (even if the key as a whole is too long).
    pub job_key: Option<JobKey>,
}

/// A refused callback: why, and who it is from as far as that could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub error: ValidationError,
    pub identity: Identity,
}

impl Identity {
    fn of(p: &Parts) -> Identity {
        let job_key = match (
            &p.verified_repo,
            &p.delivery_id,
            &p.name,
            &p.job_name,
            &p.check_run_id,
        ) {
            (Some(repo), Some(delivery), Some(name), Some(job), Some(check)) => {
                Some(JobKey::new(repo, delivery, name, job, check))
            }
            _ => None,
        };
        Identity {
            verified_repo: p.verified_repo.clone(),
            delivery_id: p.delivery_id.clone(),
            job_key,
        }
    }
}

/// [`validate_callback_at`], with a refusal's [`Identity`]: the repo, delivery and job key read
/// from the document, each when its own field passed. A body that is not a JSON object has none.
pub fn validate_callback_identified(
    body: &[u8],
    limits: &Limits,
    received_at: OffsetDateTime,
) -> Result<ValidatedCallback, Refused> {
    let refused = |error| Refused {
        error,
        identity: Identity::default(),
    };
    let doc: Value = serde_json::from_slice(body).map_err(|e| {
        refused(ValidationError::NotJson {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })
    })?;
    let Value::Object(map) = &doc else {
        return Err(refused(ValidationError::NotAnObject {
            found: describe(&doc),
        }));
    };

    let mut r = Report::new(limits.max_truncation_notes);
    let mut p = Parts::default();
    let root = Obj::new(map, Path::Root);
    read_trusted(&mut r, &root, &mut p);
    let latest = received_at + time::Duration::seconds(MAX_SECONDS_AFTER_RECEIPT);
    read_callback_payload(&mut r, &root, limits, latest, &mut p);
    let truncations = r.finish_truncations();
    if r.has_problems() {
        // Only read on refusal: an accepted callback carries its identity in its own fields.
        return Err(Refused {
            identity: Identity::of(&p),
            error: ValidationError::Invalid {
                problems: r.problems,
                not_listed: r.problems_not_listed,
            },
        });
    }

    let Parts {
        verified_repo: Some(verified_repo),
        level,
        queue_time,
        execution_time,
        event_type: Some(event_type),
        delivery_id: Some(delivery_id),
        upstream_repo: Some(upstream_repo),
        pr_number,
        head_sha,
        schema_version: Some(schema_version),
        status: Some(status),
        conclusion,
        name: Some(name),
        url: Some(url),
        job_name: Some(job_name),
        check_run_id: Some(check_run_id),
        run_id: Some(run_id),
        run_attempt: Some(run_attempt),
        started_at,
        completed_at,
        test_results,
        failed_tests,
        environment,
        artifact_url,
    } = p
    else {
        // Every `None` above comes with a recorded problem; reaching this is a bug here, and
        // refusing is the safe way to surface it.
        return Err(refused(ValidationError::Invalid {
            problems: vec![Problem::new(
                ROOT_PATH,
                "internal error: a required field was lost during validation",
            )],
            not_listed: 0,
        }));
    };

    let job_key = JobKey::new(
        &verified_repo,
        &delivery_id,
        &name,
        &job_name,
        &check_run_id,
    );
    if let Err(why) = job_key.check_indexable() {
        // Name the longest part: shortening it is what helps most.
        let parts = [
            ("trusted.verified_repo", verified_repo.as_str().len()),
            (
                "untrusted.callback_payload.delivery_id",
                delivery_id.as_str().len(),
            ),
            (
                "untrusted.callback_payload.workflow.name",
                name.as_str().len(),
            ),
            (
                "untrusted.callback_payload.workflow.job_name",
                job_name.as_str().len(),
            ),
        ];
        // `max_by_key` keeps the last of equals: on a tie, the job name (most often the long one).
        let longest = parts
            .iter()
            .max_by_key(|(_, len)| *len)
            .map_or("untrusted.callback_payload.workflow.job_name", |(f, _)| f);
        return Err(Refused {
            identity: Identity {
                verified_repo: Some(verified_repo),
                delivery_id: Some(delivery_id),
                job_key: Some(job_key),
            },
            error: ValidationError::Invalid {
                problems: vec![Problem::new(longest, why.message())],
                not_listed: 0,
            },
        });
    }
    Ok(ValidatedCallback {
        job_key,
        verified_repo,
        level,
        queue_time,
        execution_time,
        event_type,
        delivery_id,
        upstream_repo,
        pr_number,
        head_sha,
        workflow: Workflow {
            schema_version,
            status,
            conclusion,
            name,
            url,
            job_name,
            check_run_id,
            run_id,
            run_attempt,
            started_at,
            completed_at,
            test_results,
            failed_tests,
            environment,
            artifact_url,
        },
        truncations,
        original: doc,
    })
}

/// What the pass has validated so far. A `None` in a required slot always has a problem
/// recorded beside it.
#[derive(Default)]
struct Parts {
    verified_repo: Option<RepoName>,
    level: Option<RepoLevel>,
    queue_time: Option<f64>,
    execution_time: Option<f64>,
    event_type: Option<EventType>,
    delivery_id: Option<DeliveryId>,
    upstream_repo: Option<RepoName>,
    pr_number: Option<PrNumber>,
    head_sha: Option<CommitSha>,
    schema_version: Option<String>,
    status: Option<Status>,
    conclusion: Option<Conclusion>,
    name: Option<WorkflowName>,
    url: Option<HttpsUrl>,
    job_name: Option<JobName>,
    check_run_id: Option<NumericId>,
    run_id: Option<NumericId>,
    run_attempt: Option<RunAttempt>,
    started_at: Option<Timestamp>,
    completed_at: Option<Timestamp>,
    test_results: Option<TestCounts>,
    failed_tests: Option<Vec<FailedTest>>,
    environment: Option<Value>,
    artifact_url: Option<HttpsUrl>,
}

fn read_trusted(r: &mut Report, root: &Obj<'_, '_>, p: &mut Parts) {
    let Some(trusted) = root.object(r, "trusted", Need::Required) else {
        return;
    };
    p.verified_repo = trusted.parsed(r, "verified_repo", Need::Required, RepoName::parse);
    p.level = trusted.parsed(r, "downstream_repo_level", Need::Optional, RepoLevel::parse);
    if let Some(metrics) = trusted.object(r, "ci_metrics", Need::Optional) {
        p.queue_time = seconds(r, &metrics, "queue_time");
        p.execution_time = seconds(r, &metrics, "execution_time");
    }
}

fn seconds(r: &mut Report, obj: &Obj<'_, '_>, key: &str) -> Option<f64> {
    let f = obj.field(r, key, Need::Optional)?;
    field_seconds(r, &f)
}

fn field_seconds(r: &mut Report, f: &Field<'_, '_>) -> Option<f64> {
    let n = f.number(r)?;
    parse_seconds(n)
        .map_err(|e| r.problem(&f.path, e.message()))
        .ok()
}

fn read_callback_payload(
    r: &mut Report,
    root: &Obj<'_, '_>,
    limits: &Limits,
    latest: OffsetDateTime,
    p: &mut Parts,
) {
    let Some(untrusted) = root.object(r, "untrusted", Need::Required) else {
        return;
    };
    let Some(cp) = untrusted.object(r, "callback_payload", Need::Required) else {
        return;
    };

    // `field` with `Need::Optional` records nothing and is `None` exactly when `has` would be
    // false, so the default is chosen with one map lookup instead of two.
    p.event_type = match cp.field(r, "event_type", Need::Optional) {
        Some(f) => f.parsed(r, EventType::parse),
        None => Some(EventType::default()),
    };
    p.delivery_id = cp.parsed(r, "delivery_id", Need::Required, DeliveryId::parse);

    // An absent payload is read as an empty one, so the missing identity fields are named by
    // their full paths rather than by a bare "payload is required".
    let empty = Map::new();
    let payload = match cp.field(r, "payload", Need::Optional) {
        Some(f) => f.object(r),
        None => Some(Obj::new(&empty, cp.path_of("payload"))),
    };
    if let Some(payload) = payload {
        // Each part is returned rather than written into `p`, so the event type can be
        // borrowed from `p` instead of cloned.
        let event = p.event_type.as_ref();
        p.upstream_repo = upstream_repo(r, &payload);
        p.pr_number = upstream_pr_number(r, &payload, event);
        p.head_sha = upstream_head_sha(r, &payload, event);
    }

    if let Some(workflow) = cp.object(r, "workflow", Need::Required) {
        read_workflow(r, &workflow, limits, latest, p);
    }
}

/// A value looked up through nested objects and converted.
enum Lookup<'p, T> {
    Valid(T, Path<'p>),
    Absent(Path<'p>),
    /// Present but refused; the problem is recorded.
    Refused,
}

fn lookup<'a, 'p, T>(
    r: &mut Report,
    obj: &'p Obj<'a, '_>,
    keys: &'p [&'p str],
    convert: impl FnOnce(&mut Report, &Field<'a, 'p>) -> Option<T>,
) -> Lookup<'p, T> {
    match dig(r, obj, keys) {
        Dig::Found(f) => match convert(r, &f) {
            Some(v) => Lookup::Valid(v, f.path),
            None => Lookup::Refused,
        },
        Dig::Absent(path) => Lookup::Absent(path),
        Dig::Invalid => Lookup::Refused,
    }
}

fn pr_number(r: &mut Report, f: &Field<'_, '_>) -> Option<PrNumber> {
    let n = f.count(r)?;
    PrNumber::new(n)
        .map_err(|e| r.problem(&f.path, e.message()))
        .ok()
}

fn commit_sha(r: &mut Report, f: &Field<'_, '_>) -> Option<CommitSha> {
    f.parsed(r, CommitSha::parse)
}

/// An invalid event_type is already reported; the upstream identity is then judged as for an
/// unknown kind so its problems are not drowned in guesses.
fn kind_and_name(event: Option<&EventType>) -> (EventKind, &str) {
    (
        event.map_or(EventKind::Other, EventType::kind),
        event.map_or("", EventType::as_str),
    )
}

fn upstream_repo(r: &mut Report, payload: &Obj<'_, '_>) -> Option<RepoName> {
    match lookup(r, payload, &["repository", "full_name"], |r, f| {
        f.parsed(r, RepoName::parse)
    }) {
        Lookup::Valid(repo, _) => Some(repo),
        Lookup::Absent(path) => {
            r.problem(
                &path,
                "is required: it names the upstream repo (e.g. \"pytorch/pytorch\")",
            );
            None
        }
        Lookup::Refused => None,
    }
}

fn upstream_pr_number(
    r: &mut Report,
    payload: &Obj<'_, '_>,
    event: Option<&EventType>,
) -> Option<PrNumber> {
    let (kind, event_name) = kind_and_name(event);
    let nested = lookup(r, payload, &["pull_request", "number"], pr_number);
    let top = lookup(r, payload, &["number"], pr_number);
    match (nested, top) {
        (Lookup::Valid(a, _), Lookup::Valid(b, path)) if a != b => {
            r.problem(
                &path,
                format!("is {b} but payload.pull_request.number is {a}; they must agree"),
            );
            None
        }
        (Lookup::Valid(a, _), _) => Some(a),
        (Lookup::Absent(_), Lookup::Valid(b, _)) => Some(b),
        (Lookup::Absent(path), Lookup::Absent(_)) => {
            if kind == EventKind::PullRequest {
                r.problem(
                    &path,
                    format!(
                        "is required for event_type \"{event_name}\" (payload.number is \
                         accepted too)"
                    ),
                );
            }
            None
        }
        _ => None,
    }
}

fn upstream_head_sha(
    r: &mut Report,
    payload: &Obj<'_, '_>,
    event: Option<&EventType>,
) -> Option<CommitSha> {
    let (kind, event_name) = kind_and_name(event);
    let (candidates, required): (&[&[&str]], bool) = match kind {
        EventKind::PullRequest => (&[&["pull_request", "head", "sha"], &["head_sha"]], true),
        EventKind::Push => (&[&["head_sha"], &["after"]], true),
        EventKind::Nightly | EventKind::Periodic => (&[&["head_sha"]], true),
        EventKind::Other => (
            &[&["head_sha"], &["pull_request", "head", "sha"], &["after"]],
            false,
        ),
    };
    let mut first_absent: Option<Path<'_>> = None;
    for keys in candidates {
        match lookup(r, payload, keys, commit_sha) {
            Lookup::Valid(sha, _) => return Some(sha),
            // The first present candidate decides; later ones are not interpreted.
            Lookup::Refused => return None,
            Lookup::Absent(path) => {
                first_absent.get_or_insert(path);
            }
        }
    }
    if required {
        if let Some(path) = first_absent {
            let others: Vec<String> = candidates[1..]
                .iter()
                .map(|keys| format!("payload.{}", keys.join(".")))
                .collect();
            let alternatives = if others.is_empty() {
                String::new()
            } else {
                format!(" ({} accepted too)", others.join(", "))
            };
            r.problem(
                &path,
                format!(
                    "is required for event_type \"{event_name}\": it names the upstream \
                     commit{alternatives}"
                ),
            );
        }
    }
    None
}

fn read_workflow(
    r: &mut Report,
    wf: &Obj<'_, '_>,
    limits: &Limits,
    latest: OffsetDateTime,
    p: &mut Parts,
) {
    p.schema_version = match wf.field(r, "schema_version", Need::Optional) {
        Some(f) => f
            .str(r)
            .map(|s| r.cut(&f.path, s, limits.max_schema_version_bytes).0),
        None => Some("1".to_owned()),
    };
    p.status = wf.parsed(r, "status", Need::Required, Status::parse);
    p.name = wf.parsed(r, "name", Need::Required, WorkflowName::parse);
    p.url = wf.parsed(r, "url", Need::Required, HttpsUrl::parse);
    p.job_name = wf.parsed(r, "job_name", Need::Required, JobName::parse);
    p.check_run_id = wf.parsed(r, "check_run_id", Need::Required, NumericId::parse);
    p.run_id = wf.parsed(r, "run_id", Need::Required, NumericId::parse);
    p.run_attempt = wf.parsed(r, "run_attempt", Need::Required, RunAttempt::parse);

    match p.status {
        Some(Status::InProgress) => {
            for key in ["conclusion", "completed_at"] {
                if wf.has(key) {
                    r.problem(
                        &wf.path_of(key),
                        format!("must be null or absent while {IN_PROGRESS}"),
                    );
                }
            }
            p.started_at = wf.parsed(
                r,
                "started_at",
                Need::RequiredWhen(IN_PROGRESS),
                Timestamp::parse,
            );
        }
        Some(Status::Completed) => {
            p.conclusion = wf.parsed(
                r,
                "conclusion",
                Need::RequiredWhen(COMPLETED),
                Conclusion::parse,
            );
            p.started_at = wf.parsed(r, "started_at", Need::Optional, Timestamp::parse);
            p.completed_at = wf.parsed(
                r,
                "completed_at",
                Need::RequiredWhen(COMPLETED),
                Timestamp::parse,
            );
        }
        // The status is already reported; still check the formats of what depends on it.
        None => {
            p.conclusion = wf.parsed(r, "conclusion", Need::Optional, Conclusion::parse);
            p.started_at = wf.parsed(r, "started_at", Need::Optional, Timestamp::parse);
            p.completed_at = wf.parsed(r, "completed_at", Need::Optional, Timestamp::parse);
        }
    }
    // A reporter's clock days ahead is broken, and its far-future times would make a repo
    // look fresh for years; a few minutes of skew must not lose a result.
    for (key, at) in [
        ("started_at", p.started_at),
        ("completed_at", p.completed_at),
    ] {
        if at.is_some_and(|t| t.get() > latest) {
            let latest = latest
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            r.problem(
                &wf.path_of(key),
                format!(
                    "is more than {} hours after ingest received the callback \
                     (latest accepted: {latest}); the reporter's clock is wrong",
                    MAX_SECONDS_AFTER_RECEIPT / 3_600
                ),
            );
        }
    }
    if let (Some(started), Some(completed)) = (p.started_at, p.completed_at) {
        if completed < started {
            r.problem(
                &wf.path_of("completed_at"),
                format!("{completed} is before started_at {started}"),
            );
        }
    }

    if let Some(counts) = wf.object(r, "test_results", Need::Optional) {
        p.test_results = read_test_counts(r, &counts);
    }
    if let Some((items, path)) = wf.array(r, "failed_tests", Need::Optional) {
        p.failed_tests = Some(read_failed_tests(r, items, &path, limits));
    }
    if let Some(env) = wf.object(r, "environment", Need::Optional) {
        p.environment = Some(read_environment(r, &env, limits));
    }
    p.artifact_url = wf.parsed(r, "artifact_url", Need::Optional, HttpsUrl::parse);
}

fn test_count(r: &mut Report, obj: &Obj<'_, '_>, key: &str, need: Need) -> Option<u64> {
    let n = obj.count(r, key, need)?;
    if n > MAX_TEST_COUNT {
        r.problem(
            &obj.path_of(key),
            format!("must be at most {MAX_TEST_COUNT} (10^8), got {n}"),
        );
        return None;
    }
    Some(n)
}

fn read_test_counts(r: &mut Report, counts: &Obj<'_, '_>) -> Option<TestCounts> {
    let passed = test_count(r, counts, "passed", Need::Required);
    let failed = test_count(r, counts, "failed", Need::Required);
    let skipped = test_count(r, counts, "skipped", Need::Required);
    let total_sent = counts.has("total");
    let total = test_count(r, counts, "total", Need::Optional);
    if total_sent && total.is_none() {
        return None;
    }
    TestCounts::new(passed?, failed?, skipped?, total)
        .map_err(|e| r.problem(&counts.path, e.message()))
        .ok()
}

fn read_failed_tests(
    r: &mut Report,
    items: &[Value],
    path: &Path<'_>,
    limits: &Limits,
) -> Vec<FailedTest> {
    let keep = limits.max_failed_tests;
    let budget = limits.max_stored_failed_tests_bytes;
    let mut kept = Vec::with_capacity(items.len().min(keep));
    // JSON text of `kept` as stored: `[`, `]`, the entries and the commas between them.
    let mut stored_bytes = 2;
    // Set when an entry did not fit the budget: it and all later ones are dropped.
    let mut over_budget = false;
    for (i, item) in items.iter().enumerate() {
        let item_path = Path::Index(path, i);
        let Value::Object(map) = item else {
            // Checked on every entry, so the count of problems is exact; the message is only
            // built while problems are still listed (a body can hold a million of these).
            if r.problems_full() {
                r.problems_not_listed += 1;
            } else {
                r.problem(
                    &item_path,
                    format!("expected an object, got {}", describe(item)),
                );
            }
            continue;
        };
        let entry = Obj::new(map, item_path);
        // Each entry is read into its own report so its cut notes are kept only with it.
        let mut scratch = Report::new(limits.max_truncation_notes);
        let test = read_failed_test(&mut scratch, &entry, limits);
        let keeping = i < keep && !over_budget && !r.has_problems() && !scratch.has_problems();
        match test {
            Some(test) if keeping => {
                let added = stored_len(&test) + usize::from(!kept.is_empty());
                if stored_bytes + added <= budget {
                    stored_bytes += added;
                    kept.push(test);
                    r.absorb_truncations(std::mem::take(&mut scratch.truncations));
                } else {
                    over_budget = true;
                }
            }
            // Dropped entries are still checked, but their cuts are not worth reporting.
            _ => {}
        }
        r.absorb_problems(scratch);
    }
    // Once the callback is refused nothing is kept, so no note either.
    if !r.has_problems() && kept.len() < items.len() {
        let mut note = format!("{path}: kept {} of {} entries", kept.len(), items.len());
        if over_budget {
            note.push_str(&format!(
                " (the list is stored in at most {budget} bytes of JSON)"
            ));
        }
        r.truncated_first(note);
    }
    kept
}

/// Bytes of `test` in the stored JSON list, as `serde_json` writes it.
fn stored_len(test: &FailedTest) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing plain fields to a counter cannot fail; if it did, counting the entry as too big
    // to store would drop it rather than overflow the item.
    match serde_json::to_writer(&mut count, test) {
        Ok(()) => count.0,
        Err(_) => usize::MAX / 2,
    }
}

fn read_failed_test(r: &mut Report, t: &Obj<'_, '_>, limits: &Limits) -> Option<FailedTest> {
    let name = match t.str(r, "name", Need::Required) {
        Some((s, path)) if s.trim().is_empty() => {
            r.problem(&path, "must not be empty or blank");
            None
        }
        Some((s, path)) => Some(r.cut(&path, s, limits.max_test_name_bytes).0),
        None => None,
    };
    let text = |r: &mut Report, key: &str, max: usize| {
        t.str(r, key, Need::Optional)
            .map(|(s, path)| r.cut(&path, s, max))
    };
    let classname = text(r, "classname", limits.max_test_name_bytes).map(|(s, _)| s);
    let message = text(r, "message", limits.max_message_bytes);
    let stacktrace = text(r, "stacktrace", limits.max_stacktrace_bytes);
    let duration_s = seconds(r, t, "duration_s");
    let (message, message_truncated) = message.map_or((None, false), |(s, cut)| (Some(s), cut));
    let (stacktrace, stacktrace_truncated) =
        stacktrace.map_or((None, false), |(s, cut)| (Some(s), cut));
    Some(FailedTest {
        name: name?,
        classname,
        message,
        stacktrace,
        duration_s,
        message_truncated,
        stacktrace_truncated,
    })
}

fn read_environment(r: &mut Report, env: &Obj<'_, '_>, limits: &Limits) -> Value {
    let keep = limits.max_environment_entries;
    // (key, value, bytes of a string value as sent)
    let mut kept: Vec<(&str, Value, usize)> = Vec::new();
    for (i, (key, value)) in env.map.iter().enumerate() {
        let path = env.path_of(key);
        if key.is_empty() || key.len() > MAX_ENVIRONMENT_KEY_BYTES {
            r.problem(
                &path,
                format!("keys must be 1 to {MAX_ENVIRONMENT_KEY_BYTES} bytes"),
            );
            continue;
        }
        let entry = match value {
            // Entries past the keep limit are still checked but neither cut nor kept.
            Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) if i >= keep => {
                continue
            }
            Value::String(s) => {
                let cut = cut_at_char_boundary(s, limits.max_environment_value_bytes);
                (key.as_str(), Value::String(cut.to_owned()), s.len())
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => (key.as_str(), value.clone(), 0),
            Value::Array(_) | Value::Object(_) => {
                r.problem(
                    &path,
                    format!(
                        "expected a string, number, boolean or null (environment is a flat \
                         map of labels), got {}",
                        describe(value)
                    ),
                );
                continue;
            }
        };
        kept.push(entry);
    }
    let sent = env.map.len();
    let budget = limits.max_stored_environment_bytes;
    let over_budget = fit_environment(&mut kept, budget);
    if kept.len() < sent.min(keep) || sent > keep {
        let mut note = format!("{}: kept {} of {sent} entries", env.path, kept.len());
        if over_budget {
            note.push_str(&format!(
                " (the environment is stored in at most {budget} bytes of JSON)"
            ));
        }
        r.truncated(note);
    }
    let mut out = Map::new();
    for (key, value, sent_len) in kept {
        if let Value::String(s) = &value {
            if s.len() < sent_len {
                let limit = limits.max_environment_value_bytes;
                let whole = if over_budget {
                    format!(", and {budget} bytes of JSON for the whole environment")
                } else {
                    String::new()
                };
                r.truncated(format!(
                    "{}: cut from {sent_len} to {} bytes (limit {limit}{whole})",
                    env.path_of(key),
                    s.len()
                ));
            }
        }
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

/// Cuts `entries` (in the order they are stored) so their compact JSON object, escapes
/// included, is at most `budget` bytes. Values are cut before any entry is dropped: the
/// longest strings first, down to a common length that fits (short values, the usual labels,
/// stay whole); only if the keys and the non-string values alone do not fit are entries dropped
/// from the end. Returns whether anything was cut for the budget.
fn fit_environment(entries: &mut Vec<(&str, Value, usize)>, budget: usize) -> bool {
    // Bytes of an entry besides its string value's content: `"key":` and the value's quotes
    // (or the whole value when it is not a string).
    let fixed_len = |key: &str, value: &Value| {
        json_string_len(key)
            + 1
            + match value {
                Value::String(_) => 2,
                other => other.to_string().len(),
            }
    };
    let content_len = |value: &Value| match value {
        Value::String(s) => json_string_len(s) - 2,
        _ => 0,
    };
    // `{}` plus the commas.
    let mut fixed = 2 + entries.len().saturating_sub(1);
    fixed += entries
        .iter()
        .map(|(k, v, _)| fixed_len(k, v))
        .sum::<usize>();
    let mut cut = false;
    while fixed > budget {
        let Some((k, v, _)) = entries.pop() else {
            break;
        };
        fixed -= fixed_len(k, &v) + usize::from(!entries.is_empty());
        cut = true;
    }
    let available = budget.saturating_sub(fixed);
    let mut lens: Vec<usize> = entries.iter().map(|(_, v, _)| content_len(v)).collect();
    if lens.iter().sum::<usize>() <= available {
        return cut;
    }
    // The largest common cap: values shorter than it keep all their bytes, and what remains is
    // shared equally by the longer ones.
    lens.sort_unstable();
    let mut remaining = available;
    let mut cap = 0;
    for (i, len) in lens.iter().enumerate() {
        let share = remaining / (lens.len() - i);
        if *len > share {
            cap = share;
            break;
        }
        remaining -= len;
    }
    for (_, value, _) in entries.iter_mut() {
        if let Value::String(s) = value {
            let kept = cut_to_json_len(s, cap).len();
            s.truncate(kept);
        }
    }
    true
}
