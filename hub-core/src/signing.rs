//! Signed links: a message and an HMAC-SHA256 tag, for links that must work
//! without a database row (an unsubscribe link in a year-old message, a
//! bounce address). Made by [`crate::secrets::SecretKeys::signer`].

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Signs with the first key, verifies with every key.
pub struct Signer {
    keys: Vec<[u8; 32]>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl Signer {
    pub(crate) fn new(keys: Vec<[u8; 32]>) -> Self {
        Self { keys }
    }

    /// The tag of `message`, cut to `len` bytes (at most 32).
    #[must_use]
    pub fn tag(&self, message: &[u8], len: usize) -> Vec<u8> {
        self.keys
            .first()
            .map(|key| tag_with(key, message, len))
            .unwrap_or_default()
    }

    /// Whether `tag` is `message`'s tag under any key, compared in constant
    /// time.
    #[must_use]
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        !tag.is_empty()
            && self
                .keys
                .iter()
                .any(|key| bool::from(tag_with(key, message, tag.len()).ct_eq(tag)))
    }
}

/// The hex HMAC-SHA256 of `message` under `secret` (Zoom's URL validation
/// answers its challenge with it).
#[must_use]
pub fn hmac_sha256_hex(secret: &str, message: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// Requests signed with [`verify_v0`] older (or newer) than this are refused
/// as replays.
pub const REPLAY_WINDOW_SECONDS: i64 = 5 * 60;

/// Why a pushed request is not from the tool that claims to send it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The timestamp or the signature header is missing or unreadable.
    #[error("the request has no readable {0} header")]
    Missing(&'static str),
    /// The timestamp is outside the replay window.
    #[error("the request's timestamp is more than five minutes away from now")]
    Stale,
    /// The signature does not match the body.
    #[error("the request's signature does not match")]
    Mismatch,
}

/// Checks a "v0" request signature, as Slack (`X-Slack-Signature`) and Zoom
/// (`x-zm-signature`) both send it: `v0=` and the hex HMAC-SHA256 of
/// `v0:{timestamp}:{raw body}` under the shared secret, compared in constant
/// time, with the timestamp (Unix seconds) within five minutes of `now`.
///
/// # Errors
/// A [`SignatureError`] saying what is wrong.
pub fn verify_v0(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp
        .map(str::trim)
        .ok_or(SignatureError::Missing("timestamp"))?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Missing("timestamp"))?;
    if (now - seconds).abs() > REPLAY_WINDOW_SECONDS {
        return Err(SignatureError::Stale);
    }
    let signature = signature
        .and_then(|s| s.trim().strip_prefix("v0="))
        .ok_or(SignatureError::Missing("signature"))?;
    let expected = hex::decode(signature).map_err(|_| SignatureError::Mismatch)?;
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Err(SignatureError::Mismatch);
    };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn tag_with(key: &[u8; 32], message: &[u8], len: usize) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes a key of any length; this branch cannot run.
        return Vec::new();
    };
    mac.update(message);
    let full = mac.finalize().into_bytes();
    full[..len.min(full.len())].to_vec()
}

#[cfg(test)]
mod tests {
    use crate::secrets::SecretKeys;

    #[test]
    fn a_tag_verifies_under_its_purpose_and_survives_rotation() {
        let old = SecretKeys::generate_hex();
        let keys = SecretKeys::from_hex_list(&old).unwrap();
        let tag = keys.signer("unsubscribe").tag(b"member", 16);
        assert_eq!(tag.len(), 16);
        assert!(keys.signer("unsubscribe").verify(b"member", &tag));
        assert!(!keys.signer("verp").verify(b"member", &tag));
        assert!(!keys.signer("unsubscribe").verify(b"other", &tag));
        assert!(!keys.signer("unsubscribe").verify(b"member", &[]));

        let rotated =
            SecretKeys::from_hex_list(&format!("{},{old}", SecretKeys::generate_hex())).unwrap();
        assert!(rotated.signer("unsubscribe").verify(b"member", &tag));
        let fresh = SecretKeys::from_hex_list(&SecretKeys::generate_hex()).unwrap();
        assert!(!fresh.signer("unsubscribe").verify(b"member", &tag));
    }
}

#[cfg(test)]
mod v0_tests {
    use super::*;

    fn sign(secret: &str, timestamp: i64, body: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            unreachable!("HMAC takes any key length")
        };
        mac.update(format!("v0:{timestamp}:{body}").as_bytes());
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    const NOW: i64 = 1_700_000_000;
    const BODY: &str = r#"{"type":"event_callback","team_id":"T1","event_id":"Ev1"}"#;

    #[test]
    fn a_good_v0_signature_passes() {
        let signature = sign("s3cret", NOW - 10, BODY);
        let ts = (NOW - 10).to_string();
        assert_eq!(
            verify_v0("s3cret", Some(&ts), Some(&signature), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_a_wrong_secret_a_stale_or_missing_header_fail() {
        let ts = NOW.to_string();
        let signature = sign("s3cret", NOW, BODY);
        let tampered = BODY.replace("T1", "T2");
        assert_eq!(
            verify_v0(
                "s3cret",
                Some(&ts),
                Some(&signature),
                tampered.as_bytes(),
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_v0("other", Some(&ts), Some(&signature), BODY.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
        let old = (NOW - 301).to_string();
        let old_signature = sign("s3cret", NOW - 301, BODY);
        assert_eq!(
            verify_v0(
                "s3cret",
                Some(&old),
                Some(&old_signature),
                BODY.as_bytes(),
                NOW
            ),
            Err(SignatureError::Stale)
        );
        assert!(matches!(
            verify_v0("s3cret", None, Some(&signature), BODY.as_bytes(), NOW),
            Err(SignatureError::Missing(_))
        ));
        assert!(matches!(
            verify_v0("s3cret", Some(&ts), None, BODY.as_bytes(), NOW),
            Err(SignatureError::Missing(_))
        ));
        assert_eq!(
            verify_v0("s3cret", Some(&ts), Some("v0=zz"), BODY.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
    }
}
