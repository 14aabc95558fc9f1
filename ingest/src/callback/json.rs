//! Path-aware reading of a `serde_json::Value` tree: typed getters that record a [`Problem`]
//! (with the field's JSON path) instead of stopping, so one pass reports every fault.
//!
//! Conventions: a JSON `null` is the same as an absent field (senders write both); a getter
//! returning `None` has either found the field absent-and-optional or recorded a problem.

use serde_json::{Map, Value};

use super::error::{InvalidValue, Problem};
use super::limits::cut_at_char_boundary;

/// Whether a missing field is a problem, and if so why (for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    Required,
    /// Required because of another field's value, e.g. `status is "completed"`.
    RequiredWhen(&'static str),
    Optional,
}

/// What a pass over the document found: problems (refusals) and truncations (notes).
#[derive(Debug, Default)]
pub(super) struct Report {
    pub problems: Vec<Problem>,
    pub truncations: Vec<String>,
    /// Truncations beyond the note limit, counted instead of listed.
    pub truncations_not_listed: usize,
    pub max_truncation_notes: usize,
}

impl Report {
    pub fn new(max_truncation_notes: usize) -> Self {
        Self {
            max_truncation_notes,
            ..Self::default()
        }
    }

    pub fn problem(&mut self, field: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(field, message));
    }

    pub fn truncated(&mut self, note: String) {
        if self.truncations.len() < self.max_truncation_notes {
            self.truncations.push(note);
        } else {
            self.truncations_not_listed += 1;
        }
    }

    /// Cuts `s` to `max` bytes on a char boundary, noting the cut under `field`.
    /// Returns the kept text and whether it was cut.
    pub fn cut(&mut self, field: &str, s: &str, max: usize) -> (String, bool) {
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

pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// A JSON object together with its path from the document root.
#[derive(Debug, Clone)]
pub(super) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
}

/// The value of one field, with its path, when present and not null.
pub(super) struct Field<'a> {
    pub value: &'a Value,
    pub path: String,
}

impl<'a> Obj<'a> {
    pub fn new(map: &'a Map<String, Value>, path: impl Into<String>) -> Self {
        Self {
            map,
            path: path.into(),
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The field's value, `None` when absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The field, or a "required" problem when it is missing and `need` says so.
    pub fn field(&self, r: &mut Report, key: &str, need: Need) -> Option<Field<'a>> {
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

    pub fn object(&self, r: &mut Report, key: &str, need: Need) -> Option<Obj<'a>> {
        self.field(r, key, need)?.object(r)
    }

    pub fn str(&self, r: &mut Report, key: &str, need: Need) -> Option<(&'a str, String)> {
        let f = self.field(r, key, need)?;
        let s = f.str(r)?;
        Some((s, f.path))
    }

    pub fn array(&self, r: &mut Report, key: &str, need: Need) -> Option<(&'a [Value], String)> {
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

impl<'a> Field<'a> {
    pub fn object(&self, r: &mut Report) -> Option<Obj<'a>> {
        match self.value {
            Value::Object(map) => Some(Obj::new(map, self.path.clone())),
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
pub(super) enum Dig<'a> {
    Found(Field<'a>),
    /// The leaf (or an object on the way to it) is absent or null; the leaf's path.
    Absent(String),
    /// An object on the way was of another type; a problem was recorded.
    Invalid,
}

/// Follows `keys` from `obj` through nested objects.
pub(super) fn dig<'a>(r: &mut Report, obj: &Obj<'a>, keys: &[&str]) -> Dig<'a> {
    let full_path = keys.iter().fold(obj.path.clone(), |acc, k| join(&acc, k));
    let mut current = obj.map;
    let mut path = obj.path.clone();
    for (i, key) in keys.iter().enumerate() {
        path = join(&path, key);
        let Some(value) = current.get(*key).filter(|v| !v.is_null()) else {
            return Dig::Absent(full_path);
        };
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
    Dig::Absent(full_path)
}
