//! Enrolment output for an authenticator app: an `otpauth://` URI and the same URI as a
//! QR code for the terminal.
//!
//! The URI follows the Key Uri Format of Google Authenticator, which other apps read too:
//! `otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>`. The algorithm,
//! digits and period are left out because the defaults (SHA1, 6, 30) are the ones used.

use qrcode::render::unicode::Dense1x2;
use qrcode::types::QrError;
use qrcode::QrCode;
use zeroize::Zeroizing;

use crate::totp::TotpSecret;

/// Issuer shown by authenticator apps above the code.
pub const ISSUER: &str = "ferrovpn";

/// Builds the `otpauth://totp/ferrovpn:<username>?secret=<base32>&issuer=ferrovpn` URI.
///
/// The username is percent-encoded, although the names `user add` accepts only need it
/// for `@`.
pub fn otpauth_uri(username: &str, secret: &TotpSecret) -> Zeroizing<String> {
    Zeroizing::new(format!(
        "otpauth://totp/{ISSUER}:{}?secret={}&issuer={ISSUER}",
        percent_encode(username),
        secret.to_base32().as_str()
    ))
}

/// Renders `text` as a QR code of Unicode half blocks, two modules per character cell,
/// light on dark so that it scans from a terminal with a dark background.
pub fn qr_code_text(text: &str) -> Result<Zeroizing<String>, QrError> {
    let code = QrCode::new(text.as_bytes())?;
    let rendered = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    Ok(Zeroizing::new(rendered))
}

/// Percent-encodes everything except the unreserved characters of RFC 3986.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otpauth_uri_has_issuer_and_secret() {
        let secret = TotpSecret::from_bytes(b"foobar".to_vec());
        let uri = otpauth_uri("alice", &secret);
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/ferrovpn:alice?secret=MZXW6YTBOI&issuer=ferrovpn"
        );
    }

    #[test]
    fn otpauth_uri_encodes_at_sign() {
        let secret = TotpSecret::from_bytes(b"foobar".to_vec());
        let uri = otpauth_uri("alice@example.org", &secret);
        assert!(
            uri.contains("ferrovpn:alice%40example.org?"),
            "label must be percent-encoded: {}",
            uri.as_str()
        );
    }

    #[test]
    fn qr_code_text_is_square_blocks() {
        let text = qr_code_text("otpauth://totp/ferrovpn:alice?secret=MZXW6YTBOI&issuer=ferrovpn")
            .expect("URI fits a QR code");
        let lines: Vec<&str> = text.lines().collect();
        let width = lines[0].chars().count();
        // Two modules per line, so a square code has about half as many lines as columns.
        assert!(
            lines.len() * 2 >= width && lines.len() * 2 <= width + 2,
            "{} lines for {width} columns",
            lines.len()
        );
        assert!(
            lines.iter().all(|line| line.chars().count() == width),
            "all lines must have {width} columns"
        );
    }
}
