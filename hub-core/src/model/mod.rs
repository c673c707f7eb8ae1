//! The domain types of cophub. Plain data with the rules that belong to it;
//! storage and transport live elsewhere.

pub mod announcement;
pub mod audit;
pub mod call;
pub mod channel;
pub mod community;
pub mod conference;
pub mod event;
pub mod member;
pub mod sync;
pub mod user;

/// Implements `as_str`, `Display` and `FromStr` for a field-less enum whose
/// variants are stored and typed as lower-case words.
macro_rules! word_enum {
    ($name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word stored in the database and shown in the API.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::model::UnknownWord;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    _ => Err(crate::model::UnknownWord {
                        what: stringify!($name),
                        given: s.chars().take(40).collect(),
                        expected: &[$($word),+],
                    }),
                }
            }
        }
    };
}
pub(crate) use word_enum;

/// A word that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a valid {what}: expected one of {}", expected.join(", "))]
pub struct UnknownWord {
    /// The type that was being read.
    pub what: &'static str,
    /// The word that was given.
    pub given: String,
    /// The words that are accepted.
    pub expected: &'static [&'static str],
}
