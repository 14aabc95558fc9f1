//! A canonical byte encoding of the values a job record holds.
//!
//! It serves two purposes, and both need it to be *injective* (two different values never share
//! an encoding) and *stable* (the same value encodes the same way in every build, because ranks
//! computed from it are stored in DynamoDB and recomputed on replay):
//! - the content digest that breaks ties between two events of equal stage and time
//!   ([`super::rank::Rank`]);
//! - the last-resort order between two values of one field that carry the same rank.
//!
//! Length prefixes make concatenation unambiguous; floats are encoded by their bit pattern so
//! `-0.0`/`0.0` and different NaNs stay distinct. Changing this encoding changes stored ranks:
//! bump [`DIGEST_DOMAIN`] if it is ever done.

use oot_avro::event::{FailedTest, TestCounts};
use oot_contract::{
    Conclusion, DeliveryId, EventType, JobName, NumericId, PrNumber, RepoLevel, RepoName, Status,
    WorkflowName,
};
use sha2::{Digest, Sha256};

use super::failed::FailedTests;

/// Prefixed to every digest input, so a later encoding can never collide with this one.
pub(crate) const DIGEST_DOMAIN: &[u8] = b"oot-hud/merge/content/v1\0";

/// A value with a canonical byte encoding.
pub(crate) trait Canon {
    fn canon(&self, out: &mut Vec<u8>);

    fn canon_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.canon(&mut out);
        out
    }
}

impl Canon for str {
    fn canon(&self, out: &mut Vec<u8>) {
        (self.len() as u64).canon(out);
        out.extend_from_slice(self.as_bytes());
    }
}

impl Canon for String {
    fn canon(&self, out: &mut Vec<u8>) {
        self.as_str().canon(out);
    }
}

impl Canon for u64 {
    fn canon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Canon for i64 {
    fn canon(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl Canon for f64 {
    fn canon(&self, out: &mut Vec<u8>) {
        self.to_bits().canon(out);
    }
}

impl Canon for bool {
    fn canon(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl<T: Canon> Canon for Option<T> {
    fn canon(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.canon(out);
            }
        }
    }
}

impl<T: Canon> Canon for [T] {
    fn canon(&self, out: &mut Vec<u8>) {
        (self.len() as u64).canon(out);
        for item in self {
            item.canon(out);
        }
    }
}

impl<T: Canon> Canon for Vec<T> {
    fn canon(&self, out: &mut Vec<u8>) {
        self.as_slice().canon(out);
    }
}

/// The contract's words encode as the string they were parsed from, exactly as the `String`s
/// stored before they were typed: the tie-break order between stored values must not change.
macro_rules! canon_as_str {
    ($($t:ty),+) => {$(
        impl Canon for $t {
            fn canon(&self, out: &mut Vec<u8>) {
                self.as_str().canon(out);
            }
        }
    )+};
}
canon_as_str!(
    Status,
    Conclusion,
    RepoName,
    RepoLevel,
    DeliveryId,
    EventType,
    WorkflowName,
    JobName,
    NumericId
);

/// As the `i64` it was before it was typed.
impl Canon for PrNumber {
    fn canon(&self, out: &mut Vec<u8>) {
        i64::from(self.get()).canon(out);
    }
}

impl Canon for TestCounts {
    fn canon(&self, out: &mut Vec<u8>) {
        self.passed.canon(out);
        self.failed.canon(out);
        self.skipped.canon(out);
        self.total.canon(out);
    }
}

impl Canon for FailedTest {
    fn canon(&self, out: &mut Vec<u8>) {
        self.name.canon(out);
        self.classname.canon(out);
        self.message.canon(out);
        self.stacktrace.canon(out);
        self.duration_s.canon(out);
        self.message_truncated.canon(out);
        self.stacktrace_truncated.canon(out);
    }
}

impl Canon for FailedTests {
    fn canon(&self, out: &mut Vec<u8>) {
        self.tests.canon(out);
        self.omitted.canon(out);
    }
}

/// Lower-case hex SHA-256 of the domain prefix followed by the encodings of `parts` in order.
/// Hex (not bytes) so the digest reads well in a stored record and orders like the bytes.
pub(crate) fn digest(parts: &[&dyn Canon]) -> String {
    let mut input = DIGEST_DOMAIN.to_vec();
    for part in parts {
        part.canon(&mut input);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(&input) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}
