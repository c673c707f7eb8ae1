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
