//! Path-aware reading of a `serde_json::Value` tree: typed getters that record a [`Problem`]
//! (with the field's JSON path) instead of stopping, so one pass reports every fault. Paths are
//! carried as borrowed [`Path`] chains and rendered only when something is recorded.
//!
//! Conventions: a JSON `null` is the same as an absent field (senders write both); a getter
//! returning `None` has either found the field absent-and-optional or recorded a problem.

use std::fmt;

use serde_json::{Map, Value};

use super::error::Problem;
use super::limits::cut_at_char_boundary;
use oot_contract::limits::{
    json_string_len, MAX_PROBLEMS_LISTED, MAX_STORED_TRUNCATION_NOTES_BYTES,
};
use oot_contract::InvalidValue;

/// Whether a missing field is a problem, and if so why (for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Required,
    /// Required because of another field's value, e.g. `status is "completed"`.
    RequiredWhen(&'static str),
    Optional,
}

/// What a pass over the document found: problems (refusals) and truncations (notes).
///
/// Both are bounded, because what is reported grows with the body and the body is the sender's:
/// at most [`MAX_PROBLEMS_LISTED`] problems are kept and the rest only counted (their paths are
/// never rendered), and notes are kept while their JSON text fits
/// [`MAX_STORED_TRUNCATION_NOTES_BYTES`] (they are stored with the job).
#[derive(Debug, Default)]
pub(super) struct Report {
    pub problems: Vec<Problem>,
    /// Problems found beyond [`MAX_PROBLEMS_LISTED`], counted instead of listed.
    pub problems_not_listed: usize,
    pub truncations: Vec<String>,
    /// Truncations beyond the note limits, counted instead of listed.
    pub truncations_not_listed: usize,
    pub max_truncation_notes: usize,
    /// JSON text of `truncations` so far (`[` and the commas included).
    truncations_json_bytes: usize,
}

/// Room kept under [`MAX_STORED_TRUNCATION_NOTES_BYTES`] for the last note, which counts the
/// notes not listed (`,"... and 18446744073709551615 more cuts not listed"` is 52 bytes).
const COUNT_NOTE_RESERVE: usize = 64;

impl Report {
    pub fn new(max_truncation_notes: usize) -> Self {
        Self {
            max_truncation_notes,
            truncations_json_bytes: 2,
            ..Self::default()
        }
    }

    /// Whether problems are no longer listed: callers with a costly message skip building it.
    pub fn problems_full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS_LISTED
    }

    pub fn has_problems(&self) -> bool {
        !self.problems.is_empty() || self.problems_not_listed > 0
    }

    pub fn problem(&mut self, field: &Path<'_>, message: impl Into<String>) {
        if self.problems_full() {
            self.problems_not_listed += 1;
        } else {
            self.problems.push(Problem::new(field.render(), message));
        }
    }

    /// Files the problems of a scratch report (kept ones first, then the count of the rest).
    pub fn absorb_problems(&mut self, other: Report) {
        for problem in other.problems {
            if self.problems_full() {
                self.problems_not_listed += 1;
            } else {
                self.problems.push(problem);
            }
        }
        self.problems_not_listed += other.problems_not_listed;
    }

    pub fn truncated(&mut self, note: String) {
        let added = json_string_len(&note) + usize::from(!self.truncations.is_empty());
        let fits = self.truncations_json_bytes + added + COUNT_NOTE_RESERVE
            <= MAX_STORED_TRUNCATION_NOTES_BYTES;
        if self.truncations.len() < self.max_truncation_notes && fits {
            self.truncations_json_bytes += added;
            self.truncations.push(note);
        } else {
            self.truncations_not_listed += 1;
        }
    }

    /// Notes of a scratch report, in order, under this report's bounds.
    pub fn absorb_truncations(&mut self, notes: Vec<String>) {
        for note in notes {
            self.truncated(note);
        }
    }

    /// A note that matters more than the per-field ones (what was dropped whole): listed first,
    /// pushing the last listed note into the count when the list is full.
    pub fn truncated_first(&mut self, note: String) {
        let added = json_string_len(&note) + 1;
        while !self.truncations.is_empty()
            && (self.truncations.len() >= self.max_truncation_notes
                || self.truncations_json_bytes + added + COUNT_NOTE_RESERVE
                    > MAX_STORED_TRUNCATION_NOTES_BYTES)
        {
            if let Some(last) = self.truncations.pop() {
                self.truncations_json_bytes -=
                    json_string_len(&last) + usize::from(!self.truncations.is_empty());
                self.truncations_not_listed += 1;
            }
        }
        let had = self.truncations.len();
        self.truncated(note);
        if self.truncations.len() > had {
            self.truncations.rotate_right(1);
        }
    }

    /// Cuts `s` to `max` bytes on a char boundary, noting the cut under `field`.
    /// Returns the kept text and whether it was cut.
    pub fn cut(&mut self, field: &Path<'_>, s: &str, max: usize) -> (String, bool) {
        let kept = cut_at_char_boundary(s, max);
        let was_cut = kept.len() < s.len();
        if was_cut {
            self.truncated(format!(
                "{field}: cut from {} to {} bytes (limit {max})",
                s.len(),
                kept.len()
            ));
        }
        (kept.to_owned(), was_cut)
    }

    pub fn finish_truncations(&mut self) -> Vec<String> {
        let mut notes = std::mem::take(&mut self.truncations);
        if self.truncations_not_listed > 0 {
            notes.push(format!(
                "... and {} more cuts not listed",
                self.truncations_not_listed
            ));
        }
        notes
    }
}

/// "a string", "an object", ... for messages such as "expected a string, got a number".
pub(super) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Where a value sits in the document: a chain of borrowed steps back to the root, rendered to
/// its dotted form (`untrusted.callback_payload.workflow.failed_tests[3].message`) only when a
/// problem or a cut is recorded. A valid callback visits some forty fields and reports none, so
/// building each field's path string up front was most of what validation cost beyond parsing.
#[derive(Debug, Clone, Copy)]
pub(super) enum Path<'p> {
    /// The document itself; renders as the empty string, so its fields render as bare keys.
    Root,
    /// `parent.key`.
    Key(&'p Path<'p>, &'p str),
    /// `parent.k1.k2...`: where a nested lookup ([`dig`]) stopped, without a step per key.
    Keys(&'p Path<'p>, &'p [&'p str]),
    /// `parent[i]`.
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        // A key is joined with `.` unless nothing precedes it: the same test on the rendered
        // prefix as the former eager `join`, so every path reads exactly as before.
        fn push_key(out: &mut String, key: &str) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        match *self {
            Path::Root => {}
            Path::Key(parent, key) => {
                parent.render_into(out);
                push_key(out, key);
            }
            Path::Keys(parent, keys) => {
                parent.render_into(out);
                for key in keys {
                    push_key(out, key);
                }
            }
            Path::Index(parent, i) => {
                parent.render_into(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

/// A JSON object together with its path from the document root. `'a` is the document, `'p`
/// the (shorter-lived) chain of parent paths on the caller's stack.
#[derive(Debug, Clone, Copy)]
pub(super) struct Obj<'a, 'p> {
    pub map: &'a Map<String, Value>,
    pub path: Path<'p>,
}

/// The value of one field, with its path, when present and not null.
pub(super) struct Field<'a, 'p> {
    pub value: &'a Value,
    pub path: Path<'p>,
}

impl<'a, 'p> Obj<'a, 'p> {
    pub fn new(map: &'a Map<String, Value>, path: Path<'p>) -> Self {
        Self { map, path }
    }

    pub fn path_of<'s>(&'s self, key: &'s str) -> Path<'s> {
        Path::Key(&self.path, key)
    }

    /// The field's value, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The field, or a "required" problem when it is missing and `need` says so.
    pub fn field<'s>(&'s self, r: &mut Report, key: &'s str, need: Need) -> Option<Field<'a, 's>> {
        if let Some(value) = self.get(key) {
            return Some(Field {
                value,
                path: self.path_of(key),
            });
        }
        match need {
            Need::Required => r.problem(&self.path_of(key), "is required"),
            Need::RequiredWhen(why) => {
                r.problem(&self.path_of(key), format!("is required when {why}"))
            }
            Need::Optional => {}
        }
        None
    }

    pub fn object<'s>(&'s self, r: &mut Report, key: &'s str, need: Need) -> Option<Obj<'a, 's>> {
        self.field(r, key, need)?.object(r)
    }

    pub fn str<'s>(
        &'s self,
        r: &mut Report,
        key: &'s str,
        need: Need,
    ) -> Option<(&'a str, Path<'s>)> {
        let f = self.field(r, key, need)?;
        let s = f.str(r)?;
        Some((s, f.path))
    }

    pub fn array<'s>(
        &'s self,
        r: &mut Report,
        key: &'s str,
        need: Need,
    ) -> Option<(&'a [Value], Path<'s>)> {
        let f = self.field(r, key, need)?;
        match f.value {
            Value::Array(items) => Some((items.as_slice(), f.path)),
            other => {
                r.problem(
                    &f.path,
                    format!("expected an array, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// A string field run through a domain type's `parse`, its refusal filed under the path.
    pub fn parsed<T>(
        &self,
        r: &mut Report,
        key: &str,
        need: Need,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        self.field(r, key, need)?.parsed(r, parse)
    }

    pub fn count(&self, r: &mut Report, key: &str, need: Need) -> Option<u64> {
        self.field(r, key, need)?.count(r)
    }
}

impl<'a, 'p> Field<'a, 'p> {
    pub fn object(&self, r: &mut Report) -> Option<Obj<'a, 'p>> {
        match self.value {
            Value::Object(map) => Some(Obj::new(map, self.path)),
            other => {
                r.problem(
                    &self.path,
                    format!("expected an object, got {}", describe(other)),
                );
                None
            }
        }
    }

    pub fn str(&self, r: &mut Report) -> Option<&'a str> {
        match self.value {
            Value::String(s) => Some(s.as_str()),
            other => {
                r.problem(
                    &self.path,
                    format!("expected a string, got {}", describe(other)),
                );
                None
            }
        }
    }

    pub fn parsed<T>(
        &self,
        r: &mut Report,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Option<T> {
        match parse(self.str(r)?) {
            Ok(v) => Some(v),
            Err(e) => {
                r.problem(&self.path, e.message());
                None
            }
        }
    }

    /// Any JSON number as f64 (JSON has no NaN or infinity).
    pub fn number(&self, r: &mut Report) -> Option<f64> {
        match self.value {
            Value::Number(n) => n.as_f64().or_else(|| {
                r.problem(&self.path, format!("is not representable, got {n}"));
                None
            }),
            other => {
                r.problem(
                    &self.path,
                    format!("expected a number, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// A JSON integer >= 0. `8430.0` is refused: a reporter that produces floats for counts is
    /// caught at once rather than having its values silently converted.
    pub fn count(&self, r: &mut Report) -> Option<u64> {
        let n = match self.value {
            Value::Number(n) => n,
            other => {
                r.problem(
                    &self.path,
                    format!("expected a non-negative integer, got {}", describe(other)),
                );
                return None;
            }
        };
        if let Some(u) = n.as_u64() {
            return Some(u);
        }
        let x = n.as_f64().unwrap_or(0.0);
        let message = if n.is_i64() || x < 0.0 {
            format!("must not be negative, got {n}")
        } else if x >= u64::MAX as f64 {
            format!("is too large, got {n}")
        } else if x.fract() != 0.0 {
            format!("expected an integer, got {n}")
        } else {
            format!("expected an integer (without a fraction or exponent), got {n}")
        };
        r.problem(&self.path, message);
        None
    }
}

/// Where a nested lookup ended.
pub(super) enum Dig<'a, 'p> {
    Found(Field<'a, 'p>),
    /// The leaf (or an object on the way to it) is absent or null; the leaf's path.
    Absent(Path<'p>),
    /// An object on the way was of another type; a problem was recorded.
    Invalid,
}

/// Follows `keys` from `obj` through nested objects.
pub(super) fn dig<'a, 'p>(
    r: &mut Report,
    obj: &'p Obj<'a, '_>,
    keys: &'p [&'p str],
) -> Dig<'a, 'p> {
    let mut current = obj.map;
    for (i, key) in keys.iter().enumerate() {
        let Some(value) = current.get(*key).filter(|v| !v.is_null()) else {
            return Dig::Absent(Path::Keys(&obj.path, keys));
        };
        let path = Path::Keys(&obj.path, &keys[..=i]);
        if i + 1 == keys.len() {
            return Dig::Found(Field { value, path });
        }
        match value {
            Value::Object(map) => current = map,
            other => {
                r.problem(
                    &path,
                    format!("expected an object, got {}", describe(other)),
                );
                return Dig::Invalid;
            }
        }
    }
    Dig::Absent(Path::Keys(&obj.path, keys))
}
