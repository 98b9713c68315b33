//! Password hashes: Argon2id in the PHC string format (`$argon2id$v=19$m=...`).
//!
//! The parameters are the argon2 crate's defaults (m = 19 MiB, t = 2, p = 1), the
//! minimum that the OWASP password storage guidance gives for Argon2id. They are stored
//! in each hash, so raising them later keeps old hashes verifiable.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use thiserror::Error;

/// Maximum password length, in bytes. OpenVPN 2.6 (`misc.h` `USER_PASS_LEN`) carries at
/// most 4096 bytes including the terminating NUL in builds with PKCS#11, as Debian's.
// NOTE: builds without PKCS#11 carry only 127 bytes, and a static challenge password
// (`SCRV1:` with base64 of password and code) needs about 4/3 of the length plus 16.
pub const MAX_PASSWORD_LEN: usize = 4095;

/// Length of a salt in bytes, the length the PHC string format recommends.
const SALT_LEN: usize = 16;

/// A password that cannot be hashed or stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    /// The password is empty.
    #[error("the password is empty; choose a non-empty password")]
    Empty,
    /// The password is longer than [`MAX_PASSWORD_LEN`].
    #[error("the password has {length} bytes; OpenVPN carries at most {MAX_PASSWORD_LEN}")]
    TooLong {
        /// Length in bytes.
        length: usize,
    },
    /// The password contains a line break or NUL, which OpenVPN's `auth-user-pass` file
    /// and management interface cannot carry.
    #[error("the password contains a line break or NUL byte, which OpenVPN cannot carry")]
    ControlCharacter,
    /// Argon2 failed, which only happens with broken parameters.
    #[error("hashing the password failed: {0}")]
    Hash(String),
    /// The operating system's random source failed.
    #[error("no random salt: {0}")]
    Random(getrandom::Error),
}

/// Checks that OpenVPN can deliver `password` and returns it unchanged.
pub fn validate_password(password: &str) -> Result<&str, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong {
            length: password.len(),
        });
    }
    if password.contains(['\n', '\r', '\0']) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(password)
}

/// Hashes `password` with Argon2id and a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    validate_password(password)?;
    let mut salt_bytes = [0u8; SALT_LEN];
    getrandom::getrandom(&mut salt_bytes).map_err(PasswordError::Random)?;
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|error| PasswordError::Hash(error.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// Returns whether `password` matches the PHC string `hash`.
///
/// A hash that does not parse never matches; the caller logs the user it belongs to.
pub fn verify_password(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one verification on a user that does not exist.
///
/// Without it, an unknown username would be rejected measurably faster than a wrong
/// password, which would tell an attacker which usernames exist.
pub fn verify_unknown_user(password: &str) {
    static DUMMY_HASH: OnceLock<String> = OnceLock::new();
    let hash = DUMMY_HASH
        .get_or_init(|| hash_password("ferrovpn-authd dummy password").unwrap_or_default());
    let _ = verify_password(hash, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_password_is_argon2id_phc() {
        let hash = hash_password("correct horse").expect("hashing works");
        assert!(hash.starts_with("$argon2id$v=19$"), "hash {hash:?}");
    }

    #[test]
    fn verify_password_accepts_same_password() {
        let hash = hash_password("correct horse").expect("hashing works");
        assert!(verify_password(&hash, "correct horse"), "same password");
    }

    #[test]
    fn verify_password_rejects_other_password() {
        let hash = hash_password("correct horse").expect("hashing works");
        assert!(!verify_password(&hash, "correct horse "), "other password");
    }

    #[test]
    fn verify_password_rejects_garbage_hash() {
        assert!(!verify_password("not a hash", "x"), "garbage hash");
    }

    #[test]
    fn hash_password_salts_each_hash() {
        let first = hash_password("same").expect("hashing works");
        let second = hash_password("same").expect("hashing works");
        assert_ne!(first, second, "two hashes of one password must differ");
    }

    #[test]
    fn validate_password_rejects_table() {
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        let cases = [
            ("", PasswordError::Empty),
            ("a\nb", PasswordError::ControlCharacter),
            ("a\0b", PasswordError::ControlCharacter),
            (
                long.as_str(),
                PasswordError::TooLong {
                    length: MAX_PASSWORD_LEN + 1,
                },
            ),
        ];
        for (password, expected) in cases {
            let result = validate_password(password);
            assert_eq!(
                result,
                Err(expected),
                "password of {} bytes",
                password.len()
            );
        }
    }
}
