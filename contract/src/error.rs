//! [`InvalidValue`]: why one value is not a word of the contract.

/// Why a single value was refused by a contract type's `parse`. The caller attaches where the
/// value came from (a JSON path at ingest, a column or attribute name in a store); the type
/// itself does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(String);

impl InvalidValue {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}
