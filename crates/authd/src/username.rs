//! The usernames that `user add` accepts.
//!
//! A username appears in OpenVPN's `username` variable, in the label of an `otpauth://`
//! URI, in audit lines and in shell commands of administrators. Letters, digits and
//! `. _ @ -` are safe in all of them without quoting or escaping.

use thiserror::Error;

/// Maximum username length, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

/// A username that `user add` rejects.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsernameError {
    /// The name is empty.
    #[error("the username is empty")]
    Empty,
    /// The name is longer than [`MAX_USERNAME_LEN`].
    #[error("username {name:?} is longer than {MAX_USERNAME_LEN} bytes")]
    TooLong {
        /// The rejected name.
        name: String,
    },
    /// The name contains a character outside the allowed set.
    #[error("username {name:?} contains {character:?}; use letters, digits and . _ @ - only")]
    InvalidCharacter {
        /// The rejected name.
        name: String,
        /// The first character outside the allowed set.
        character: char,
    },
}

/// Checks `name` and returns it unchanged if it is a valid username.
pub fn validate_username(name: &str) -> Result<&str, UsernameError> {
    if name.is_empty() {
        return Err(UsernameError::Empty);
    }
    if name.len() > MAX_USERNAME_LEN {
        return Err(UsernameError::TooLong {
            name: name.to_owned(),
        });
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-');
    if let Some(character) = name.chars().find(|c| !allowed(*c)) {
        return Err(UsernameError::InvalidCharacter {
            name: name.to_owned(),
            character,
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_username_accepts_table() {
        for name in ["alice", "a.b_c-d", "alice@example.org", "X9"] {
            assert_eq!(validate_username(name), Ok(name), "username {name:?}");
        }
    }

    #[test]
    fn validate_username_rejects_table() {
        let long = "a".repeat(MAX_USERNAME_LEN + 1);
        let cases = [
            ("", "empty"),
            (long.as_str(), "longer than 64"),
            ("al ice", "contains ' '"),
            ("al:ice", "contains ':'"),
            ("alice/..", "contains '/'"),
            ("älice", "contains 'ä'"),
        ];
        for (name, expected) in cases {
            let error = validate_username(name).expect_err(name).to_string();
            assert!(
                error.contains(expected),
                "error for {name:?} must contain {expected:?}, got {error:?}"
            );
        }
    }
}
