//! The failed tests of a job, their JSON text (`failed_tests_json`), and the copy cut to a byte
//! budget for DynamoDB.
//!
//! ClickHouse keeps the full list. A DynamoDB item is limited to 400 KB, and a job may report
//! 1,000 failed tests with 1 KiB messages and 4 KiB stack traces (about 5 MB of JSON, or what
//! fits in ingest's 2 MiB body), so the DynamoDB copy is cut by [`FailedTests::bounded`], giving
//! up the least useful text first: stack traces, then messages, and only then whole entries
//! from the end of the list. Every cut is marked in the data itself (the entry's
//! `message_truncated`/`stacktrace_truncated` flags, the list's `omitted` count), so a reader
//! of the item can tell a cut list from a complete one.

use oot_avro::event::FailedTest;
use serde::{Deserialize, Serialize};

/// Bytes of JSON the failed tests may take in a DynamoDB item, which holds the list twice (in
/// the merge state and in `failed_tests_json`): two copies of what ingest lets a callback keep
/// (`MAX_STORED_FAILED_TESTS_BYTES`, sized with the item's other parts in `oot_contract::limits`).
pub const DYNAMODB_FAILED_TESTS_BUDGET: usize =
    2 * oot_contract::limits::MAX_STORED_FAILED_TESTS_BYTES;

/// The failed tests of a job as kept in a record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FailedTests {
    /// The tests, in the order the job reported them.
    pub tests: Vec<FailedTest>,
    /// Entries left out at the end of `tests` to fit a byte budget; 0 for a full list.
    pub omitted: u64,
}

impl FailedTests {
    /// The full list of one callback.
    pub fn new(tests: Vec<FailedTest>) -> FailedTests {
        FailedTests { tests, omitted: 0 }
    }

    /// `failed_tests_json`: compact JSON array of the tests (see [`failed_tests_json`]).
    pub fn to_json(&self) -> String {
        failed_tests_json(&self.tests)
    }

    /// Whether anything was cut by [`FailedTests::bounded`] (or by ingest, which sets the same
    /// flags when it shortens a message or stack trace).
    pub fn is_cut(&self) -> bool {
        self.omitted > 0
            || self
                .tests
                .iter()
                .any(|t| t.message_truncated || t.stacktrace_truncated)
    }

    /// A copy whose [`FailedTests::to_json`] is at most `budget` bytes (a budget under 2 bytes,
    /// too small for `[]`, yields an empty list). A list that fits is returned unchanged, so
    /// `bounded` is idempotent. Otherwise, walking the list in order:
    /// 1. every entry keeps its name, class name and duration (if even these do not all fit,
    ///    the longest prefix that fits is kept and the rest counted in `omitted`);
    /// 2. then messages are put back, first failure first, while they fit;
    /// 3. then stack traces, likewise.
    ///
    /// Removed text is marked by setting the entry's `*_truncated` flag.
    pub fn bounded(&self, budget: usize) -> FailedTests {
        if json_array_len(self.tests.iter().map(entry_len)) <= budget {
            return self.clone();
        }

        let mut kept: Vec<FailedTest> = self.tests.iter().map(names_only).collect();
        let mut lens: Vec<usize> = kept.iter().map(entry_len).collect();
        let mut size = json_array_len(lens.iter().copied());
        if size > budget {
            let mut size = 2;
            let mut count = 0;
            for len in &lens {
                let added = len + usize::from(count > 0);
                if size + added > budget {
                    break;
                }
                size += added;
                count += 1;
            }
            kept.truncate(count);
            let dropped = (self.tests.len() - count) as u64;
            return FailedTests {
                tests: kept,
                omitted: self.omitted.saturating_add(dropped),
            };
        }

        let upgrades: [fn(&FailedTest) -> FailedTest; 2] = [without_stacktrace, FailedTest::clone];
        for upgrade in upgrades {
            for (i, original) in self.tests.iter().enumerate() {
                let candidate = upgrade(original);
                let len = entry_len(&candidate);
                // `size` includes `lens[i]`, so this cannot underflow.
                let new_size = size - lens[i] + len;
                if new_size <= budget {
                    size = new_size;
                    lens[i] = len;
                    kept[i] = candidate;
                }
            }
        }
        FailedTests {
            tests: kept,
            omitted: self.omitted,
        }
    }
}

/// `failed_tests_json`: a compact JSON array with one object per test, keys in this order:
/// `name`, `classname`, `message`, `stacktrace`, `duration_s` (each `null` when absent),
/// `message_truncated`, `stacktrace_truncated`. Written by hand rather than through serde so it
/// cannot fail and its bytes do not depend on serde_json features another crate switches on.
pub fn failed_tests_json(tests: &[FailedTest]) -> String {
    let mut out = String::with_capacity(json_array_len(tests.iter().map(entry_len)));
    out.push('[');
    for (i, test) in tests.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_entry(&mut out, test);
    }
    out.push(']');
    out
}

fn names_only(test: &FailedTest) -> FailedTest {
    FailedTest {
        message: None,
        message_truncated: test.message_truncated || test.message.is_some(),
        ..without_stacktrace(test)
    }
}

fn without_stacktrace(test: &FailedTest) -> FailedTest {
    FailedTest {
        stacktrace: None,
        stacktrace_truncated: test.stacktrace_truncated || test.stacktrace.is_some(),
        ..test.clone()
    }
}

fn entry_len(test: &FailedTest) -> usize {
    let mut out = String::new();
    write_entry(&mut out, test);
    out.len()
}

/// Bytes of `[a,b,...]` given the lengths of the entries.
fn json_array_len(entry_lens: impl Iterator<Item = usize>) -> usize {
    let (count, sum) = entry_lens.fold((0usize, 0usize), |(n, s), len| (n + 1, s + len));
    2 + sum + count.saturating_sub(1)
}

fn write_entry(out: &mut String, test: &FailedTest) {
    out.push_str("{\"name\":");
    write_str(out, &test.name);
    out.push_str(",\"classname\":");
    write_str(out, &test.classname);
    out.push_str(",\"message\":");
    write_opt_str(out, test.message.as_deref());
    out.push_str(",\"stacktrace\":");
    write_opt_str(out, test.stacktrace.as_deref());
    out.push_str(",\"duration_s\":");
    write_opt_f64(out, test.duration_s);
    out.push_str(",\"message_truncated\":");
    out.push_str(if test.message_truncated {
        "true"
    } else {
        "false"
    });
    out.push_str(",\"stacktrace_truncated\":");
    out.push_str(if test.stacktrace_truncated {
        "true"
    } else {
        "false"
    });
    out.push('}');
}

fn write_opt_str(out: &mut String, value: Option<&str>) {
    match value {
        Some(s) => write_str(out, s),
        None => out.push_str("null"),
    }
}

fn write_opt_f64(out: &mut String, value: Option<f64>) {
    // JSON has no NaN or infinity (ingest never accepts them; if one got here, null is the
    // honest rendering). serde_json's Number prints the shortest text that reads back exactly.
    match value.and_then(serde_json::Number::from_f64) {
        Some(n) => out.push_str(&n.to_string()),
        None => out.push_str("null"),
    }
}

/// A JSON string literal; non-ASCII text is kept as UTF-8, only what JSON requires is escaped.
fn write_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let code = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 0x0f]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
