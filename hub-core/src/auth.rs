//! Passwords and bearer secrets. Passwords are hashed with argon2id
//! (m = 19 MiB, t = 2, p = 1, PHC strings); random secrets (session cookies,
//! API tokens, setup links) are kept only as SHA-256 hashes, so a copy of the
//! database opens no door.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A password that breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
pub struct WeakPassword;

/// Hashes a password with argon2id. Slow on purpose (tens of milliseconds):
/// call it off the async executor.
///
/// # Errors
/// [`WeakPassword`] when it is too short or too long.
pub fn hash_password(password: &str) -> Result<String, WeakPassword> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(WeakPassword);
    }
    Ok(password_auth::generate_hash(password))
}

/// Whether `password` matches `hash`. Slow on purpose: call it off the async
/// executor. A malformed hash never matches.
#[must_use]
pub fn verify_password(password: &str, hash: &str) -> bool {
    password.chars().count() <= MAX_PASSWORD_CHARS
        && password_auth::verify_password(password, hash).is_ok()
}

/// A hash to verify against when a login names no user, so that a wrong
/// email costs as long as a wrong password and reveals nothing.
#[must_use]
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password_auth::generate_hash("decoy password that matches nothing"))
}

/// A fresh random secret (256 bits, URL-safe) and the hash to store for it.
///
/// # Panics
/// Never in practice: only if the operating system has no randomness.
#[must_use]
#[allow(clippy::expect_used)] // no randomness means nothing secure can run
pub fn new_secret() -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system must provide randomness");
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// The stored form of a secret.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hash.contains("m=19456,t=2"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("anything at all", decoy_hash()));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert_eq!(hash_password("short"), Err(WeakPassword));
    }

    #[test]
    fn secrets_are_random_and_stored_hashed() {
        let (a, a_hash) = new_secret();
        let (b, _) = new_secret();
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a), a_hash);
        assert_ne!(a, a_hash);
    }
}
