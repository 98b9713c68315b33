//! OpenVPN static key files, the shared secret of `tls-auth` and `tls-crypt`.
//!
//! A static key file contains 256 bytes as hex between two marker lines:
//!
//! ```text
//! -----BEGIN OpenVPN Static key V1-----
//! 16 lines of 32 hex digits
//! -----END OpenVPN Static key V1-----
//! ```
//!
//! The 256 bytes are two keys of 128 bytes, each a 64-byte cipher slot
//! followed by a 64-byte HMAC slot (OpenVPN 2.6 `crypto.h`, `struct key2`).
//! An algorithm uses the first bytes of a slot, as many as its key length.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a static key in bytes.
pub const STATIC_KEY_LEN: usize = 256;

/// Length of one cipher or HMAC slot in bytes.
pub const SLOT_LEN: usize = 64;

/// Line that starts the key, as OpenVPN writes it.
const BEGIN_LINE: &str = "-----BEGIN OpenVPN Static key V1-----";

/// Line that ends the key.
const END_LINE: &str = "-----END OpenVPN Static key V1-----";

/// Error parsing text as an OpenVPN static key.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StaticKeyError {
    /// No `-----BEGIN OpenVPN Static key V1-----` line.
    #[error(
        "static key has no \"{BEGIN_LINE}\" line; generate one with `openvpn --genkey secret`"
    )]
    MissingBegin,
    /// A begin line with no end line after it.
    #[error("static key has no \"{END_LINE}\" line after its begin line")]
    MissingEnd,
    /// A character inside the key that is neither a hex digit nor whitespace.
    #[error("static key line {line}: invalid character {character:?}; expected hex digits")]
    InvalidHex {
        /// Line number in the text, counting from 1.
        line: usize,
        /// The character found.
        character: char,
    },
    /// The key does not contain exactly 512 hex digits.
    #[error(
        "static key has {hex_digits} hex digits; expected {} hex digits ({STATIC_KEY_LEN} bytes)",
        STATIC_KEY_LEN * 2
    )]
    WrongLength {
        /// Number of hex digits between the marker lines.
        hex_digits: usize,
    },
}

/// `key-direction`, which decides which half of a static key each side sends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyDirection {
    /// `key-direction 0`: send with key 0, receive with key 1. Servers use it.
    Normal = 0,
    /// `key-direction 1`: send with key 1, receive with key 0. Clients use it.
    Inverse = 1,
}

impl KeyDirection {
    /// Looks up the direction for the number after `key-direction`.
    pub fn from_u8(value: u8) -> Option<KeyDirection> {
        match value {
            0 => Some(KeyDirection::Normal),
            1 => Some(KeyDirection::Inverse),
            _ => None,
        }
    }
}

/// Indexes of the key used for sending and the key used for receiving.
///
/// Without a direction both sides use key 0 both ways (OpenVPN 2.6 `crypto.c`
/// `key_direction_state_init`).
fn key_indexes(direction: Option<KeyDirection>) -> (usize, usize) {
    match direction {
        None => (0, 0),
        Some(KeyDirection::Normal) => (0, 1),
        Some(KeyDirection::Inverse) => (1, 0),
    }
}

/// The 256 bytes of an OpenVPN static key, zeroed when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct StaticKey {
    /// Key 0 cipher and HMAC slots, then key 1 cipher and HMAC slots.
    bytes: [u8; STATIC_KEY_LEN],
}

impl StaticKey {
    /// Creates a key from its 256 raw bytes.
    pub fn from_bytes(bytes: [u8; STATIC_KEY_LEN]) -> StaticKey {
        StaticKey { bytes }
    }

    /// Parses the text form of a static key file.
    ///
    /// Lines before the begin line and after the end line are ignored, so a
    /// file may start with `#` comments. Whitespace between the markers is ignored.
    pub fn parse(text: &str) -> Result<StaticKey, StaticKeyError> {
        let mut lines = text.lines().enumerate();
        lines
            .by_ref()
            .find(|(_, line)| line.trim() == BEGIN_LINE)
            .ok_or(StaticKeyError::MissingBegin)?;

        let mut digits: Vec<u8> = Vec::with_capacity(STATIC_KEY_LEN * 2);
        let mut found_end = false;
        for (index, line) in lines {
            if line.trim() == END_LINE {
                found_end = true;
                break;
            }

            for character in line.chars().filter(|c| !c.is_whitespace()) {
                let Some(digit) = character.to_digit(16) else {
                    digits.zeroize();
                    return Err(StaticKeyError::InvalidHex {
                        line: index + 1,
                        character,
                    });
                };
                digits.push(digit as u8);
            }
        }

        if !found_end {
            digits.zeroize();
            return Err(StaticKeyError::MissingEnd);
        }
        if digits.len() != STATIC_KEY_LEN * 2 {
            let hex_digits = digits.len();
            digits.zeroize();
            return Err(StaticKeyError::WrongLength { hex_digits });
        }

        let mut key = StaticKey {
            bytes: [0; STATIC_KEY_LEN],
        };
        for (byte, pair) in key.bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        digits.zeroize();
        Ok(key)
    }

    /// Returns all 256 bytes, for callers that combine the key with other material.
    pub fn as_bytes(&self) -> &[u8; STATIC_KEY_LEN] {
        &self.bytes
    }

    /// Returns the cipher slot of key `index` (0 or 1).
    fn cipher_slot(&self, index: usize) -> &[u8; SLOT_LEN] {
        let start = index * 2 * SLOT_LEN;
        self.bytes[start..start + SLOT_LEN].try_into().unwrap()
    }

    /// Returns the HMAC slot of key `index` (0 or 1).
    fn hmac_slot(&self, index: usize) -> &[u8; SLOT_LEN] {
        let start = index * 2 * SLOT_LEN + SLOT_LEN;
        self.bytes[start..start + SLOT_LEN].try_into().unwrap()
    }

    /// Returns the cipher slot this side encrypts with in `direction`.
    pub fn send_cipher_key(&self, direction: Option<KeyDirection>) -> &[u8; SLOT_LEN] {
        self.cipher_slot(key_indexes(direction).0)
    }

    /// Returns the HMAC slot this side signs with in `direction`.
    pub fn send_hmac_key(&self, direction: Option<KeyDirection>) -> &[u8; SLOT_LEN] {
        self.hmac_slot(key_indexes(direction).0)
    }

    /// Returns the cipher slot this side decrypts with in `direction`.
    pub fn receive_cipher_key(&self, direction: Option<KeyDirection>) -> &[u8; SLOT_LEN] {
        self.cipher_slot(key_indexes(direction).1)
    }

    /// Returns the HMAC slot this side verifies with in `direction`.
    pub fn receive_hmac_key(&self, direction: Option<KeyDirection>) -> &[u8; SLOT_LEN] {
        self.hmac_slot(key_indexes(direction).1)
    }
}

impl FromStr for StaticKey {
    type Err = StaticKeyError;

    fn from_str(text: &str) -> Result<StaticKey, StaticKeyError> {
        StaticKey::parse(text)
    }
}

impl fmt::Debug for StaticKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Key whose byte `i` is `i`, so each slot is recognisable by its first byte.
    fn counting_key() -> StaticKey {
        StaticKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    /// Text form of `counting_key`, 16 lines of 32 hex digits, after a comment.
    fn counting_key_text() -> String {
        let mut text = String::from("#\n# 2048 bit OpenVPN static key\n#\n");
        text.push_str(BEGIN_LINE);
        text.push('\n');
        for line in counting_key().as_bytes().chunks(16) {
            for byte in line {
                text.push_str(&format!("{byte:02x}"));
            }
            text.push('\n');
        }
        text.push_str(END_LINE);
        text.push('\n');
        text
    }

    #[test]
    fn parse_reads_all_bytes() {
        let key = StaticKey::parse(&counting_key_text()).unwrap();
        assert_eq!(key.as_bytes(), counting_key().as_bytes());
    }

    #[test]
    fn parse_accepts_crlf_and_upper_case() {
        let text = counting_key_text()
            .to_uppercase()
            .replace(&BEGIN_LINE.to_uppercase(), BEGIN_LINE);
        let text = text
            .replace(&END_LINE.to_uppercase(), END_LINE)
            .replace('\n', "\r\n");
        let key = StaticKey::parse(&text).unwrap();
        assert_eq!(key.as_bytes(), counting_key().as_bytes());
    }

    #[test]
    fn parse_rejects_missing_begin() {
        let text = counting_key_text().replace(BEGIN_LINE, "");
        assert_eq!(
            StaticKey::parse(&text).unwrap_err(),
            StaticKeyError::MissingBegin
        );
    }

    #[test]
    fn parse_rejects_missing_end() {
        let text = counting_key_text().replace(END_LINE, "");
        assert_eq!(
            StaticKey::parse(&text).unwrap_err(),
            StaticKeyError::MissingEnd
        );
    }

    #[test]
    fn parse_names_invalid_hex_line() {
        // Line 1-3 are comments, line 4 the begin line, so the second key line is line 6.
        let text = counting_key_text().replacen("101112", "10g112", 1);
        assert_eq!(
            StaticKey::parse(&text).unwrap_err(),
            StaticKeyError::InvalidHex {
                line: 6,
                character: 'g'
            }
        );
    }

    #[test]
    fn parse_counts_short_key() {
        let text = counting_key_text().replacen("000102", "", 1);
        assert_eq!(
            StaticKey::parse(&text).unwrap_err(),
            StaticKeyError::WrongLength { hex_digits: 506 }
        );
    }

    #[test]
    fn debug_hides_bytes() {
        let printed = format!("{:?}", counting_key());
        assert_eq!(printed, "StaticKey(<redacted>)");
    }

    #[test]
    fn direction_slot_table() {
        // Each row: direction, and the first byte of the send cipher, send HMAC,
        // receive cipher and receive HMAC slots. Byte i of the counting key is i.
        let cases = [
            (None, [0, 64, 0, 64]),
            (Some(KeyDirection::Normal), [0, 64, 128, 192]),
            (Some(KeyDirection::Inverse), [128, 192, 0, 64]),
        ];
        let key = counting_key();
        for (direction, [send_cipher, send_hmac, receive_cipher, receive_hmac]) in cases {
            assert_eq!(
                key.send_cipher_key(direction)[0],
                send_cipher,
                "send cipher slot for {direction:?}"
            );
            assert_eq!(
                key.send_hmac_key(direction)[0],
                send_hmac,
                "send HMAC slot for {direction:?}"
            );
            assert_eq!(
                key.receive_cipher_key(direction)[0],
                receive_cipher,
                "receive cipher slot for {direction:?}"
            );
            assert_eq!(
                key.receive_hmac_key(direction)[0],
                receive_hmac,
                "receive HMAC slot for {direction:?}"
            );
        }
    }

    #[test]
    fn key_direction_from_u8() {
        assert_eq!(KeyDirection::from_u8(0), Some(KeyDirection::Normal));
        assert_eq!(KeyDirection::from_u8(1), Some(KeyDirection::Inverse));
        assert_eq!(KeyDirection::from_u8(2), None);
    }
}
