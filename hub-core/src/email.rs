//! Email addresses as cophub keys people by them: normalized (trimmed and
//! lower-cased) for matching, with the form the person typed kept for display.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid email address, normalized for comparison.
///
/// Two `Email`s are equal when their normalized forms are equal, so
/// `Ada@Example.org` and ` ada@example.org` name the same person.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    normalized: String,
    display: String,
}

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid email address")]
pub struct InvalidEmail {
    /// What was given, trimmed and cut to a readable length.
    pub input: String,
}

impl Email {
    /// Parses and normalizes an address.
    ///
    /// # Errors
    /// [`InvalidEmail`] when the trimmed input is not an address (RFC 5322
    /// addr-spec as the `email_address` crate checks it, without display names).
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let display = input.trim();
        let invalid = || InvalidEmail {
            input: display.chars().take(80).collect(),
        };
        // Display names ("Ada <ada@x>") and control characters are refused: the
        // address goes into mail headers and must be one plain addr-spec.
        if display.is_empty()
            || display.len() > 254
            || display
                .chars()
                .any(|c| c.is_control() || c.is_whitespace() || c == '<')
        {
            return Err(invalid());
        }
        if !email_address::EmailAddress::is_valid(display) {
            return Err(invalid());
        }
        Ok(Self {
            normalized: display.to_lowercase(),
            display: display.to_owned(),
        })
    }

    /// Rebuilds an address from storage, where both forms were kept.
    #[must_use]
    pub fn from_stored(normalized: String, display: String) -> Self {
        Self {
            normalized,
            display,
        }
    }

    /// The form used as a key: trimmed and lower-cased.
    #[must_use]
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The form the person gave, trimmed.
    #[must_use]
    pub fn display(&self) -> &str {
        &self.display
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized == other.normalized
    }
}
impl Eq for Email {}

impl std::hash::Hash for Email {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized.hash(state);
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.display)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.display
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_case_and_spaces_do_not_make_another_person() {
        let a = Email::parse("  Ada.Lovelace@Example.ORG ").unwrap();
        let b = Email::parse("ada.lovelace@example.org").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.normalized(), "ada.lovelace@example.org");
        assert_eq!(a.display(), "Ada.Lovelace@Example.ORG");
    }

    #[test]
    fn display_names_header_injection_and_garbage_are_refused() {
        for bad in [
            "",
            "ada",
            "Ada <ada@example.org>",
            "ada@example.org\r\nBcc: x@y.z",
            "a b@example.org",
            "@example.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
