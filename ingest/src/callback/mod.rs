//! Validation of one relay callback (`POST /api/oot/results` body), as pure domain logic: no
//! I/O, no HTTP, no Kafka.
//!
//! This module owns:
//! - which of the contract's types ([`oot_contract`]) each field is parsed into;
//! - [`validate_callback`], which applies every rule of `docs/contract.md` (sections 4–6) that
//!   can be decided from the body alone and reports all problems at once;
//! - the bounds on what is kept, and how free text is cut ([`limits`]);
//! - the refusal type and its JSON rendering for the 400 answer ([`error`]);
//! - the validated result the event is built from ([`ValidatedCallback`]).
//!
//! It does not own the token check, the 2 MiB body limit or the rate limit: those need the
//! request and live in the HTTP layer, before this module sees the body.
//!
//! # Decisions where the contract is silent
//!
//! Each is what an operator reading a dashboard would expect; the contract's types in
//! [`oot_contract`] document their own rules (repo names, ids, URLs, timestamps).
//!
//! - `null` and absent are the same for every field.
//! - Upstream identity, which the contract keeps out of the optional `payload` parts:
//!   - `payload.repository.full_name` is required for every event type: a result that cannot
//!     be placed under an upstream repo cannot be shown on any page.
//!   - The PR number comes from `payload.pull_request.number`, else `payload.number`; required
//!     for `pull_request` events (the PR matrix and `/pr/{number}` are built from it); when both
//!     are sent they must agree. For other events it is kept when sent.
//!   - The head commit comes from the first of these that is present: for `pull_request`
//!     `payload.pull_request.head.sha`, `payload.head_sha`; for `push` `payload.head_sha`,
//!     `payload.after`; for `nightly`/`periodic` `payload.head_sha`. Required for those four
//!     kinds. Event types we do not know yet may carry it in any of those places or not at
//!     all: refusing them would break forward compatibility for a field we cannot locate.
//! - `completed_at` set on `in_progress` is refused like `conclusion` is: a running job with
//!   an end time is a contradiction the views would render as a finished duration.
//!   `started_at` on `completed` is accepted (the contract's nightly sample carries it).
//! - `workflow.name`, `job_name`, `delivery_id` and `check_run_id` form the job key, so they
//!   are refused when malformed or over their cap instead of being cut (a cut key could merge
//!   two jobs). `check_run_id` and `run_id` must be canonical positive decimals.
//! - `failed_tests`: every entry is checked, including those past the keep limit, so that
//!   whether a document is valid never depends on a configurable limit. An entry needs a
//!   non-empty `name`; `classname`, `message`, `stacktrace`, `duration_s` are optional.
//! - `environment` is a flat object of labels: string, number, boolean or null values; nested
//!   objects and arrays are refused (they have no sensible rendering beside a job).
//! - `test_results`, when sent, needs `passed`, `failed` and `skipped` (JSON integers);
//!   `total` is optional.
//! - `schema_version` is optional (`"1"` when absent), must be a string, is not interpreted.
//! - Types are taken as the contract writes them: ids and `run_attempt` are strings (a JSON
//!   number is refused), counts and PR numbers are JSON integers (`8430.0` is refused rather
//!   than converted, so a float-producing reporter is caught at once).
//! - Timestamps outside 1970..2100 are refused: the ClickHouse projection stores `DateTime`.
//!   `started_at`/`completed_at` more than a day after the receive time are refused too
//!   ([`validate_callback_at`]): a far-future time would make a repo look fresh for years.
//! - Everything accepted is storable (`docs/contract.md` section 5): durations are at most ten
//!   years and rounded to the microsecond ([`oot_contract::parse_seconds`]); a job key over the
//!   indexes' 1,024 bytes is refused naming its longest part; the failed tests, the environment
//!   and the notes are cut to their stored budgets in bytes of JSON, escapes counted.
//! - Refusals are bounded: the first 50 problems are listed and the rest counted, and each
//!   problem's field and message are cut to 256 bytes.
//! - URLs over 2,048 bytes or with a `user:password@` part are refused, never cut.
//! - Problem paths are dotted from the document root with `[i]` for array items
//!   (`untrusted.callback_payload.workflow.failed_tests[3].message`); `$` is the body itself.
//!   A missing object is one problem, not one per field inside it.

pub mod error;
mod json;
pub mod limits;
mod validate;
mod validated;

pub use error::{Problem, ValidationError};
pub use limits::Limits;
pub use oot_contract::InvalidValue;
pub use validate::{
    validate_callback, validate_callback_at, validate_callback_identified, Identity, Refused,
};
pub use validated::{FailedTest, ValidatedCallback, Workflow};

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod storable_tests;
#[cfg(test)]
mod tests;
