//! Base32 (RFC 4648 section 6), the encoding of TOTP secrets in `otpauth://` URIs.
//!
//! Authenticator apps expect the upper-case alphabet without `=` padding, so that is what
//! [`encode`] writes. [`decode`] also takes lower case, padding and spaces, because people
//! copy secrets by hand.

use thiserror::Error;

/// The RFC 4648 base32 alphabet.
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A base32 text that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base32Error {
    /// A character outside the alphabet, such as `1`, `8` or `0`.
    #[error("invalid base32 character {character:?} at position {position}; expected A-Z or 2-7")]
    InvalidCharacter {
        /// The character found.
        character: char,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// A length that no whole number of bytes encodes to (1, 3 or 6 characters modulo 8).
    #[error("invalid base32 length {length}: the last characters encode no whole byte")]
    InvalidLength {
        /// Number of alphabet characters.
        length: usize,
    },
}

/// Encodes `bytes` as upper-case base32 without padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(5) * 8);
    for chunk in bytes.chunks(5) {
        let mut block = [0u8; 5];
        block[..chunk.len()].copy_from_slice(chunk);
        let bits = block
            .iter()
            .fold(0u64, |bits, byte| (bits << 8) | u64::from(*byte));

        // Each character carries 5 bits; a partial chunk needs ceil(8 * len / 5) of them.
        let characters = (chunk.len() * 8).div_ceil(5);
        for index in 0..characters {
            let shift = 35 - 5 * index;
            let value = ((bits >> shift) & 0x1f) as usize;
            text.push(char::from(ALPHABET[value]));
        }
    }
    text
}

/// Decodes base32 text, ignoring case, spaces and trailing `=` padding.
pub fn decode(text: &str) -> Result<Vec<u8>, Base32Error> {
    let mut bytes = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut buffered_bits = 0;
    let mut length = 0;

    for (position, character) in text.trim_end_matches('=').chars().enumerate() {
        if character == ' ' {
            continue;
        }
        let upper = character.to_ascii_uppercase();
        let value = ALPHABET
            .iter()
            .position(|candidate| char::from(*candidate) == upper)
            .ok_or(Base32Error::InvalidCharacter {
                character,
                position,
            })?;

        length += 1;
        buffer = (buffer << 5) | value as u32;
        buffered_bits += 5;
        if buffered_bits >= 8 {
            buffered_bits -= 8;
            bytes.push((buffer >> buffered_bits) as u8);
            buffer &= (1 << buffered_bits) - 1;
        }
    }

    // Lengths 1, 3 and 6 modulo 8 leave 5 or more bits that belong to no byte.
    if matches!(length % 8, 1 | 3 | 6) {
        return Err(Base32Error::InvalidLength { length });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vectors of RFC 4648 section 10, without their padding.
    const RFC_VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "MY"),
        ("fo", "MZXQ"),
        ("foo", "MZXW6"),
        ("foob", "MZXW6YQ"),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ];

    #[test]
    fn encode_matches_rfc4648_vectors() {
        for (plain, encoded) in RFC_VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded, "encoding {plain:?}");
        }
    }

    #[test]
    fn decode_matches_rfc4648_vectors() {
        for (plain, encoded) in RFC_VECTORS {
            let decoded = decode(encoded).expect(encoded);
            assert_eq!(decoded, plain.as_bytes(), "decoding {encoded:?}");
        }
    }

    #[test]
    fn decode_accepts_lower_case_padding_spaces() {
        let decoded = decode("mzxw 6ytb oi======").expect("valid base32");
        assert_eq!(decoded, b"foobar", "lenient input must decode");
    }

    #[test]
    fn decode_rejects_invalid_input() {
        let cases = [
            ("MZXW1", "invalid base32 character '1'"),
            ("M", "invalid base32 length 1"),
            ("MZX", "invalid base32 length 3"),
        ];
        for (text, expected) in cases {
            let error = decode(text).expect_err(text).to_string();
            assert!(
                error.contains(expected),
                "error for {text:?} must contain {expected:?}, got {error:?}"
            );
        }
    }

    #[test]
    fn encode_decode_round_trip_twenty_bytes() {
        let secret: Vec<u8> = (0u8..20).map(|byte| byte.wrapping_mul(37)).collect();
        let text = encode(&secret);
        assert_eq!(text.len(), 32, "20 bytes encode to 32 characters");
        assert_eq!(decode(&text).expect("own output decodes"), secret);
    }
}
