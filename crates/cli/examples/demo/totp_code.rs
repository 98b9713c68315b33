//! The code an authenticator app shows, computed from the base32 secret that
//! `ferrovpn-authd user add` prints.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{totp_at, TOTP_STEP_SECONDS};

/// Alphabet of base32 (RFC 4648 section 6), in which otpauth:// URIs carry the secret.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP code and how long it stays the current one.
pub struct TotpCode {
    /// Six decimal digits.
    pub code: String,
    /// Seconds until the next 30 s time step begins.
    pub seconds_left: u64,
}

/// Computes the current TOTP code (SHA-1, 6 digits, 30 s) of the secret `secret`.
pub fn current_code(secret: &[u8]) -> TotpCode {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    TotpCode {
        code: totp_at(secret, now),
        seconds_left: TOTP_STEP_SECONDS - now % TOTP_STEP_SECONDS,
    }
}

/// Decodes base32 text without padding, as in `secret=` of an otpauth:// URI.
///
/// Lower-case letters are accepted and trailing `=` is ignored. Bits left over after the
/// last whole byte are dropped, as RFC 4648 section 6 allows.
pub fn decode_base32(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for character in text.trim_end_matches('=').chars() {
        let upper = character.to_ascii_uppercase();
        let value = BASE32_ALPHABET
            .iter()
            .position(|&letter| char::from(letter) == upper)
            .ok_or_else(|| {
                format!("invalid base32 character {character:?} in the secret {text:?}")
            })?;
        buffer = (buffer << 5) | value as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if bytes.is_empty() {
        return Err(format!("the secret {text:?} decodes to no bytes"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_base32_rfc4648_vectors() {
        // Test vectors of RFC 4648 section 10, without the padding.
        let cases = [
            ("MY", "f"),
            ("MZXQ", "fo"),
            ("MZXW6", "foo"),
            ("MZXW6YQ", "foob"),
            ("MZXW6YTB", "fooba"),
            ("MZXW6YTBOI======", "foobar"),
        ];
        for (encoded, expected) in cases {
            let decoded = decode_base32(encoded).expect("valid base32");
            assert_eq!(decoded, expected.as_bytes(), "decoding {encoded:?}");
        }
    }

    #[test]
    fn decode_base32_lower_case() {
        let decoded = decode_base32("mzxw6ytboi").expect("valid base32");
        assert_eq!(
            decoded, b"foobar",
            "lower-case letters decode like upper-case"
        );
    }

    #[test]
    fn decode_base32_invalid_character() {
        let error = decode_base32("MZX1").expect_err("1 is not in the alphabet");
        assert!(
            error.contains("'1'"),
            "error must name the character: {error}"
        );
    }
}
