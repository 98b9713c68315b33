//! The static challenge response `SCRV1:<base64 password>:<base64 response>` that a
//! client configured with `static-challenge` sends as its password.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Password and response decoded from a `SCRV1:` password.
pub struct StaticChallengeResponse {
    /// The user's password.
    pub password: Zeroizing<String>,
    /// The response to the challenge: the TOTP code.
    pub response: Zeroizing<String>,
}

/// Returns whether `password` is in static challenge form, well-formed or not.
pub fn is_static_challenge(password: &str) -> bool {
    password.starts_with("SCRV1:")
}

/// Decodes `SCRV1:<base64 password>:<base64 response>`.
///
/// Returns `None` unless there are exactly three `:`-separated fields (OpenVPN 3
/// `cr.hpp` checks the same), the first is `SCRV1` and the others are base64 of UTF-8.
pub fn decode(password: &str) -> Option<StaticChallengeResponse> {
    let fields: Vec<&str> = password.split(':').collect();
    let ["SCRV1", password, response] = fields.as_slice() else {
        return None;
    };
    let decode_field = |field: &str| {
        let bytes = Zeroizing::new(BASE64.decode(field).ok()?);
        let text = std::str::from_utf8(&bytes).ok()?;
        Some(Zeroizing::new(text.to_owned()))
    };
    Some(StaticChallengeResponse {
        password: decode_field(password)?,
        response: decode_field(response)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases = [
            ("SCRV1:YmFy:ODY3NTMwOQ==", Some(("bar", "8675309"))),
            ("SCRV1::", Some(("", ""))),
            ("SCRV1:YmFy", None),
            ("SCRV1:YmFy:ODY3:extra", None),
            ("CRV1:YmFy:ODY3NTMwOQ==", None),
            ("SCRV1:not base64!:ODY3NTMwOQ==", None),
            ("SCRV1:/w==:MTIz", None),
        ];
        for (password, expected) in cases {
            let decoded = decode(password)
                .map(|parts| (parts.password.to_string(), parts.response.to_string()));
            let expected = expected.map(|(p, r)| (p.to_owned(), r.to_owned()));
            assert_eq!(decoded, expected, "decoding {password:?}");
        }
    }
}
