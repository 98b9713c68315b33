//! The static challenge: a response the client requests from the user before connecting
//! (`static-challenge` in the profile) and sends inside the password field of key method 2.
//!
//! The server never requests it. It only decodes the password field, so both encodings
//! must match what the server's auth script or plugin expects.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

/// Encoding of the password together with the static challenge response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StaticChallengeFormat {
    /// `SCRV1:<base64 password>:<base64 response>`, the only format of OpenVPN 2.6 and
    /// the default of later versions.
    #[default]
    Scrv1,
    /// The password followed directly by the response, added as `static-challenge` argument
    /// `concat` in OpenVPN 2.7.
    Concat,
}

/// Encodes the password field that carries both the password and the static challenge
/// response.
///
/// [`StaticChallengeFormat::Scrv1`] encodes the raw UTF-8 bytes of each part as standard
/// padded base64, with nothing escaped first, so password `bar` and response `8675309`
/// become `SCRV1:YmFy:ODY3NTMwOQ==`. Either part may be empty. The result contains the
/// password, so it must never be logged.
pub fn encode_static_challenge(
    password: &str,
    response: &str,
    format: StaticChallengeFormat,
) -> Zeroizing<String> {
    match format {
        StaticChallengeFormat::Scrv1 => encode_scrv1(password, response),
        StaticChallengeFormat::Concat => {
            let mut field = Zeroizing::new(String::with_capacity(password.len() + response.len()));
            field.push_str(password);
            field.push_str(response);
            field
        }
    }
}

fn encode_scrv1(password: &str, response: &str) -> Zeroizing<String> {
    // Reserving the whole length up front keeps the string from reallocating, which would
    // leave copies of the secret behind in freed memory.
    let capacity = "SCRV1:".len() + base64_len(password) + ":".len() + base64_len(response);

    let mut field = Zeroizing::new(String::with_capacity(capacity));
    field.push_str("SCRV1:");
    STANDARD.encode_string(password, &mut field);
    field.push(':');
    STANDARD.encode_string(response, &mut field);
    field
}

/// Returns the length of padded base64 for `text`: 4 characters for every 3 bytes started.
fn base64_len(text: &str) -> usize {
    text.len().div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Splits an SCRV1 field and decodes both parts, or returns why it is malformed.
    fn decode_scrv1(field: &str) -> Result<(String, String), String> {
        let Some(rest) = field.strip_prefix("SCRV1:") else {
            return Err(format!("{field:?} does not start with SCRV1:"));
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let [password, response] = parts[..] else {
            return Err(format!("{field:?} does not have exactly two parts"));
        };

        let decode = |part: &str| {
            let bytes = STANDARD
                .decode(part)
                .map_err(|error| format!("{part:?} is not base64: {error}"))?;
            String::from_utf8(bytes).map_err(|error| format!("{part:?} is not UTF-8: {error}"))
        };
        Ok((decode(password)?, decode(response)?))
    }

    #[test]
    fn scrv1_known_answer() {
        let field = encode_static_challenge("bar", "8675309", StaticChallengeFormat::Scrv1);
        assert_eq!(field.as_str(), "SCRV1:YmFy:ODY3NTMwOQ==");
    }

    #[test]
    fn scrv1_encodes_table() {
        let cases = [
            ("bar", "8675309", "SCRV1:YmFy:ODY3NTMwOQ=="),
            ("", "123456", "SCRV1::MTIzNDU2"),
            ("secret", "", "SCRV1:c2VjcmV0:"),
            ("", "", "SCRV1::"),
            ("p\"w'd", "1", "SCRV1:cCJ3J2Q=:MQ=="),
            ("back\\slash", "2", "SCRV1:YmFja1xzbGFzaA==:Mg=="),
            ("a:b::c", "d:e", "SCRV1:YTpiOjpj:ZDpl"),
            ("pässwört", "ключ", "SCRV1:cMOkc3N3w7ZydA==:0LrQu9GO0Yc="),
            ("a,b c", "x y", "SCRV1:YSxiIGM=:eCB5"),
        ];

        for (password, response, expected) in cases {
            let field = encode_static_challenge(password, response, StaticChallengeFormat::Scrv1);
            assert_eq!(
                field.as_str(),
                expected,
                "SCRV1 field for password {password:?} and response {response:?}"
            );
        }
    }

    #[test]
    fn scrv1_round_trips_table() {
        let long_response = "Z".repeat(300) + &"ä".repeat(200);
        let cases = [
            ("quote\"d", "apo'strophe"),
            ("back\\slash\\", "\\"),
            ("co:lo:n", ":::"),
            ("ünïcödé 🔑", "日本語"),
            ("short", long_response.as_str()),
            (long_response.as_str(), "short"),
        ];

        for (password, response) in cases {
            let field = encode_static_challenge(password, response, StaticChallengeFormat::Scrv1);
            assert_eq!(
                decode_scrv1(&field),
                Ok((password.to_owned(), response.to_owned())),
                "decoded SCRV1 field for password {password:?}"
            );
        }
    }

    #[test]
    fn scrv1_reserves_exact_capacity() {
        let long_response = "9".repeat(700);
        let cases = [("", ""), ("a", "bc"), ("pässwört", long_response.as_str())];

        for (password, response) in cases {
            let field = encode_static_challenge(password, response, StaticChallengeFormat::Scrv1);
            assert_eq!(
                field.capacity(),
                field.len(),
                "capacity of the field for password {password:?}, so no reallocation happened"
            );
        }
    }

    #[test]
    fn concat_encodes_table() {
        let long_response = "7".repeat(400);
        let long_field = format!("pw{long_response}");
        let cases = [
            ("bar", "8675309", "bar8675309"),
            ("", "123456", "123456"),
            ("secret", "", "secret"),
            ("p\"w'd\\", ":1", "p\"w'd\\:1"),
            ("pässwört", "ключ", "pässwörtключ"),
            ("pw", long_response.as_str(), long_field.as_str()),
        ];

        for (password, response, expected) in cases {
            let field = encode_static_challenge(password, response, StaticChallengeFormat::Concat);
            assert_eq!(
                field.as_str(),
                expected,
                "concat field for password {password:?} and response {response:?}"
            );
        }
    }

    #[test]
    fn static_challenge_format_defaults_to_scrv1() {
        assert_eq!(
            StaticChallengeFormat::default(),
            StaticChallengeFormat::Scrv1
        );
    }

    proptest! {
        #[test]
        fn scrv1_round_trips_any_text(
            password in any::<String>(),
            response in any::<String>(),
        ) {
            let field = encode_static_challenge(&password, &response, StaticChallengeFormat::Scrv1);
            prop_assert_eq!(decode_scrv1(&field), Ok((password, response)));
        }

        #[test]
        fn concat_is_password_then_response(
            password in any::<String>(),
            response in any::<String>(),
        ) {
            let format = StaticChallengeFormat::Concat;
            let field = encode_static_challenge(&password, &response, format);
            prop_assert_eq!(field.as_str(), format!("{password}{response}"));
        }
    }
}
