//! Text forms of the static challenge (`SCRV1`) and the dynamic challenge (`CRV1`)
//! (OpenVPN `doc/management-notes.txt`, "Challenge/Response Protocol").

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// Splits and decodes `SCRV1:<base64 password>:<base64 response>`.
///
/// Either part may be empty. Returns `None` unless there are exactly three fields, the
/// first is `SCRV1` and both others are base64 of UTF-8 text.
pub(super) fn decode_static_challenge(password: &str) -> Option<(String, String)> {
    let fields: Vec<&str> = password.split(':').collect();
    let [tag, password, response] = fields.as_slice() else {
        return None;
    };
    if *tag != "SCRV1" {
        return None;
    }
    let decode = |field: &str| {
        BASE64
            .decode(field)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
    };
    Some((decode(password)?, decode(response)?))
}

/// Builds `CRV1:<flags>:<state_id>:<base64 username>:<text>`, the client reason of a
/// `client-deny` that requests a dynamic challenge response.
pub(super) fn crv1_challenge_text(
    flags: &str,
    state_id: &str,
    username: &str,
    text: &str,
) -> String {
    format!("CRV1:{flags}:{state_id}:{}:{text}", BASE64.encode(username))
}

/// Returns a fresh CRV1 state id.
///
/// The id is base64 of random bytes arranged so that it always contains `+`, `/` and `=`:
/// a client must return it unchanged, and these are the characters that URL-safe encoders,
/// shell quoting and form encoding tend to alter. It never contains `:`.
pub(super) fn new_state_id() -> String {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).expect("the operating system provides random bytes");
    format!(
        "{}+{}/{}",
        BASE64.encode(&random[..6]),
        BASE64.encode(&random[6..12]),
        BASE64.encode(&random[12..])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crv1_challenge_text_matches_documented_example() {
        // The example of OpenVPN's management-notes.txt: user "cr1", state id
        // "Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l".
        let text = crv1_challenge_text(
            "R,E",
            "Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l",
            "cr1",
            "Please enter token PIN",
        );
        assert_eq!(
            text,
            "CRV1:R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:Please enter token PIN"
        );
    }

    #[test]
    fn decode_static_challenge_cases() {
        let cases = [
            ("SCRV1:YmFy:ODY3NTMwOQ==", Some(("bar", "8675309"))),
            ("SCRV1::", Some(("", ""))),
            ("SCRV1:YmFy", None),
            ("SCRV1:YmFy:ODY3:extra", None),
            ("CRV1:YmFy:ODY3NTMwOQ==", None),
            ("SCRV1:not base64!:ODY3NTMwOQ==", None),
        ];
        for (password, expected) in cases {
            let expected = expected.map(|(p, r)| (p.to_owned(), r.to_owned()));
            assert_eq!(
                decode_static_challenge(password),
                expected,
                "decoding {password:?}"
            );
        }
    }

    #[test]
    fn state_id_has_base64_specials() {
        for _ in 0..20 {
            let state = new_state_id();
            for special in ['+', '/', '='] {
                assert!(state.contains(special), "state {state:?} lacks {special:?}");
            }
            assert!(!state.contains(':'), "state {state:?} contains a colon");
        }
    }
}
