//! The stored form of a merge state (a job item's `merge_state`, docs/contract.md §9): the
//! record's fields, each with its rank written as an index into `ranks`, where the distinct
//! ranks are listed once.
//!
//! Why: a record's ~25 fields come from one to three callbacks, so they share one to three
//! ranks, and a rank holds a 64-character digest. Written in full with each field, a running
//! job's state was ~3.2 KB of a ~3.9 KB item; with the ranks listed once it is ~1.3 KB, the item
//! ~2.0 KB. DynamoDB bills reads and writes by the KB, and every batch reads and writes these
//! items. A state written with each rank in full (before this form) reads back the same.

use serde_json::{Map, Value};

use super::JobRecord;

/// The key of the distinct ranks in the stored form. No field of a record has this name.
const RANKS: &str = "ranks";
/// The key of a field's rank, as [`super::Sourced`] is written.
const RANK: &str = "rank";

/// `record` in its stored form.
pub fn to_stored(record: &JobRecord) -> serde_json::Result<String> {
    let mut fields = match serde_json::to_value(record)? {
        Value::Object(fields) => fields,
        // A record is a struct, so an object; anything else is written as it is.
        other => return serde_json::to_string(&other),
    };
    let mut ranks: Vec<Value> = Vec::new();
    for rank in fields.values_mut().filter_map(rank_of) {
        let index = match ranks.iter().position(|known| known == rank) {
            Some(index) => index,
            None => {
                ranks.push(rank.take());
                ranks.len() - 1
            }
        };
        *rank = Value::from(index);
    }
    fields.insert(RANKS.to_owned(), Value::Array(ranks));
    serde_json::to_string(&Value::Object(fields))
}

/// The record a stored merge state holds, in either form: ranks listed once (what
/// [`to_stored`] writes) or each in full (written before it).
pub fn from_stored(text: &str) -> serde_json::Result<JobRecord> {
    let mut value: Value = serde_json::from_str(text)?;
    if let Some(fields) = value.as_object_mut() {
        if let Some(ranks) = fields.remove(RANKS) {
            expand_ranks(fields, &ranks)?;
        }
    }
    serde_json::from_value(value)
}

/// Replaces each field's rank index by the rank `ranks` lists at it.
fn expand_ranks(fields: &mut Map<String, Value>, ranks: &Value) -> serde_json::Result<()> {
    let Value::Array(ranks) = ranks else {
        return Err(serde::de::Error::custom("`ranks` is not a list"));
    };
    for rank in fields.values_mut().filter_map(rank_of) {
        let listed = rank
            .as_u64()
            .and_then(|index| usize::try_from(index).ok())
            .and_then(|index| ranks.get(index));
        match listed {
            Some(listed) => *rank = listed.clone(),
            None => {
                return Err(serde::de::Error::custom(format!(
                    "rank {rank} is not an index into `ranks` ({} listed)",
                    ranks.len()
                )))
            }
        }
    }
    Ok(())
}

/// The rank of a field written as a sourced value (`{"value": …, "rank": …}`).
fn rank_of(field: &mut Value) -> Option<&mut Value> {
    field.as_object_mut().and_then(|field| field.get_mut(RANK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::{fold, in_progress, MERGE_STATE_V1};

    // The round trip of every record is `merge::proptests::stored_form_round_trips`.

    #[test]
    fn a_state_written_with_ranks_in_full_reads_as_before() {
        let before: JobRecord = serde_json::from_str(MERGE_STATE_V1).expect("the old form");
        assert_eq!(from_stored(MERGE_STATE_V1).expect("read"), before);
    }

    /// What the form is for: the same record in well under half the bytes (the item's
    /// DynamoDB write and read units follow its size).
    #[test]
    fn the_stored_form_lists_each_rank_once() {
        let record: JobRecord = serde_json::from_str(MERGE_STATE_V1).expect("the old form");
        let stored = to_stored(&record).expect("stored");
        let value: Value = serde_json::from_str(&stored).expect("json");
        // An in_progress and a completed callback: two ranks.
        assert_eq!(value[RANKS].as_array().map(Vec::len), Some(2));
        // Each field names the rank of the callback it came from: the status, the completed one.
        let status_rank = value["status"][RANK].as_u64().expect("an index");
        assert_eq!(value[RANKS][status_rank as usize]["stage"], "concluded");
        assert!(
            stored.len() * 2 < MERGE_STATE_V1.trim_end().len(),
            "{} bytes stored, {} with ranks in full",
            stored.len(),
            MERGE_STATE_V1.trim_end().len()
        );
    }

    #[test]
    fn a_rank_index_outside_the_list_is_refused_by_name() {
        let record = fold(&[in_progress()]);
        let stored = to_stored(&record).expect("stored");
        let broken = stored.replace(r#""rank":0"#, r#""rank":7"#);
        let error = from_stored(&broken).expect_err("no rank 7");
        assert!(
            error.to_string().contains("rank 7 is not an index"),
            "{error}"
        );
        let mut no_list: Value = serde_json::from_str(&stored).expect("json");
        no_list[RANKS] = serde_json::json!({ "x": no_list[RANKS].take() });
        let error = from_stored(&no_list.to_string()).expect_err("ranks not a list");
        assert!(
            error.to_string().contains("`ranks` is not a list"),
            "{error}"
        );
    }
}
