//! Third-party secrets (tokens, passwords of channels) encrypted at rest with
//! XChaCha20-Poly1305. Keys rotate: the first key encrypts, every key decrypts,
//! and each ciphertext names the key that made it.

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit},
};
use secrecy::{ExposeSecret, SecretBox};
use sha2::{Digest, Sha256};

/// The keys that protect stored secrets. `Debug` shows key ids only.
pub struct SecretKeys {
    keys: Vec<(String, SecretBox<[u8; 32]>)>,
}

impl std::fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretKeys").field("key_ids", &ids).finish()
    }
}

/// Why keys or a ciphertext could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A key is not 64 hexadecimal characters.
    #[error(
        "the secret key must be 64 hexadecimal characters (32 random bytes, e.g. from `openssl rand -hex 32`); several keys are separated by commas"
    )]
    BadKey,
    /// No key decrypts the value: the key was changed without keeping the old one.
    #[error(
        "a stored secret cannot be decrypted with any configured key (was the secret key changed without keeping the old one?)"
    )]
    Undecryptable,
}

impl SecretKeys {
    /// Reads a comma-separated list of hex keys; the first one encrypts.
    ///
    /// # Errors
    /// [`SecretError::BadKey`] when any key is not 64 hex characters.
    pub fn from_hex_list(list: &str) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for hex_key in list.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let mut key = [0u8; 32];
            hex::decode_to_slice(hex_key, &mut key).map_err(|_| SecretError::BadKey)?;
            let id = hex::encode(&Sha256::digest(key)[..4]);
            keys.push((id, SecretBox::new(Box::new(key))));
        }
        if keys.is_empty() {
            return Err(SecretError::BadKey);
        }
        Ok(Self { keys })
    }

    /// A new random key as 64 hex characters.
    ///
    /// # Panics
    /// Never in practice: only if the operating system has no randomness.
    #[must_use]
    #[allow(clippy::expect_used)] // no randomness means nothing secure can run
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system must provide randomness");
        hex::encode(key)
    }

    /// A signer for one purpose (`"unsubscribe"`, `"verp"`): its keys are
    /// derived from these, so a link signed for one purpose is worthless for
    /// another, and rotating keys keeps old links valid while the old key
    /// stays listed.
    #[must_use]
    pub fn signer(&self, purpose: &str) -> crate::signing::Signer {
        crate::signing::Signer::new(
            self.keys
                .iter()
                .map(|(_, key)| {
                    let mut hash = Sha256::new();
                    hash.update(b"cophub signing key\0");
                    hash.update(purpose.as_bytes());
                    hash.update(b"\0");
                    hash.update(key.expose_secret());
                    hash.finalize().into()
                })
                .collect(),
        )
    }

    /// Encrypts a secret as `v1.<key id>.<base64 nonce+ciphertext>`.
    ///
    /// # Panics
    /// Never in practice: only if the operating system has no randomness.
    #[must_use]
    #[allow(clippy::expect_used)] // encryption with a valid key and nonce cannot fail
    pub fn encrypt(&self, plaintext: &str) -> String {
        let (id, key) = &self.keys[0];
        let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system must provide randomness");
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption does not fail");
        let mut blob = nonce.to_vec();
        blob.extend(ciphertext);
        format!("v1.{id}.{}", STANDARD_NO_PAD.encode(blob))
    }

    /// Decrypts what [`SecretKeys::encrypt`] made, with whichever key made it.
    ///
    /// # Errors
    /// [`SecretError::Undecryptable`] when no configured key opens it.
    pub fn decrypt(&self, stored: &str) -> Result<String, SecretError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretError::Undecryptable);
        };
        let blob = STANDARD_NO_PAD
            .decode(data)
            .map_err(|_| SecretError::Undecryptable)?;
        if blob.len() < 24 {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, ciphertext) = blob.split_at(24);
        let (_, key) = self
            .keys
            .iter()
            .find(|(key_id, _)| key_id == id)
            .ok_or(SecretError::Undecryptable)?;
        let cipher = XChaCha20Poly1305::new(key.expose_secret().into());
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretError::Undecryptable)?;
        let plaintext = cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plaintext).map_err(|_| SecretError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_survives_key_rotation_and_not_key_loss() {
        let old = SecretKeys::generate_hex();
        let new = SecretKeys::generate_hex();
        let before = SecretKeys::from_hex_list(&old).unwrap();
        let stored = before.encrypt("xoxb-123");
        assert!(!stored.contains("xoxb"));

        let rotated = SecretKeys::from_hex_list(&format!("{new},{old}")).unwrap();
        assert_eq!(rotated.decrypt(&stored).unwrap(), "xoxb-123");
        assert!(rotated.encrypt("x").contains(&rotated.keys[0].0));

        let lost = SecretKeys::from_hex_list(&new).unwrap();
        assert_eq!(lost.decrypt(&stored), Err(SecretError::Undecryptable));
    }

    #[test]
    fn malformed_keys_are_refused_and_never_printed() {
        assert_eq!(
            SecretKeys::from_hex_list("abc").unwrap_err(),
            SecretError::BadKey
        );
        assert_eq!(
            SecretKeys::from_hex_list("").unwrap_err(),
            SecretError::BadKey
        );
        let key = SecretKeys::generate_hex();
        let keys = SecretKeys::from_hex_list(&key).unwrap();
        assert!(!format!("{keys:?}").contains(&key));
    }
}
