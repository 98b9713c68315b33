//! Key method 2: the first message each side writes into a fresh TLS session.
//!
//! The client sends random key material, its options string, the username and password
//! and its peer info. The server replies with its own random values and options string.
//! Layout from OpenVPN 2.6 `ssl.c` `key_method_2_write` and `key_method_2_read`, all
//! integers big-endian:
//!
//! ```text
//! u32 0 | u8 method | [pre_master 48, client only] | random1 32 | random2 32
//! | string options | string username | string password | string peer_info
//! ```
//!
//! A string is a u16 length that counts a trailing NUL, then the bytes and the NUL. An
//! empty string is a bare u16 0, never `u16 1, 00`, which the server would read as a
//! present but empty username.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::control_message::TLS_CHANNEL_BUF_SIZE;

/// The key method number in the low 4 bits of the method byte.
pub const KEY_METHOD_2: u8 = 2;

/// Maximum username or password length in bytes that an OpenVPN 2.6 server built without
/// PKCS#11 accepts: `USER_PASS_LEN` (128, `misc.h`) minus the NUL.
///
/// The server rejects a longer value with `AUTH_FAILED`. Servers built with PKCS#11,
/// such as Debian's 2.6 package, accept up to [`USER_PASS_MAX_LEN_PKCS11`].
pub const USER_PASS_MAX_LEN: usize = 127;

/// Maximum username or password length in bytes on servers built with PKCS#11:
/// `USER_PASS_LEN` (4096) minus the NUL.
pub const USER_PASS_MAX_LEN_PKCS11: usize = 4095;

/// Maximum options string length in bytes that an OpenVPN 2.6 server reads:
/// `TLS_OPTIONS_LEN` (512, `ssl.h`) minus the NUL.
pub const OPTIONS_MAX_LEN: usize = 511;

/// Length of the fixed part of the server's message: prefix, method byte and two randoms.
const SERVER_FIXED_LEN: usize = 4 + 1 + 32 + 32;

/// A key method 2 message that cannot be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyMethodError {
    /// The username is longer than the server accepts.
    #[error(
        "username is {len} bytes, but the server accepts at most {max}; use a shorter username"
    )]
    UsernameTooLong {
        /// Length of the username in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The password, auth-token or challenge response is longer than the server accepts.
    #[error(
        "password is {len} bytes, but the server accepts at most {max} (OpenVPN servers \
         without PKCS#11 accept 127); use a shorter password or raise the server's limit"
    )]
    PasswordTooLong {
        /// Length of the password in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The options string is longer than the server reads.
    #[error("options string is {len} bytes, but the server reads at most {OPTIONS_MAX_LEN}")]
    OptionsTooLong {
        /// Length of the options string in bytes.
        len: usize,
    },
    /// A string contains a NUL byte, which would end it early on the server.
    #[error("{field} contains a NUL byte at offset {offset}; remove it")]
    NulInString {
        /// The field name.
        field: &'static str,
        /// The byte offset of the NUL.
        offset: usize,
    },
    /// The whole message does not fit the server's read buffer.
    #[error(
        "key method 2 message is {len} bytes, but the server reads at most \
         {TLS_CHANNEL_BUF_SIZE}; shorten the peer info or the password"
    )]
    MessageTooLong {
        /// Length of the message in bytes.
        len: usize,
    },
    /// The server's message does not start with four zero bytes.
    #[error("server key method message starts with {prefix:#010x}, expected 4 zero bytes")]
    NonzeroPrefix {
        /// The first four bytes, big-endian.
        prefix: u32,
    },
    /// The server uses a key method other than 2.
    #[error("server uses key method {method}, but ferrovpn supports only key method 2")]
    WrongKeyMethod {
        /// The low 4 bits of the method byte.
        method: u8,
    },
    /// The server's message ends inside a field.
    #[error(
        "server key method message is truncated in {field}: needs {needed} bytes at offset \
         {offset}, but only {available} remain"
    )]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// The byte offset of the field.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the message.
        available: usize,
    },
}

/// The client's random key material for one key exchange, wiped from memory on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ClientKeySource {
    /// Input to the OpenVPN PRF master secret. Sent only by the client.
    pub pre_master: [u8; 48],
    /// Random value for the master secret.
    pub random1: [u8; 32],
    /// Random value for the key expansion.
    pub random2: [u8; 32],
}

impl ClientKeySource {
    /// Draws fresh key material from the operating system's random number generator.
    pub fn random() -> Result<ClientKeySource, getrandom::Error> {
        let mut source = ClientKeySource {
            pre_master: [0; 48],
            random1: [0; 32],
            random2: [0; 32],
        };
        getrandom::getrandom(&mut source.pre_master)?;
        getrandom::getrandom(&mut source.random1)?;
        getrandom::getrandom(&mut source.random2)?;
        Ok(source)
    }
}

impl fmt::Debug for ClientKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKeySource(<redacted>)")
    }
}

/// The server's part of a key exchange, read from its key method 2 message.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ServerKeySource {
    /// Random value for the master secret.
    pub random1: [u8; 32],
    /// Random value for the key expansion.
    pub random2: [u8; 32],
    /// The server's options string, compared only to log differences.
    pub options: String,
}

impl fmt::Debug for ServerKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeySource")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Encodes the client's key method 2 message.
///
/// `username` and `password` of `None` or `""` are sent as absent. Each must be at most
/// `max_user_pass_len` bytes, which is [`USER_PASS_MAX_LEN`] for a server without PKCS#11.
/// The result contains the password, so it is wiped from memory on drop. Write it into TLS
/// with one call so that it becomes one record, because the server parses each record as a
/// unit.
pub fn encode_client_key_method_2(
    source: &ClientKeySource,
    options: &str,
    username: Option<&str>,
    password: Option<&str>,
    peer_info: &str,
    max_user_pass_len: usize,
) -> Result<Zeroizing<Vec<u8>>, KeyMethodError> {
    let username = username.unwrap_or_default();
    let password = password.unwrap_or_default();

    if options.len() > OPTIONS_MAX_LEN {
        return Err(KeyMethodError::OptionsTooLong { len: options.len() });
    }
    if username.len() > max_user_pass_len {
        return Err(KeyMethodError::UsernameTooLong {
            len: username.len(),
            max: max_user_pass_len,
        });
    }
    if password.len() > max_user_pass_len {
        return Err(KeyMethodError::PasswordTooLong {
            len: password.len(),
            max: max_user_pass_len,
        });
    }

    let mut message = Zeroizing::new(Vec::with_capacity(
        5 + 48 + 64 + 8 + options.len() + username.len() + password.len() + peer_info.len() + 3,
    ));
    message.extend_from_slice(&[0, 0, 0, 0, KEY_METHOD_2]);
    message.extend_from_slice(&source.pre_master);
    message.extend_from_slice(&source.random1);
    message.extend_from_slice(&source.random2);
    write_string(&mut message, "options string", options)?;
    write_string(&mut message, "username", username)?;
    write_string(&mut message, "password", password)?;
    write_string(&mut message, "peer info", peer_info)?;

    if message.len() > TLS_CHANNEL_BUF_SIZE {
        return Err(KeyMethodError::MessageTooLong { len: message.len() });
    }
    Ok(message)
}

/// Appends a string in OpenVPN's `write_string` form, or a bare u16 0 when it is empty.
fn write_string(
    message: &mut Vec<u8>,
    field: &'static str,
    text: &str,
) -> Result<(), KeyMethodError> {
    if let Some(offset) = text.bytes().position(|byte| byte == 0) {
        return Err(KeyMethodError::NulInString { field, offset });
    }

    if text.is_empty() {
        message.extend_from_slice(&[0, 0]);
        return Ok(());
    }

    // Every caller bounds the string far below u16::MAX, through the options limit, the
    // username and password limit, or the whole-message limit checked afterwards.
    let len = u16::try_from(text.len() + 1).unwrap_or(u16::MAX);
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(text.as_bytes());
    message.push(0);
    Ok(())
}

/// Decodes the server's key method 2 message from the start of `plaintext`.
///
/// Returns the server's key source and the number of bytes the message used, so that the
/// caller can read the control messages that follow. The username, password and peer info,
/// which a 2.6 server sends empty, are skipped. A message that ends after the randoms or
/// after any later string is accepted, so that a server which stops after its options
/// string still works. OpenVPN 2.6 itself requires the options string.
pub fn decode_server_key_method_2(
    plaintext: &[u8],
) -> Result<(ServerKeySource, usize), KeyMethodError> {
    let mut reader = Reader {
        bytes: plaintext,
        offset: 0,
    };

    let prefix = reader.read_bytes("prefix", 4)?;
    if prefix != [0, 0, 0, 0] {
        let prefix = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        return Err(KeyMethodError::NonzeroPrefix { prefix });
    }

    let method = reader.read_bytes("key method", 1)?[0] & 0x0F;
    if method != KEY_METHOD_2 {
        return Err(KeyMethodError::WrongKeyMethod { method });
    }

    let mut source = ServerKeySource {
        random1: [0; 32],
        random2: [0; 32],
        options: String::new(),
    };
    source
        .random1
        .copy_from_slice(reader.read_bytes("random1", 32)?);
    source
        .random2
        .copy_from_slice(reader.read_bytes("random2", 32)?);
    debug_assert_eq!(reader.offset, SERVER_FIXED_LEN);

    if let Some(options) = reader.read_string("options string")? {
        source.options = String::from_utf8_lossy(options).into_owned();
    }
    for field in ["username", "password", "peer info"] {
        if reader.read_string(field)?.is_none() {
            break;
        }
    }

    Ok((source, reader.offset))
}

/// A cursor over the server's message that reports truncation with the field name.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn read_bytes(
        &mut self,
        field: &'static str,
        needed: usize,
    ) -> Result<&'a [u8], KeyMethodError> {
        let available = self.bytes.len() - self.offset;
        if available < needed {
            return Err(KeyMethodError::Truncated {
                field,
                offset: self.offset,
                needed,
                available,
            });
        }

        let bytes = &self.bytes[self.offset..self.offset + needed];
        self.offset += needed;
        Ok(bytes)
    }

    /// Reads one string and returns its bytes before the first NUL, or `None` at the end of
    /// the message.
    fn read_string(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, KeyMethodError> {
        if self.offset == self.bytes.len() {
            return Ok(None);
        }

        let len_bytes = self.read_bytes(field, 2)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let text = self.read_bytes(field, len)?;
        let end = text
            .iter()
            .position(|byte| *byte == 0)
            .unwrap_or(text.len());
        Ok(Some(&text[..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed_source() -> ClientKeySource {
        ClientKeySource {
            pre_master: [0xAA; 48],
            random1: [0x11; 32],
            random2: [0x22; 32],
        }
    }

    fn encode(
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<Zeroizing<Vec<u8>>, KeyMethodError> {
        encode_client_key_method_2(
            &fixed_source(),
            "V4,tls-client",
            username,
            password,
            "IV_PROTO=414\n",
            USER_PASS_MAX_LEN,
        )
    }

    fn server_message(tail: &[u8]) -> Vec<u8> {
        let mut message = vec![0, 0, 0, 0, 2];
        message.extend_from_slice(&[0x33; 32]);
        message.extend_from_slice(&[0x44; 32]);
        message.extend_from_slice(tail);
        message
    }

    #[test]
    fn encode_client_layout() {
        let message = encode(Some("alice"), Some("pw")).expect("encode");

        let mut expected = vec![0, 0, 0, 0, 2];
        expected.extend_from_slice(&[0xAA; 48]);
        expected.extend_from_slice(&[0x11; 32]);
        expected.extend_from_slice(&[0x22; 32]);
        expected.extend_from_slice(b"\x00\x0eV4,tls-client\x00");
        expected.extend_from_slice(b"\x00\x06alice\x00");
        expected.extend_from_slice(b"\x00\x03pw\x00");
        expected.extend_from_slice(b"\x00\x0eIV_PROTO=414\n\x00");
        assert_eq!(message.as_slice(), expected.as_slice());
    }

    #[test]
    fn encode_absent_credentials_bare_zero() {
        let message = encode(None, Some("")).expect("encode");

        let credentials_offset = 5 + 48 + 64 + 2 + 14;
        let credentials = &message[credentials_offset..credentials_offset + 4];
        assert_eq!(
            credentials,
            [0, 0, 0, 0],
            "username and password as bare u16 0"
        );
    }

    #[test]
    fn encode_empty_peer_info_bare_zero() {
        let message =
            encode_client_key_method_2(&fixed_source(), "V4", None, None, "", USER_PASS_MAX_LEN)
                .expect("encode");
        assert_eq!(
            &message[message.len() - 2..],
            [0, 0],
            "peer info as bare u16 0"
        );
    }

    #[test]
    fn encode_password_at_limit() {
        let password = "p".repeat(USER_PASS_MAX_LEN);
        let result = encode(Some("alice"), Some(&password));
        assert!(result.is_ok(), "result: {result:?}");
    }

    #[test]
    fn encode_password_over_limit() {
        let password = "p".repeat(USER_PASS_MAX_LEN + 1);
        let result = encode(Some("alice"), Some(&password));
        let expected = KeyMethodError::PasswordTooLong { len: 128, max: 127 };
        assert_eq!(result, Err(expected));
    }

    #[test]
    fn encode_username_over_limit() {
        let username = "u".repeat(200);
        let result = encode(Some(&username), None);
        let expected = KeyMethodError::UsernameTooLong { len: 200, max: 127 };
        assert_eq!(result, Err(expected));
    }

    #[test]
    fn encode_pkcs11_limit_allows_long_password() {
        let password = "p".repeat(1000);
        let result = encode_client_key_method_2(
            &fixed_source(),
            "V4",
            Some("alice"),
            Some(&password),
            "",
            USER_PASS_MAX_LEN_PKCS11,
        );
        assert!(result.is_ok(), "result: {result:?}");
    }

    #[test]
    fn encode_rejects_oversized_message() {
        let password = "p".repeat(USER_PASS_MAX_LEN_PKCS11);
        let result = encode_client_key_method_2(
            &fixed_source(),
            "V4",
            Some("alice"),
            Some(&password),
            "",
            USER_PASS_MAX_LEN_PKCS11,
        );
        assert!(
            matches!(result, Err(KeyMethodError::MessageTooLong { .. })),
            "result: {result:?}"
        );
    }

    #[test]
    fn encode_rejects_nul_in_username() {
        let result = encode(Some("ali\0ce"), None);
        let expected = KeyMethodError::NulInString {
            field: "username",
            offset: 3,
        };
        assert_eq!(result, Err(expected));
    }

    #[test]
    fn encode_rejects_long_options() {
        let options = "V4,".repeat(200);
        let result = encode_client_key_method_2(&fixed_source(), &options, None, None, "", 127);
        assert_eq!(result, Err(KeyMethodError::OptionsTooLong { len: 600 }));
    }

    #[test]
    fn password_error_omits_password() {
        let password = "secret".repeat(30);
        let error = encode(Some("alice"), Some(&password)).expect_err("over limit");
        assert!(!error.to_string().contains("secret"), "error: {error}");
    }

    #[test]
    fn decode_server_full_message() {
        let options = b"V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,key-method 2,tls-server";
        let mut tail = Vec::new();
        tail.extend_from_slice(&u16::try_from(options.len() + 1).unwrap().to_be_bytes());
        tail.extend_from_slice(options);
        tail.push(0);
        tail.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        let message = server_message(&tail);

        let (source, used) = decode_server_key_method_2(&message).expect("decode");
        assert_eq!(source.random1, [0x33; 32], "random1");
        assert_eq!(source.random2, [0x44; 32], "random2");
        assert_eq!(source.options.as_bytes(), options, "options string");
        assert_eq!(used, message.len(), "bytes used");
    }

    #[test]
    fn decode_server_stops_before_next_message() {
        let mut plaintext = server_message(b"\x00\x03V4\x00\x00\x00\x00\x00\x00\x00");
        let message_len = plaintext.len();
        plaintext.extend_from_slice(b"AUTH_PENDING,timeout 9\0");

        let (_, used) = decode_server_key_method_2(&plaintext).expect("decode");
        assert_eq!(used, message_len);
    }

    #[test]
    fn decode_server_tolerates_missing_tail_table() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("no strings", Vec::new(), ""),
            ("options only", b"\x00\x03V4\x00".to_vec(), "V4"),
            (
                "options and username",
                b"\x00\x03V4\x00\x00\x00".to_vec(),
                "V4",
            ),
            ("empty options", b"\x00\x00".to_vec(), ""),
        ];

        for (name, tail, expected_options) in cases {
            let message = server_message(&tail);
            let result = decode_server_key_method_2(&message);
            let Ok((source, used)) = result else {
                panic!("case {name}: {result:?}");
            };
            assert_eq!(source.options, expected_options, "case {name}: options");
            assert_eq!(used, message.len(), "case {name}: bytes used");
        }
    }

    #[test]
    fn decode_server_errors_table() {
        let mut nonzero = server_message(b"");
        nonzero[2] = 1;
        let mut method_one = server_message(b"");
        method_one[4] = 0x01;

        let cases: Vec<(&str, Vec<u8>, KeyMethodError)> = vec![
            (
                "nonzero prefix",
                nonzero,
                KeyMethodError::NonzeroPrefix {
                    prefix: 0x0000_0100,
                },
            ),
            (
                "key method 1",
                method_one,
                KeyMethodError::WrongKeyMethod { method: 1 },
            ),
            (
                "short prefix",
                vec![0, 0],
                KeyMethodError::Truncated {
                    field: "prefix",
                    offset: 0,
                    needed: 4,
                    available: 2,
                },
            ),
            (
                "short random2",
                server_message(b"")[..50].to_vec(),
                KeyMethodError::Truncated {
                    field: "random2",
                    offset: 37,
                    needed: 32,
                    available: 13,
                },
            ),
            (
                "short options",
                server_message(b"\x00\x10V4"),
                KeyMethodError::Truncated {
                    field: "options string",
                    offset: 71,
                    needed: 16,
                    available: 2,
                },
            ),
            (
                "half length",
                server_message(b"\x00"),
                KeyMethodError::Truncated {
                    field: "options string",
                    offset: 69,
                    needed: 2,
                    available: 1,
                },
            ),
        ];

        for (name, message, expected) in cases {
            let result = decode_server_key_method_2(&message);
            assert_eq!(result, Err(expected), "case {name}");
        }
    }

    #[test]
    fn decode_server_ignores_method_flags() {
        let mut message = server_message(b"");
        message[4] = 0x12;
        let result = decode_server_key_method_2(&message);
        assert!(result.is_ok(), "result: {result:?}");
    }

    #[test]
    fn client_random_sources_differ() {
        let first = ClientKeySource::random().expect("random");
        let second = ClientKeySource::random().expect("random");
        assert_ne!(first.pre_master, second.pre_master);
    }

    #[test]
    fn client_source_debug_redacted() {
        let debug = format!("{:?}", fixed_source());
        assert!(!debug.contains("170"), "debug output: {debug}");
    }
}
