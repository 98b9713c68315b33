//! The 256-byte data channel key block of one `key_id` and how it splits.
//!
//! Each key exchange produces a `key2` block, either with OpenVPN's PRF
//! ([`Key2::from_openvpn_prf`]) or with the TLS keying material exporter when
//! both peers agreed on `tls-ekm` ([`Key2::from_exported`]). OpenVPN 2.6
//! (`ssl.c` `init_key_contexts`) splits it into four 64-byte slots:
//!
//! | bytes    | use                                                       |
//! |----------|-----------------------------------------------------------|
//! | 0..64    | client-to-server cipher key (first `key_len` bytes)       |
//! | 64..128  | client-to-server implicit IV (first 8 bytes, AEAD modes)  |
//! | 128..192 | server-to-client cipher key (first `key_len` bytes)       |
//! | 192..256 | server-to-client implicit IV (first 8 bytes, AEAD modes)  |
//!
//! The implicit IV slots hold the HMAC keys in CBC mode, which ferrovpn does
//! not support.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::cipher::DataCipher;
use crate::prf::{tls1_prf, KEY_EXPANSION_LABEL, MASTER_SECRET_LABEL};

/// Exporter label for TLS-EKM key derivation (RFC 5705), used with no context.
pub const EKM_LABEL: &str = "EXPORTER-OpenVPN-datakeys";

/// Length of the key block in bytes.
pub const KEY2_LEN: usize = 256;

/// Length of the implicit IV in bytes: the 12-byte AEAD nonce minus the 4-byte packet id.
pub const IMPLICIT_IV_LEN: usize = 8;

/// Length of the master secret of the OpenVPN PRF derivation in bytes.
const MASTER_SECRET_LEN: usize = 48;

/// Offset of the client-to-server cipher key slot.
const CLIENT_TO_SERVER_KEY_OFFSET: usize = 0;

/// Offset of the client-to-server implicit IV (HMAC key) slot.
const CLIENT_TO_SERVER_IV_OFFSET: usize = 64;

/// Offset of the server-to-client cipher key slot.
const SERVER_TO_CLIENT_KEY_OFFSET: usize = 128;

/// Offset of the server-to-client implicit IV (HMAC key) slot.
const SERVER_TO_CLIENT_IV_OFFSET: usize = 192;

/// Travel direction of the packets that one half of the key block protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyDirection {
    /// Packets from the client to the server: bytes 0..128 of the key block.
    ClientToServer,
    /// Packets from the server to the client: bytes 128..256 of the key block.
    ServerToClient,
}

impl KeyDirection {
    /// Returns the direction of the packets travelling the other way.
    pub fn reverse(self) -> KeyDirection {
        match self {
            KeyDirection::ClientToServer => KeyDirection::ServerToClient,
            KeyDirection::ServerToClient => KeyDirection::ClientToServer,
        }
    }
}

/// The 256-byte data channel key block of one `key_id`, zeroed on drop.
///
/// `Debug` prints no key bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key2 {
    /// Key block bytes, split as the module documentation shows.
    bytes: [u8; KEY2_LEN],
}

impl Key2 {
    /// Derives the key block with OpenVPN's PRF, used when TLS-EKM was not negotiated.
    ///
    /// `master = PRF(pre_master, "OpenVPN master secret" || client_random1 ||
    /// server_random1)`, 48 bytes, then `key2 = PRF(master, "OpenVPN key
    /// expansion" || client_random2 || server_random2 || client_session_id ||
    /// server_session_id)`, 256 bytes. The pre-master secret and all randoms
    /// come from the key method 2 messages. The session ids are the control
    /// channel session ids of the client and the server.
    pub fn from_openvpn_prf(
        pre_master: &[u8; 48],
        client_random1: &[u8; 32],
        server_random1: &[u8; 32],
        client_random2: &[u8; 32],
        server_random2: &[u8; 32],
        client_session_id: &[u8; 8],
        server_session_id: &[u8; 8],
    ) -> Key2 {
        let mut master = [0u8; MASTER_SECRET_LEN];
        tls1_prf(
            pre_master,
            &[MASTER_SECRET_LABEL, client_random1, server_random1],
            &mut master,
        );

        let mut key2 = Key2 {
            bytes: [0u8; KEY2_LEN],
        };
        tls1_prf(
            &master,
            &[
                KEY_EXPANSION_LABEL,
                client_random2,
                server_random2,
                client_session_id,
                server_session_id,
            ],
            &mut key2.bytes,
        );

        master.zeroize();
        key2
    }

    /// Wraps 256 bytes exported from the TLS session with [`EKM_LABEL`] and no context.
    pub fn from_exported(bytes: [u8; KEY2_LEN]) -> Key2 {
        Key2 { bytes }
    }

    /// Cipher key for packets travelling in `direction`, `cipher.key_len()` bytes long.
    pub fn cipher_key(&self, direction: KeyDirection, cipher: DataCipher) -> &[u8] {
        let offset = match direction {
            KeyDirection::ClientToServer => CLIENT_TO_SERVER_KEY_OFFSET,
            KeyDirection::ServerToClient => SERVER_TO_CLIENT_KEY_OFFSET,
        };
        &self.bytes[offset..offset + cipher.key_len()]
    }

    /// AEAD implicit IV for packets travelling in `direction`.
    pub fn implicit_iv(&self, direction: KeyDirection) -> &[u8; IMPLICIT_IV_LEN] {
        let offset = match direction {
            KeyDirection::ClientToServer => CLIENT_TO_SERVER_IV_OFFSET,
            KeyDirection::ServerToClient => SERVER_TO_CLIENT_IV_OFFSET,
        };
        self.bytes[offset..offset + IMPLICIT_IV_LEN]
            .try_into()
            .expect("slice has IMPLICIT_IV_LEN bytes")
    }

    /// Cipher key a client encrypts with: bytes `0..cipher.key_len()`.
    pub fn client_encrypt_key(&self, cipher: DataCipher) -> &[u8] {
        self.cipher_key(KeyDirection::ClientToServer, cipher)
    }

    /// Implicit IV a client encrypts with: bytes `64..72`.
    pub fn client_encrypt_implicit_iv(&self) -> &[u8; IMPLICIT_IV_LEN] {
        self.implicit_iv(KeyDirection::ClientToServer)
    }

    /// Cipher key a client decrypts with: bytes `128..128 + cipher.key_len()`.
    pub fn client_decrypt_key(&self, cipher: DataCipher) -> &[u8] {
        self.cipher_key(KeyDirection::ServerToClient, cipher)
    }

    /// Implicit IV a client decrypts with: bytes `192..200`.
    pub fn client_decrypt_implicit_iv(&self) -> &[u8; IMPLICIT_IV_LEN] {
        self.implicit_iv(KeyDirection::ServerToClient)
    }
}

impl fmt::Debug for Key2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key2 { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Key block from the OpenVPN PRF vector that OpenSSL's `TLS1-PRF` KDF confirms.
    fn vector_key2() -> Key2 {
        let pre_master: [u8; 48] = std::array::from_fn(|i| i as u8);
        Key2::from_openvpn_prf(
            &pre_master,
            &[0x11; 32],
            &[0x22; 32],
            &[0x33; 32],
            &[0x44; 32],
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8],
        )
    }

    #[test]
    fn openvpn_prf_client_encrypt_key() {
        let expected = hex("d9a795d12e70d4394acdc4437f347c64bcbca5be8090331aea38825a454143d2");
        assert_eq!(
            vector_key2().client_encrypt_key(DataCipher::Aes256Gcm),
            expected.as_slice(),
            "client encrypt key differs from bytes 0..32 of the vector"
        );
    }

    #[test]
    fn openvpn_prf_client_encrypt_iv() {
        let expected = hex("5c0d475839f993f5");
        assert_eq!(
            vector_key2().client_encrypt_implicit_iv().as_slice(),
            expected.as_slice(),
            "client encrypt implicit IV differs from bytes 64..72 of the vector"
        );
    }

    #[test]
    fn openvpn_prf_client_decrypt_key() {
        let expected = hex("d91064434ec70884d3922891ce4a09e15d3622802fbfc5ace83a8ee9f37c2a24");
        assert_eq!(
            vector_key2().client_decrypt_key(DataCipher::Aes256Gcm),
            expected.as_slice(),
            "client decrypt key differs from bytes 128..160 of the vector"
        );
    }

    #[test]
    fn openvpn_prf_client_decrypt_iv() {
        let expected = hex("827689b569ef4555");
        assert_eq!(
            vector_key2().client_decrypt_implicit_iv().as_slice(),
            expected.as_slice(),
            "client decrypt implicit IV differs from bytes 192..200 of the vector"
        );
    }

    #[test]
    fn key_length_follows_cipher() {
        let key2 = vector_key2();
        for cipher in DataCipher::ALL {
            for direction in [KeyDirection::ClientToServer, KeyDirection::ServerToClient] {
                assert_eq!(
                    key2.cipher_key(direction, cipher).len(),
                    cipher.key_len(),
                    "{cipher} key for {direction:?} has the wrong length"
                );
            }
        }
    }

    #[test]
    fn exported_block_split() {
        let bytes: [u8; KEY2_LEN] = std::array::from_fn(|i| i as u8);
        let key2 = Key2::from_exported(bytes);

        let cases: [(&str, &[u8], &[u8]); 4] = [
            (
                "client encrypt key",
                key2.client_encrypt_key(DataCipher::Aes128Gcm),
                &bytes[0..16],
            ),
            (
                "client encrypt implicit IV",
                key2.client_encrypt_implicit_iv(),
                &bytes[64..72],
            ),
            (
                "client decrypt key",
                key2.client_decrypt_key(DataCipher::Chacha20Poly1305),
                &bytes[128..160],
            ),
            (
                "client decrypt implicit IV",
                key2.client_decrypt_implicit_iv(),
                &bytes[192..200],
            ),
        ];
        for (name, got, want) in cases {
            assert_eq!(got, want, "{name} taken from the wrong bytes");
        }
    }

    #[test]
    fn debug_prints_no_bytes() {
        let key2 = Key2::from_exported([0xab; KEY2_LEN]);
        let printed = format!("{key2:?}");

        assert!(
            !printed.to_ascii_lowercase().contains("ab"),
            "Debug output {printed:?} contains key bytes in hex"
        );
        assert!(
            !printed.contains("171"),
            "Debug output {printed:?} contains key bytes in decimal"
        );
    }

    #[test]
    fn key_direction_reverse() {
        assert_eq!(
            KeyDirection::ClientToServer.reverse(),
            KeyDirection::ServerToClient,
            "reverse of client-to-server is not server-to-client"
        );
    }
}
