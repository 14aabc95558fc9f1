//! Who may write: the relay, holding one of the shared secrets sent in `x-hud-internal-bot`.
//!
//! Several secrets can be valid at once so the secret can be rotated without downtime: add the
//! new one, move the relay over, remove the old one. The comparison takes the same time whatever
//! the presented value: both sides are hashed to fixed-length digests (so the length of a valid
//! secret does not leak either) and compared with `subtle`'s constant-time equality, against
//! every valid secret without stopping at the first match.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The header the relay (and HUD's own bot) sends the shared secret in.
pub const TOKEN_HEADER: &str = "x-hud-internal-bot";

/// A secret shorter than this is refused at start-up: it could be guessed.
pub const MIN_TOKEN_LEN: usize = 16;

/// The secrets currently accepted.
pub struct IngestTokens {
    digests: Vec<[u8; 32]>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenConfigError {
    #[error("OOT_INGEST_TOKENS holds no token; set it to the secret(s) shared with the relay, comma separated")]
    Empty,
    #[error("OOT_INGEST_TOKENS entry {position} is shorter than {MIN_TOKEN_LEN} characters")]
    TooShort { position: usize },
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl IngestTokens {
    /// Parses a comma-separated list; blanks around entries are ignored.
    pub fn parse(list: &SecretString) -> Result<Self, TokenConfigError> {
        let mut digests = Vec::new();
        for (index, token) in list.expose_secret().split(',').map(str::trim).enumerate() {
            if token.is_empty() {
                continue;
            }
            if token.len() < MIN_TOKEN_LEN {
                return Err(TokenConfigError::TooShort {
                    position: index + 1,
                });
            }
            digests.push(digest(token.as_bytes()));
        }
        if digests.is_empty() {
            return Err(TokenConfigError::Empty);
        }
        Ok(Self { digests })
    }

    /// Whether `presented` is one of the valid secrets, in time independent of which one.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let presented = digest(presented);
        let matched = self.digests.iter().fold(Choice::from(0), |found, valid| {
            found | valid.ct_eq(&presented)
        });
        matched.into()
    }
}

impl std::fmt::Debug for IngestTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IngestTokens({} valid, redacted)", self.digests.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(list: &str) -> Result<IngestTokens, TokenConfigError> {
        IngestTokens::parse(&SecretString::from(list.to_owned()))
    }

    #[test]
    fn every_listed_token_is_accepted_during_a_rotation() {
        let valid = tokens("old-secret-0123456789, new-secret-0123456789").unwrap();
        assert!(valid.accepts(b"old-secret-0123456789"));
        assert!(valid.accepts(b"new-secret-0123456789"));
    }

    #[test]
    fn anything_else_is_refused() {
        let valid = tokens("the-only-secret-0123").unwrap();
        for wrong in [
            &b""[..],
            b"the-only-secret-012",
            b"the-only-secret-01234",
            b"THE-ONLY-SECRET-0123",
        ] {
            assert!(
                !valid.accepts(wrong),
                "{:?} accepted",
                String::from_utf8_lossy(wrong)
            );
        }
    }

    #[test]
    fn configuration_without_a_usable_token_is_refused() {
        assert_eq!(tokens(" , ").unwrap_err(), TokenConfigError::Empty);
        assert_eq!(
            tokens("long-enough-secret-1,short").unwrap_err(),
            TokenConfigError::TooShort { position: 2 }
        );
    }

    #[test]
    fn debug_output_does_not_reveal_tokens() {
        let valid = tokens("visible-if-leaked-0123").unwrap();
        assert!(!format!("{valid:?}").contains("visible"));
    }
}
