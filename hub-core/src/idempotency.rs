//! Idempotency keys: an API client sends `Idempotency-Key` with a request
//! that creates something, and a retry with the same key — after a timeout,
//! a dropped connection, a crash of the client — gets the first answer
//! instead of creating the thing twice.
//!
//! Keys belong to the API token that sent them and are kept for
//! [`KEY_LIFETIME`]. The store claims a key, does the work and keeps the
//! answer in one transaction (see `Store::publish_once`), so a key is never
//! used twice, even by concurrent requests or across a crash.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

/// How long a key is kept: a retry within this time gets the first answer;
/// after it the key is new again (and its old answer may be purged).
pub const KEY_LIFETIME: Duration = Duration::hours(24);

/// The longest key accepted, in characters.
pub const MAX_KEY_LENGTH: usize = 255;

/// Why an `Idempotency-Key` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The header is there but empty.
    #[error("the Idempotency-Key header is empty; send 1 to 255 visible ASCII characters")]
    Empty,
    /// Longer than [`MAX_KEY_LENGTH`].
    #[error("the Idempotency-Key header is longer than 255 characters")]
    TooLong,
    /// Spaces, control characters or anything beyond ASCII.
    #[error(
        "the Idempotency-Key header may hold only visible ASCII characters (no spaces); a UUID is a good key"
    )]
    NotVisible,
}

/// A checked key, as one API token sent it with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The hash of the API token that sent it (`auth::hash_secret`): keys
    /// are per token, so two clients never see each other's answers.
    pub token_hash: String,
    /// The key as sent.
    pub key: String,
    /// SHA-256 (hex) of what was asked: the operation and the raw body.
    /// The same key with another request is refused.
    pub request_hash: String,
}

impl IdempotencyKey {
    /// Checks `key` and fingerprints the request: `operation` names what is
    /// asked (method and path), `body` is the request body as sent.
    ///
    /// # Errors
    /// [`KeyError`] for an empty or long key, or one with characters other
    /// than visible ASCII.
    pub fn new(
        token_hash: &str,
        key: &str,
        operation: &str,
        body: &[u8],
    ) -> Result<Self, KeyError> {
        if key.is_empty() {
            return Err(KeyError::Empty);
        }
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeyError::NotVisible);
        }
        if key.len() > MAX_KEY_LENGTH {
            return Err(KeyError::TooLong);
        }
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        // The operation never holds a NUL, so no two requests hash alike.
        hash.update([0]);
        hash.update(body);
        Ok(Self {
            token_hash: token_hash.to_owned(),
            key: key.to_owned(),
            request_hash: hex::encode(hash.finalize()),
        })
    }
}

/// The oldest a kept key may be at `now` and still count.
#[must_use]
pub fn kept_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - KEY_LIFETIME
}

/// What a request sent with a key answered, kept to answer its retries
/// byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body (JSON).
    pub body: String,
}

/// What a key came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyUse {
    /// The key was new: the work was done now and this answer kept.
    First(KeptResponse),
    /// The same request was done with this key before: its kept answer.
    Repeat(KeptResponse),
    /// The key was used before for a different request.
    Mismatch,
}

impl KeyUse {
    /// What a kept key means for a request with `request_hash`.
    #[must_use]
    pub fn of_kept(kept_hash: &str, request_hash: &str, response: KeptResponse) -> Self {
        if kept_hash == request_hash {
            Self::Repeat(response)
        } else {
            Self::Mismatch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::new("t", "a", "POST /x", b"{}").is_ok());
        let longest = "k".repeat(255);
        assert!(IdempotencyKey::new("t", &longest, "POST /x", b"{}").is_ok());
        assert_eq!(
            IdempotencyKey::new("t", &"k".repeat(256), "POST /x", b"{}"),
            Err(KeyError::TooLong)
        );
        assert_eq!(
            IdempotencyKey::new("t", "", "POST /x", b"{}"),
            Err(KeyError::Empty)
        );
        for bad in ["with space", "tab\t", "ünïcode", "nul\0"] {
            assert_eq!(
                IdempotencyKey::new("t", bad, "POST /x", b"{}"),
                Err(KeyError::NotVisible),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_request_hash_covers_the_operation_and_the_body() {
        let hash = |operation: &str, body: &[u8]| {
            IdempotencyKey::new("t", "k", operation, body)
                .unwrap()
                .request_hash
        };
        assert_eq!(hash("POST /a", b"{}"), hash("POST /a", b"{}"));
        assert_ne!(hash("POST /a", b"{}"), hash("POST /b", b"{}"));
        assert_ne!(hash("POST /a", b"{}"), hash("POST /a", b"{ }"));
    }

    #[test]
    fn a_kept_key_repeats_only_for_the_same_request() {
        let response = KeptResponse {
            status: 201,
            body: "{}".into(),
        };
        assert_eq!(
            KeyUse::of_kept("h", "h", response.clone()),
            KeyUse::Repeat(response.clone())
        );
        assert_eq!(KeyUse::of_kept("h", "other", response), KeyUse::Mismatch);
    }
}
