//! The ways a callback body is refused, shaped so the HTTP layer can answer 400 with a body that
//! names every offending field.

use serde::Serialize;

use super::limits::cut_at_char_boundary;
use oot_contract::limits::MAX_PROBLEM_TEXT_BYTES;

/// JSON path used for problems about the body as a whole (not JSON, not an object).
pub const ROOT_PATH: &str = "$";

/// One thing wrong with a callback: where (a dotted JSON path such as
/// `untrusted.callback_payload.workflow.run_attempt`, with `[i]` for array items) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

impl Problem {
    /// Both texts are cut to [`MAX_PROBLEM_TEXT_BYTES`] (marked with `…`): a path can hold an
    /// over-long key and a message can quote the value, and both are the sender's bytes.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: bounded_text(field.into()),
            message: bounded_text(message.into()),
        }
    }
}

fn bounded_text(mut text: String) -> String {
    if text.len() > MAX_PROBLEM_TEXT_BYTES {
        let kept = cut_at_char_boundary(&text, MAX_PROBLEM_TEXT_BYTES - '…'.len_utf8()).len();
        text.truncate(kept);
        text.push('…');
    }
    text
}

/// A refused callback. Every variant is a client error (HTTP 400); nothing of it may be stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// The body does not parse as JSON (includes invalid UTF-8, trailing data, nesting deeper
    /// than serde_json's recursion limit).
    #[error("body is not JSON: {message}")]
    NotJson {
        /// serde_json's own description, which already names line and column.
        message: String,
        line: usize,
        column: usize,
    },
    /// The body is JSON but its top level is not an object.
    #[error("body is JSON but not an object (found {found})")]
    NotAnObject { found: &'static str },
    /// The body is a JSON object that breaks one or more rules of the contract. `problems` is
    /// never empty and holds at most [`oot_contract::limits::MAX_PROBLEMS_LISTED`]; the others are only counted.
    #[error("callback failed validation: {}", summarize(.problems, *.not_listed))]
    Invalid {
        problems: Vec<Problem>,
        /// Problems found beyond the listed ones.
        not_listed: usize,
    },
}

/// One line for logs: bounded like the answer (listed problems only, each text bounded).
fn summarize(problems: &[Problem], not_listed: usize) -> String {
    let mut line = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    if not_listed > 0 {
        line.push_str(&format!("; and {not_listed} more problems not listed"));
    }
    line
}

impl ValidationError {
    /// The machine-readable `error` code of the response body. `invalid_json` when the body does
    /// not parse; `validation_failed` for everything else, including a non-object top level
    /// (that is a wrong type at the root, reported as a problem at `$`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson { .. } => "invalid_json",
            Self::NotAnObject { .. } | Self::Invalid { .. } => "validation_failed",
        }
    }

    /// The problems in the shape of the response body; the two body-level variants become one
    /// problem at [`ROOT_PATH`] so a client only ever has to parse one shape.
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::NotJson { message, .. } => {
                vec![Problem::new(
                    ROOT_PATH,
                    format!("body is not JSON: {message}"),
                )]
            }
            Self::NotAnObject { found } => vec![Problem::new(
                ROOT_PATH,
                format!("expected a JSON object, got {found}"),
            )],
            Self::Invalid { problems, .. } => problems.clone(),
        }
    }

    /// Every problem found, listed or not.
    pub fn problems_total(&self) -> usize {
        match self {
            Self::NotJson { .. } | Self::NotAnObject { .. } => 1,
            Self::Invalid {
                problems,
                not_listed,
            } => problems.len() + not_listed,
        }
    }

    /// The 400 response body:
    /// `{"error":"validation_failed","problems":[{"field":"...","message":"..."}],
    /// "problems_total":N}`: at most [`oot_contract::limits::MAX_PROBLEMS_LISTED`] problems, in the order found, and
    /// the count of all. `invalid_json` bodies also carry `line` and `column`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.code().into());
        let problems = self
            .problems()
            .into_iter()
            .map(|p| serde_json::json!({ "field": p.field, "message": p.message }))
            .collect();
        body.insert("problems".into(), serde_json::Value::Array(problems));
        body.insert("problems_total".into(), self.problems_total().into());
        if let Self::NotJson { line, column, .. } = self {
            body.insert("line".into(), (*line).into());
            body.insert("column".into(), (*column).into());
        }
        serde_json::Value::Object(body)
    }
}

impl Serialize for ValidationError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
