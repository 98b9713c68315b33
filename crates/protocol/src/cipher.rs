//! Data channel ciphers that ferrovpn negotiates with a server.

use std::fmt;

/// An AEAD data channel cipher, spelled as OpenVPN spells it in `data-ciphers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataCipher {
    /// `AES-128-GCM`: 16-byte key.
    Aes128Gcm,
    /// `AES-256-GCM`: 32-byte key.
    Aes256Gcm,
    /// `CHACHA20-POLY1305`: 32-byte key.
    Chacha20Poly1305,
}

impl DataCipher {
    /// Every cipher ferrovpn supports, in the order it prefers them.
    pub const ALL: [DataCipher; 3] = [
        DataCipher::Aes256Gcm,
        DataCipher::Aes128Gcm,
        DataCipher::Chacha20Poly1305,
    ];

    /// Returns the OpenVPN name, such as `AES-256-GCM`.
    pub fn name(self) -> &'static str {
        match self {
            DataCipher::Aes128Gcm => "AES-128-GCM",
            DataCipher::Aes256Gcm => "AES-256-GCM",
            DataCipher::Chacha20Poly1305 => "CHACHA20-POLY1305",
        }
    }

    /// Looks a cipher up by its OpenVPN name, ignoring ASCII case as OpenVPN does.
    pub fn from_name(name: &str) -> Option<DataCipher> {
        DataCipher::ALL
            .into_iter()
            .find(|cipher| cipher.name().eq_ignore_ascii_case(name))
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            DataCipher::Aes128Gcm => 16,
            DataCipher::Aes256Gcm | DataCipher::Chacha20Poly1305 => 32,
        }
    }

    /// Colon-separated list of names, the form `IV_CIPHERS` and `data-ciphers` use.
    pub fn join_names(ciphers: &[DataCipher]) -> String {
        ciphers
            .iter()
            .map(|cipher| cipher.name())
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl fmt::Display for DataCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_name_ignores_case() {
        assert_eq!(
            DataCipher::from_name("aes-128-gcm"),
            Some(DataCipher::Aes128Gcm)
        );
    }

    #[test]
    fn from_name_rejects_cbc() {
        assert_eq!(DataCipher::from_name("AES-256-CBC"), None);
    }

    #[test]
    fn join_names_uses_colons() {
        assert_eq!(
            DataCipher::join_names(&[DataCipher::Aes256Gcm, DataCipher::Chacha20Poly1305]),
            "AES-256-GCM:CHACHA20-POLY1305"
        );
    }
}
