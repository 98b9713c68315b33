//! Profiles and key material shared by the integration tests.

#![allow(dead_code)]

use ferrovpn_profile::{Loaded, Profile, ProfileError};

/// Self-signed test CA certificate.
pub const CA: &str = include_str!("../fixtures/ca.crt");
/// Client certificate signed by `CA`.
pub const CERT: &str = include_str!("../fixtures/client.crt");
/// Unencrypted PKCS#8 private key of `CERT`.
pub const KEY: &str = include_str!("../fixtures/client.key");
/// OpenVPN static key for tls-auth and tls-crypt.
pub const STATIC_KEY: &str = include_str!("../fixtures/ta.key");

/// Appends an inline CA to `lines`, so the lines under test start at line 1.
pub fn with_ca(lines: &str) -> String {
    format!("{lines}\n<ca>\n{CA}</ca>\n")
}

/// Appends a remote and an inline CA to `lines`, the minimum a profile needs.
pub fn with_base(lines: &str) -> String {
    with_ca(&format!("{lines}\nclient\nremote vpn.example.net"))
}

/// Parses `lines` followed by the minimum profile, panicking with the error if rejected.
pub fn parse(lines: &str) -> Loaded {
    parse_text(&with_base(lines))
}

/// Parses a complete profile text, panicking with the error if rejected.
pub fn parse_text(text: &str) -> Loaded {
    Profile::parse(text, "test.ovpn", None).unwrap_or_else(|error| panic!("rejected: {error}"))
}

/// Parses `lines` followed by the minimum profile and returns the error it must cause.
pub fn parse_error(lines: &str) -> ProfileError {
    parse_text_error(&with_base(lines))
}

/// Parses a complete profile text and returns the error it must cause.
pub fn parse_text_error(text: &str) -> ProfileError {
    match Profile::parse(text, "test.ovpn", None) {
        Ok(_) => panic!("profile was accepted:\n{text}"),
        Err(error) => error,
    }
}
