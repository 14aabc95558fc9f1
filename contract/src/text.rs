//! The two shapes every word of the contract takes: a validated string ([`string_type!`]) and a
//! closed set of spellings ([`string_enum!`]). Both travel as their string in JSON and in the
//! stores, and are read back through the same `parse`, so a stored value that no longer parses
//! is an error where it is read, never a silently different value.

use crate::InvalidValue;

pub(crate) fn invalid<T>(message: impl Into<String>) -> Result<T, InvalidValue> {
    Err(InvalidValue::new(message))
}

/// Implements `TryFrom<&str>`, `TryFrom<String>`, `AsRef<str>`, `Display`, `FromStr` and serde
/// (as the string, read back through `parse`) for a type with `parse(&str)` and `as_str()`.
macro_rules! string_type {
    ($t:ty) => {
        impl TryFrom<&str> for $t {
            type Error = $crate::InvalidValue;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $t {
            type Error = $crate::InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl std::str::FromStr for $t {
            type Err = $crate::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_type;

/// Generates a closed string enum with `parse`, `as_str`, `ALL` (every variant, in declaration
/// order) and the traits of [`string_type!`].
macro_rules! string_enum {
    ($(#[$meta:meta])* $t:ident, $what:literal, { $($(#[$vmeta:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $t {
            $($(#[$vmeta])* $variant),+
        }

        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$variant),+];

            pub fn parse(s: &str) -> Result<Self, $crate::InvalidValue> {
                match s {
                    $($s => Ok($t::$variant),)+
                    _ => $crate::text::invalid(format!(
                        "{} must be one of {}, got {:?}",
                        $what,
                        [$(concat!("\"", $s, "\"")),+].join(", "),
                        s
                    )),
                }
            }

            pub fn as_str(&self) -> &'static str {
                match self {
                    $($t::$variant => $s),+
                }
            }
        }
        $crate::text::string_type!($t);
    };
}
pub(crate) use string_enum;
