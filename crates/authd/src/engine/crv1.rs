//! The dynamic challenge (CRV1) texts: challenge, response and state ids (OpenVPN
//! `doc/management-notes.txt`, "Challenge/Response Protocol").

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Prompt of the CRV1 challenge.
pub const CRV1_PROMPT: &str = "Enter your authenticator code";

/// Flags of the challenge: a response is required (`R`) and may be echoed (`E`).
const CRV1_FLAGS: &str = "R,E";

/// Prefix of the password of a CRV1 response.
pub const RESPONSE_PREFIX: &str = "CRV1::";

/// Random bytes in a state id: 192 bits, so ids cannot be guessed.
const STATE_ID_BYTES: usize = 24;

/// Returns a fresh random state id: base64 of [`STATE_ID_BYTES`] bytes, which contains
/// no `:`, the field separator of CRV1.
pub fn new_state_id() -> Result<Zeroizing<String>, getrandom::Error> {
    let mut random = Zeroizing::new([0u8; STATE_ID_BYTES]);
    getrandom::getrandom(random.as_mut())?;
    Ok(Zeroizing::new(BASE64.encode(random.as_ref())))
}

/// SHA-256 of a state id, the key under which it is stored.
pub fn state_hash(state_id: &str) -> [u8; 32] {
    Sha256::digest(state_id.as_bytes()).into()
}

/// Builds `CRV1:R,E:<state_id>:<base64 username>:<prompt>`, the client reason of the
/// `client-deny` that sends the challenge.
pub fn challenge_text(state_id: &str, username: &str) -> String {
    format!(
        "CRV1:{CRV1_FLAGS}:{state_id}:{}:{CRV1_PROMPT}",
        BASE64.encode(username)
    )
}

/// Splits the password of a CRV1 response, `CRV1::<state_id>::<response>`, into state
/// id and response. Returns `None` if it lacks the prefix or the `::` after the id.
pub fn parse_response(password: &str) -> Option<(&str, &str)> {
    password.strip_prefix(RESPONSE_PREFIX)?.split_once("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_text_documented_form() {
        let text = challenge_text("Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l", "cr1");
        assert_eq!(
            text,
            "CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:Enter your authenticator code"
        );
    }

    #[test]
    fn parse_response_table() {
        let cases = [
            ("CRV1::abc123::424242", Some(("abc123", "424242"))),
            ("CRV1::a+b/c=::", Some(("a+b/c=", ""))),
            ("CRV1::abc123::42::42", Some(("abc123", "42::42"))),
            ("CRV1::abc123:424242", None),
            ("CRV1:abc123::424242", None),
            ("password", None),
        ];
        for (password, expected) in cases {
            assert_eq!(parse_response(password), expected, "parsing {password:?}");
        }
    }

    #[test]
    fn new_state_id_unique_without_colon() {
        let first = new_state_id().expect("random bytes");
        let second = new_state_id().expect("random bytes");
        assert_ne!(first, second, "two state ids must differ");
        assert!(
            !first.contains(':'),
            "state id {:?} contains ':'",
            first.as_str()
        );
        assert_eq!(first.len(), 32, "24 bytes encode to 32 base64 characters");
    }
}
