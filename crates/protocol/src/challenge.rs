//! Challenges the server sends during authentication: `CR_TEXT`, `WEB_AUTH` and `OPEN_URL`
//! in `INFO_PRE`, and the dynamic challenge `CRV1` in `AUTH_FAILED`.
//!
//! Every prompt, URL and free text in these messages comes from the server and is shown to
//! a person, so each one passes [`sanitize_prompt`]. It removes one trailing line end,
//! rejects any other control character and bounds the length by [`PROMPT_MAX_LEN`].

use std::fmt;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use zeroize::Zeroizing;

/// Maximum length in bytes of one text field from the server.
///
/// OpenVPN 2.6 `push.c` truncates an `AUTH_FAILED` message to `PUSH_BUNDLE_SIZE` (1024 bytes,
/// `common.h`), and an `INFO_PRE` message must fit the same bound, so no field of a message
/// from a conforming server is longer.
pub const PROMPT_MAX_LEN: usize = 1024;

/// Maximum number of characters of server text quoted in an error.
const QUOTED_TEXT_MAX_CHARS: usize = 32;

/// Standard base64 that accepts the username of a `CRV1` challenge with or without padding.
const USERNAME_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The message that a [`ChallengeError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMessage {
    /// `INFO_PRE,CR_TEXT:<flags>:<text>`.
    CrText,
    /// `AUTH_FAILED,CRV1:<flags>:<state_id>:<base64 username>:<text>`.
    Crv1,
    /// `INFO_PRE,WEB_AUTH:<flags>:<url>`.
    WebAuth,
    /// `INFO_PRE,OPEN_URL:<url>`.
    OpenUrl,
    /// `INFO_PRE,<text>` with any other text.
    InfoPre,
    /// Server text passed to [`sanitize_prompt`] outside the messages above.
    Other,
}

impl ChallengeMessage {
    /// Returns the wire layout of the message, quoted in errors about missing or empty fields.
    fn layout(self) -> &'static str {
        match self {
            ChallengeMessage::CrText => "CR_TEXT:<flags>:<text>",
            ChallengeMessage::Crv1 => "CRV1:<flags>:<state_id>:<base64 username>:<text>",
            ChallengeMessage::WebAuth => "WEB_AUTH:<flags>:<url>",
            ChallengeMessage::OpenUrl => "OPEN_URL:<url>",
            ChallengeMessage::InfoPre => "INFO_PRE,<text>",
            ChallengeMessage::Other => "<text>",
        }
    }
}

impl fmt::Display for ChallengeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ChallengeMessage::CrText => "INFO_PRE,CR_TEXT",
            ChallengeMessage::Crv1 => "AUTH_FAILED,CRV1",
            ChallengeMessage::WebAuth => "INFO_PRE,WEB_AUTH",
            ChallengeMessage::OpenUrl => "INFO_PRE,OPEN_URL",
            ChallengeMessage::InfoPre => "INFO_PRE",
            ChallengeMessage::Other => "server message",
        };
        f.write_str(name)
    }
}

/// A challenge message that the client cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// The text does not start with the prefix of the message it was parsed as.
    #[error("{message} parser received {start:?}, which does not start with {expected}")]
    WrongPrefix {
        /// The message the text was parsed as.
        message: ChallengeMessage,
        /// The prefix or prefixes that were expected.
        expected: &'static str,
        /// The start of the text, shortened and with unprintable characters escaped.
        start: String,
    },
    /// The message ends before this field.
    #[error(
        "{message} has no {field} field; a server must send {layout}, with an empty field \
         still followed by ':'",
        layout = message.layout()
    )]
    MissingField {
        /// The message that is too short.
        message: ChallengeMessage,
        /// The first missing field.
        field: &'static str,
    },
    /// A field that must hold a value is empty.
    #[error(
        "{message} has an empty {field} field; a server must send {layout}",
        layout = message.layout()
    )]
    EmptyField {
        /// The message with the empty field.
        message: ChallengeMessage,
        /// The empty field.
        field: &'static str,
    },
    /// A base64 field does not decode.
    #[error(
        "{field} field of {message} is not valid base64 ({reason}); a server must send it as \
         standard base64"
    )]
    InvalidBase64 {
        /// The message with the broken field.
        message: ChallengeMessage,
        /// The field that does not decode.
        field: &'static str,
        /// Decoder error with the offending byte or length.
        reason: base64::DecodeError,
    },
    /// A base64 field decodes to bytes that are not UTF-8.
    #[error("{field} field of {message} decodes to bytes that are not valid UTF-8")]
    InvalidUtf8 {
        /// The message with the broken field.
        message: ChallengeMessage,
        /// The field that decodes to bytes that are not UTF-8.
        field: &'static str,
    },
    /// A field contains a control character other than one trailing line end.
    #[error(
        "{field} field of {message} contains control character U+{code_point:04X} at byte \
         {offset}; control characters are rejected so that server text cannot alter the display"
    )]
    ControlCharacter {
        /// The message with the control character.
        message: ChallengeMessage,
        /// The field with the control character.
        field: &'static str,
        /// Unicode code point of the character.
        code_point: u32,
        /// Byte offset of the character in the field.
        offset: usize,
    },
    /// A field is longer than [`PROMPT_MAX_LEN`].
    #[error(
        "{field} field of {message} is {len} bytes long, more than the maximum of {max} bytes"
    )]
    TooLong {
        /// The message with the long field.
        message: ChallengeMessage,
        /// The long field.
        field: &'static str,
        /// Length of the field in bytes.
        len: usize,
        /// Maximum length in bytes, [`PROMPT_MAX_LEN`].
        max: usize,
    },
    /// A web authentication URL does not start with `https://` or `http://`.
    #[error(
        "url field of {message} {start:?} is not an http or https URL; a browser must not be \
         opened on it"
    )]
    UnsupportedUrl {
        /// The message with the URL.
        message: ChallengeMessage,
        /// The start of the URL, shortened and with unprintable characters escaped.
        start: String,
    },
}

/// Checks server text for display and returns it without its trailing line end.
///
/// One trailing `\r\n`, `\n` or `\r` is removed, because text that a server script writes
/// to a file often ends with a line end. Any other control character (Unicode category Cc:
/// C0, DEL and C1) is an error naming its code point and byte offset. Text longer than
/// [`PROMPT_MAX_LEN`] bytes is an error naming its length.
// NOTE: Unicode format characters such as the bidirectional overrides U+202A..U+202E and
// U+2066..U+2069 are not control characters and pass, so a UI may still need to isolate
// server text from its own.
pub fn sanitize_prompt(text: &str) -> Result<String, ChallengeError> {
    sanitize_field(text, ChallengeMessage::Other, "text")
}

/// Removes one trailing line end from a field, then checks it with [`check_field`].
fn sanitize_field(
    text: &str,
    message: ChallengeMessage,
    field: &'static str,
) -> Result<String, ChallengeError> {
    let text = strip_line_end(text);
    check_field(text, message, field)?;
    Ok(text.to_owned())
}

fn strip_line_end(text: &str) -> &str {
    if let Some(stripped) = text.strip_suffix("\r\n") {
        return stripped;
    }
    text.strip_suffix(['\r', '\n']).unwrap_or(text)
}

/// Rejects a field longer than [`PROMPT_MAX_LEN`] or with any control character.
fn check_field(
    text: &str,
    message: ChallengeMessage,
    field: &'static str,
) -> Result<(), ChallengeError> {
    if text.len() > PROMPT_MAX_LEN {
        return Err(ChallengeError::TooLong {
            message,
            field,
            len: text.len(),
            max: PROMPT_MAX_LEN,
        });
    }

    let control = text
        .char_indices()
        .find(|(_, character)| character.is_control());
    if let Some((offset, character)) = control {
        return Err(ChallengeError::ControlCharacter {
            message,
            field,
            code_point: u32::from(character),
            offset,
        });
    }

    Ok(())
}

/// Returns the start of server text for an error, shortened and escaped.
fn quote_start(text: &str) -> String {
    text.chars()
        .take(QUOTED_TEXT_MAX_CHARS)
        .flat_map(char::escape_default)
        .collect()
}

/// The `E` and `R` flags of `CR_TEXT` and `CRV1`.
#[derive(Debug, Default)]
struct ChallengeFlags {
    echo: bool,
    response_required: bool,
}

/// Parses comma-separated challenge flags, ignoring unknown ones.
///
/// OpenVPN 3 `cr.hpp` compares each comma-separated flag with `E` and `R`, which this
/// follows, with spaces around a flag ignored. OpenVPN 2.x `misc.c` `get_auth_challenge`
/// instead looks for the letters anywhere in the field.
fn parse_flags(field: &str, message: ChallengeMessage) -> ChallengeFlags {
    let mut flags = ChallengeFlags::default();
    for flag in field.split(',').map(str::trim) {
        match flag {
            "E" => flags.echo = true,
            "R" => flags.response_required = true,
            "" => {}
            _ => tracing::debug!(%message, flag = ?flag, "ignoring unknown challenge flag"),
        }
    }
    flags
}

/// The pending-auth challenge `INFO_PRE,CR_TEXT:<flags>:<text>`, to which the client
/// replies with `CR_RESPONSE` on the live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrText {
    /// Flag `E`: the response may be shown while it is typed.
    pub echo: bool,
    /// Flag `R`: the server expects a `CR_RESPONSE`. Without it the text is information only.
    pub response_required: bool,
    /// The challenge text, sanitized for display.
    pub text: String,
}

impl CrText {
    /// Parses the text after `INFO_PRE,`, which must start with `CR_TEXT:`.
    ///
    /// The flags run to the next colon, and the text is the rest, colons included.
    pub fn parse(info_pre_body: &str) -> Result<CrText, ChallengeError> {
        let message = ChallengeMessage::CrText;
        let Some(rest) = info_pre_body.strip_prefix("CR_TEXT:") else {
            return Err(ChallengeError::WrongPrefix {
                message,
                expected: "CR_TEXT:",
                start: quote_start(info_pre_body),
            });
        };

        let Some((flags, text)) = rest.split_once(':') else {
            return Err(ChallengeError::MissingField {
                message,
                field: "text",
            });
        };
        let flags = parse_flags(flags, message);

        Ok(CrText {
            echo: flags.echo,
            response_required: flags.response_required,
            text: sanitize_field(text, message, "text")?,
        })
    }
}

/// The dynamic challenge `AUTH_FAILED,CRV1:<flags>:<state_id>:<base64 username>:<text>`.
///
/// The server ends the session after sending it. The client responds by connecting again
/// with [`Crv1Challenge::username`] and the password from
/// [`Crv1Challenge::response_password`]. `Debug` output shows only the length of the state
/// id, which identifies the pending login on the server.
#[derive(Clone, PartialEq, Eq)]
pub struct Crv1Challenge {
    /// Flag `E`: the response may be shown while it is typed.
    pub echo: bool,
    /// Flag `R`: the server expects a response. Without it the response is sent empty.
    pub response_required: bool,
    /// Opaque server token that ties the response to this challenge, never empty and without
    /// `:`.
    pub state_id: String,
    /// Username for the next connection, decoded from base64, or `None` when the field is
    /// empty.
    pub username: Option<String>,
    /// The challenge text, sanitized for display.
    pub text: String,
}

impl Crv1Challenge {
    /// Parses the text after `AUTH_FAILED,CRV1:`.
    ///
    /// The text is split at the first three colons, so the challenge text keeps its own
    /// colons. The username may be base64 with or without padding.
    pub fn parse(crv1_body: &str) -> Result<Crv1Challenge, ChallengeError> {
        let message = ChallengeMessage::Crv1;
        let mut fields = crv1_body.splitn(4, ':');
        let mut next_field = |field| {
            fields
                .next()
                .ok_or(ChallengeError::MissingField { message, field })
        };
        let flags = next_field("flags")?;
        let state_id = next_field("state_id")?;
        let username = next_field("username")?;
        let text = next_field("text")?;

        let flags = parse_flags(flags, message);

        if state_id.is_empty() {
            return Err(ChallengeError::EmptyField {
                message,
                field: "state_id",
            });
        }
        check_field(state_id, message, "state_id")?;

        Ok(Crv1Challenge {
            echo: flags.echo,
            response_required: flags.response_required,
            state_id: state_id.to_owned(),
            username: decode_username(username)?,
            text: sanitize_field(text, message, "text")?,
        })
    }

    /// Builds the password for the connection that responds to the challenge:
    /// `CRV1::<state_id>::<answer>`.
    ///
    /// Without flag `R` the answer is ignored and the response is sent empty, as the server
    /// expects. The result contains the answer, so it must never be logged.
    pub fn response_password(&self, answer: &str) -> Zeroizing<String> {
        let answer = if self.response_required { answer } else { "" };

        let mut password = Zeroizing::new(String::with_capacity(
            "CRV1::".len() + self.state_id.len() + "::".len() + answer.len(),
        ));
        password.push_str("CRV1::");
        password.push_str(&self.state_id);
        password.push_str("::");
        password.push_str(answer);
        password
    }
}

impl fmt::Debug for Crv1Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crv1Challenge")
            .field("echo", &self.echo)
            .field("response_required", &self.response_required)
            .field("state_id", &format_args!("<{} bytes>", self.state_id.len()))
            .field("username", &self.username)
            .field("text", &self.text)
            .finish()
    }
}

fn decode_username(field: &str) -> Result<Option<String>, ChallengeError> {
    let message = ChallengeMessage::Crv1;
    if field.is_empty() {
        return Ok(None);
    }

    let bytes = USERNAME_BASE64
        .decode(field)
        .map_err(|reason| ChallengeError::InvalidBase64 {
            message,
            field: "username",
            reason,
        })?;
    let username = String::from_utf8(bytes).map_err(|_| ChallengeError::InvalidUtf8 {
        message,
        field: "username",
    })?;
    check_field(&username, message, "username")?;

    Ok(Some(username))
}

/// A web authentication request: `INFO_PRE,WEB_AUTH:<flags>:<url>` or the older
/// `INFO_PRE,OPEN_URL:<url>`.
///
/// The client opens the URL, and the server completes authentication out of band. `Debug`
/// output hides the query and fragment of the URL, which often carry a session token, and
/// the value of a `proxy=` flag, which carries proxy credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct WebAuth {
    /// Comma-separated flags such as `hidden`, `external` or `proxy=...`, empty for
    /// `OPEN_URL`.
    pub flags: Vec<String>,
    /// The URL to open, sanitized for display and starting with `https://` or `http://`.
    pub url: String,
}

impl WebAuth {
    /// Parses the text after `INFO_PRE,`, which must start with `WEB_AUTH:` or `OPEN_URL:`.
    ///
    /// For `WEB_AUTH` the flags run to the next colon and the URL is the rest.
    pub fn parse(info_pre_body: &str) -> Result<WebAuth, ChallengeError> {
        if let Some(url) = info_pre_body.strip_prefix("OPEN_URL:") {
            return Ok(WebAuth {
                flags: Vec::new(),
                url: parse_url(url, ChallengeMessage::OpenUrl)?,
            });
        }

        let message = ChallengeMessage::WebAuth;
        let Some(rest) = info_pre_body.strip_prefix("WEB_AUTH:") else {
            return Err(ChallengeError::WrongPrefix {
                message,
                expected: "WEB_AUTH: or OPEN_URL:",
                start: quote_start(info_pre_body),
            });
        };

        let Some((flags, url)) = rest.split_once(':') else {
            return Err(ChallengeError::MissingField {
                message,
                field: "url",
            });
        };
        check_field(flags, message, "flags")?;
        let flags = flags
            .split(',')
            .map(str::trim)
            .filter(|flag| !flag.is_empty())
            .map(str::to_owned)
            .collect();

        Ok(WebAuth {
            flags,
            url: parse_url(url, message)?,
        })
    }
}

fn parse_url(url: &str, message: ChallengeMessage) -> Result<String, ChallengeError> {
    let url = sanitize_field(url, message, "url")?;
    if url.is_empty() {
        return Err(ChallengeError::EmptyField {
            message,
            field: "url",
        });
    }

    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    let is_web = scheme.is_some_and(|scheme| {
        scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("http")
    });
    if !is_web {
        return Err(ChallengeError::UnsupportedUrl {
            message,
            start: quote_start(&url),
        });
    }

    Ok(url)
}

impl fmt::Debug for WebAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<&str> = self
            .flags
            .iter()
            .map(|flag| match flag.split_once('=') {
                Some(("proxy", _)) => "proxy=<redacted>",
                _ => flag.as_str(),
            })
            .collect();

        let url = match self.url.find(['?', '#']) {
            Some(end) => format!("{}<redacted>", &self.url[..end]),
            None => self.url.clone(),
        };

        f.debug_struct("WebAuth")
            .field("flags", &flags)
            .field("url", &url)
            .finish()
    }
}

/// The text of an `INFO_PRE` message, sent together with `AUTH_PENDING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingAuthInfo {
    /// `CR_TEXT:<flags>:<text>`: a challenge to respond to on the live session.
    CrText(CrText),
    /// `WEB_AUTH:<flags>:<url>` or `OPEN_URL:<url>`: a URL to open.
    WebAuth(WebAuth),
    /// Any other text, sanitized for display.
    Other(String),
}

impl PendingAuthInfo {
    /// Parses the text after `INFO_PRE,` by its prefix: `CR_TEXT:`, `WEB_AUTH:` or `OPEN_URL:`.
    pub fn parse(info_pre_body: &str) -> Result<PendingAuthInfo, ChallengeError> {
        if info_pre_body.starts_with("CR_TEXT:") {
            return CrText::parse(info_pre_body).map(PendingAuthInfo::CrText);
        }
        if info_pre_body.starts_with("WEB_AUTH:") || info_pre_body.starts_with("OPEN_URL:") {
            return WebAuth::parse(info_pre_body).map(PendingAuthInfo::WebAuth);
        }

        let text = sanitize_field(info_pre_body, ChallengeMessage::InfoPre, "text")?;
        Ok(PendingAuthInfo::Other(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_cr_text(body: &str) -> CrText {
        match CrText::parse(body) {
            Ok(challenge) => challenge,
            Err(error) => panic!("{body:?} did not parse: {error}"),
        }
    }

    fn parse_crv1(body: &str) -> Crv1Challenge {
        match Crv1Challenge::parse(body) {
            Ok(challenge) => challenge,
            Err(error) => panic!("{body:?} did not parse: {error}"),
        }
    }

    fn parse_web_auth(body: &str) -> WebAuth {
        match WebAuth::parse(body) {
            Ok(request) => request,
            Err(error) => panic!("{body:?} did not parse: {error}"),
        }
    }

    fn control_character(
        message: ChallengeMessage,
        field: &'static str,
        code_point: u32,
        offset: usize,
    ) -> ChallengeError {
        ChallengeError::ControlCharacter {
            message,
            field,
            code_point,
            offset,
        }
    }

    #[test]
    fn sanitize_prompt_accepts_table() {
        let at_limit = "x".repeat(PROMPT_MAX_LEN);
        let at_limit_with_newline = format!("{at_limit}\n");
        let cases: Vec<(&str, &str)> = vec![
            ("Enter OTP", "Enter OTP"),
            ("", ""),
            ("Enter OTP\n", "Enter OTP"),
            ("Enter OTP\r\n", "Enter OTP"),
            ("Enter OTP\r", "Enter OTP"),
            ("\n", ""),
            ("Código: 🔑 ключ", "Código: 🔑 ключ"),
            ("a:b,c 'd' \"e\" \\f", "a:b,c 'd' \"e\" \\f"),
            (&at_limit, &at_limit),
            (&at_limit_with_newline, &at_limit),
        ];

        for (text, expected) in cases {
            let sanitized = sanitize_prompt(text);
            assert_eq!(
                sanitized.as_deref(),
                Ok(expected),
                "sanitized form of {text:?}"
            );
        }
    }

    #[test]
    fn sanitize_prompt_rejects_table() {
        let other = ChallengeMessage::Other;
        let too_long = "x".repeat(PROMPT_MAX_LEN + 1);
        let cases: Vec<(&str, ChallengeError)> = vec![
            ("a\nb", control_character(other, "text", 0x0a, 1)),
            ("ab\n\n", control_character(other, "text", 0x0a, 2)),
            ("ab\n\r", control_character(other, "text", 0x0a, 2)),
            ("ab\r\r\n", control_character(other, "text", 0x0d, 2)),
            ("\tcode", control_character(other, "text", 0x09, 0)),
            ("red \u{1b}[31m", control_character(other, "text", 0x1b, 4)),
            ("nul\0", control_character(other, "text", 0x00, 3)),
            ("del\u{7f}", control_character(other, "text", 0x7f, 3)),
            ("é\u{9b}31m", control_character(other, "text", 0x9b, 2)),
            (
                &too_long,
                ChallengeError::TooLong {
                    message: other,
                    field: "text",
                    len: PROMPT_MAX_LEN + 1,
                    max: PROMPT_MAX_LEN,
                },
            ),
        ];

        for (text, expected) in cases {
            assert_eq!(sanitize_prompt(text), Err(expected), "error for {text:?}");
        }
    }

    #[test]
    fn sanitize_prompt_error_names_position() {
        let Err(error) = sanitize_prompt("ab\u{7}") else {
            panic!("BEL was accepted");
        };
        let message = error.to_string();
        assert!(message.contains("U+0007"), "code point missing: {message}");
        assert!(message.contains("byte 2"), "offset missing: {message}");
    }

    #[test]
    fn sanitize_prompt_error_names_length() {
        let Err(error) = sanitize_prompt(&"x".repeat(2000)) else {
            panic!("2000 bytes were accepted");
        };
        let message = error.to_string();
        assert!(message.contains("2000"), "length missing: {message}");
        assert!(message.contains("1024"), "maximum missing: {message}");
    }

    #[test]
    fn cr_text_flags_table() {
        // (flags field, echo, response_required)
        let cases = [
            ("R,E", true, true),
            ("E,R", true, true),
            ("E", true, false),
            ("R", false, true),
            ("", false, false),
            ("X", false, false),
            ("R,X,E", true, true),
            ("hidden,R", false, true),
            (" R , E ", true, true),
            (",R,,", false, true),
            ("RE", false, false),
            ("e,r", false, false),
        ];

        for (flags, echo, response_required) in cases {
            let challenge = parse_cr_text(&format!("CR_TEXT:{flags}:Enter OTP"));
            assert_eq!(challenge.echo, echo, "echo for flags {flags:?}");
            assert_eq!(
                challenge.response_required, response_required,
                "response_required for flags {flags:?}"
            );
            assert_eq!(challenge.text, "Enter OTP", "text for flags {flags:?}");
        }
    }

    #[test]
    fn cr_text_text_table() {
        let cases = [
            ("CR_TEXT:R,E:Enter OTP", "Enter OTP"),
            ("CR_TEXT:R:Time: 12:30, code?", "Time: 12:30, code?"),
            ("CR_TEXT:R::leading colon", ":leading colon"),
            ("CR_TEXT:R:", ""),
            ("CR_TEXT:R:Enter OTP\n", "Enter OTP"),
            (
                "CR_TEXT:E,R:Geben Sie den Code für „VPN“ ein",
                "Geben Sie den Code für „VPN“ ein",
            ),
            ("CR_TEXT:R:it's \"quoted\"", "it's \"quoted\""),
        ];

        for (body, text) in cases {
            assert_eq!(parse_cr_text(body).text, text, "text of {body:?}");
        }
    }

    #[test]
    fn cr_text_rejects_malformed_table() {
        let cr_text = ChallengeMessage::CrText;
        let cases: Vec<(String, ChallengeError)> = vec![
            (
                "CR_TEXT:".to_owned(),
                ChallengeError::MissingField {
                    message: cr_text,
                    field: "text",
                },
            ),
            (
                "CR_TEXT:R,E".to_owned(),
                ChallengeError::MissingField {
                    message: cr_text,
                    field: "text",
                },
            ),
            (
                "WEB_AUTH::https://vpn.example/".to_owned(),
                ChallengeError::WrongPrefix {
                    message: cr_text,
                    expected: "CR_TEXT:",
                    start: "WEB_AUTH::https://vpn.example/".to_owned(),
                },
            ),
            (
                "cr_text:R:lower case".to_owned(),
                ChallengeError::WrongPrefix {
                    message: cr_text,
                    expected: "CR_TEXT:",
                    start: "cr_text:R:lower case".to_owned(),
                },
            ),
            (
                "CR_TEXT:R:Enter\u{1b}[2J OTP".to_owned(),
                control_character(cr_text, "text", 0x1b, 5),
            ),
            (
                format!("CR_TEXT:R:{}", "x".repeat(PROMPT_MAX_LEN + 1)),
                ChallengeError::TooLong {
                    message: cr_text,
                    field: "text",
                    len: PROMPT_MAX_LEN + 1,
                    max: PROMPT_MAX_LEN,
                },
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(CrText::parse(&body), Err(expected), "error for {body:?}");
        }
    }

    #[test]
    fn cr_text_error_names_message_and_field() {
        let Err(error) = CrText::parse("CR_TEXT:R") else {
            panic!("CR_TEXT without text was accepted");
        };
        let message = error.to_string();
        assert!(
            message.contains("INFO_PRE,CR_TEXT"),
            "message kind missing: {message}"
        );
        assert!(message.contains("text field"), "field missing: {message}");
    }

    #[test]
    fn crv1_parses_table() {
        struct Case {
            body: &'static str,
            echo: bool,
            response_required: bool,
            state_id: &'static str,
            username: Option<&'static str>,
            text: &'static str,
        }

        let cases = [
            Case {
                body: "R,E:Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l:Y3Ix:Please enter token PIN",
                echo: true,
                response_required: true,
                state_id: "Om01u7Fh4LrGBS7uh0SWmzwabUiGiW6l",
                username: Some("cr1"),
                text: "Please enter token PIN",
            },
            Case {
                body: "R,E:abc123:dGVzdHVzZXI=:Enter your OTP",
                echo: true,
                response_required: true,
                state_id: "abc123",
                username: Some("testuser"),
                text: "Enter your OTP",
            },
            Case {
                body: "R:abc123:dGVzdHVzZXI:unpadded username",
                echo: false,
                response_required: true,
                state_id: "abc123",
                username: Some("testuser"),
                text: "unpadded username",
            },
            Case {
                body: "R:abc123:dXNlcg==:padded username",
                echo: false,
                response_required: true,
                state_id: "abc123",
                username: Some("user"),
                text: "padded username",
            },
            Case {
                body: "R:abc123:dXNlcg:unpadded two bytes short",
                echo: false,
                response_required: true,
                state_id: "abc123",
                username: Some("user"),
                text: "unpadded two bytes short",
            },
            Case {
                body: "R:abc123:dXNlcg=:partly padded username",
                echo: false,
                response_required: true,
                state_id: "abc123",
                username: Some("user"),
                text: "partly padded username",
            },
            Case {
                body: "E:abc123::no username",
                echo: true,
                response_required: false,
                state_id: "abc123",
                username: None,
                text: "no username",
            },
            Case {
                body: ":a/b+c=d==:dXNlcg==:empty flags, state id with /+=",
                echo: false,
                response_required: false,
                state_id: "a/b+c=d==",
                username: Some("user"),
                text: "empty flags, state id with /+=",
            },
            Case {
                body: "R:s:dXNlcg==:Code: 12:34:56, then press \"OK\" or 'Cancel'",
                echo: false,
                response_required: true,
                state_id: "s",
                username: Some("user"),
                text: "Code: 12:34:56, then press \"OK\" or 'Cancel'",
            },
            Case {
                body: "R,E:s:w7xiZXJ1c2Vy:Bitte Einmalpasswort für Zoë eingeben",
                echo: true,
                response_required: true,
                state_id: "s",
                username: Some("überuser"),
                text: "Bitte Einmalpasswort für Zoë eingeben",
            },
            Case {
                body: "R:s:dXNlcg==:",
                echo: false,
                response_required: true,
                state_id: "s",
                username: Some("user"),
                text: "",
            },
            Case {
                body: "R:s:dXNlcg==:trailing newline\r\n",
                echo: false,
                response_required: true,
                state_id: "s",
                username: Some("user"),
                text: "trailing newline",
            },
            Case {
                body: "R,future:s:dXNlcg==:unknown flag",
                echo: false,
                response_required: true,
                state_id: "s",
                username: Some("user"),
                text: "unknown flag",
            },
        ];

        for case in cases {
            let challenge = parse_crv1(case.body);
            assert_eq!(challenge.echo, case.echo, "echo of {:?}", case.body);
            assert_eq!(
                challenge.response_required, case.response_required,
                "response_required of {:?}",
                case.body
            );
            assert_eq!(
                challenge.state_id, case.state_id,
                "state_id of {:?}",
                case.body
            );
            assert_eq!(
                challenge.username.as_deref(),
                case.username,
                "username of {:?}",
                case.body
            );
            assert_eq!(challenge.text, case.text, "text of {:?}", case.body);
        }
    }

    #[test]
    fn crv1_rejects_missing_fields_table() {
        let cases = [
            ("", "state_id"),
            ("R,E", "state_id"),
            ("R,E:abc123", "username"),
            ("R,E:abc123:dXNlcg==", "text"),
        ];

        for (body, field) in cases {
            let expected = ChallengeError::MissingField {
                message: ChallengeMessage::Crv1,
                field,
            };
            assert_eq!(
                Crv1Challenge::parse(body),
                Err(expected),
                "error for {body:?}"
            );
        }
    }

    #[test]
    fn crv1_rejects_malformed_table() {
        let crv1 = ChallengeMessage::Crv1;
        let cases: Vec<(String, ChallengeError)> = vec![
            (
                "R,E::dXNlcg==:text".to_owned(),
                ChallengeError::EmptyField {
                    message: crv1,
                    field: "state_id",
                },
            ),
            (
                "R:s:/w==:text".to_owned(),
                ChallengeError::InvalidUtf8 {
                    message: crv1,
                    field: "username",
                },
            ),
            (
                // base64 of "a\nb".
                "R:s:YQpi:text".to_owned(),
                control_character(crv1, "username", 0x0a, 1),
            ),
            (
                "R:s\tx:dXNlcg==:text".to_owned(),
                control_character(crv1, "state_id", 0x09, 1),
            ),
            (
                "R:s:dXNlcg==:text\u{7}".to_owned(),
                control_character(crv1, "text", 0x07, 4),
            ),
            (
                format!("R:{}:dXNlcg==:text", "s".repeat(PROMPT_MAX_LEN + 1)),
                ChallengeError::TooLong {
                    message: crv1,
                    field: "state_id",
                    len: PROMPT_MAX_LEN + 1,
                    max: PROMPT_MAX_LEN,
                },
            ),
            (
                format!("R:s:dXNlcg==:{}", "t".repeat(PROMPT_MAX_LEN + 1)),
                ChallengeError::TooLong {
                    message: crv1,
                    field: "text",
                    len: PROMPT_MAX_LEN + 1,
                    max: PROMPT_MAX_LEN,
                },
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(
                Crv1Challenge::parse(&body),
                Err(expected),
                "error for {body:?}"
            );
        }
    }

    #[test]
    fn crv1_rejects_invalid_base64_table() {
        let usernames = ["!!!!", "dXNlcg===", "d", "dXN lcg==", "dXNlcg-_"];

        for username in usernames {
            let body = format!("R:s:{username}:text");
            let result = Crv1Challenge::parse(&body);
            assert!(
                matches!(
                    result,
                    Err(ChallengeError::InvalidBase64 {
                        message: ChallengeMessage::Crv1,
                        field: "username",
                        ..
                    })
                ),
                "result for username {username:?}: {result:?}"
            );
        }
    }

    #[test]
    fn crv1_base64_error_names_field() {
        let Err(error) = Crv1Challenge::parse("R:s:!!!!:text") else {
            panic!("invalid base64 was accepted");
        };
        let message = error.to_string();
        assert!(
            message.contains("AUTH_FAILED,CRV1"),
            "message kind missing: {message}"
        );
        assert!(
            message.contains("username field"),
            "field missing: {message}"
        );
    }

    #[test]
    fn crv1_response_password_table() {
        // (challenge body, answer, expected password)
        let cases = [
            (
                "R,E:abc123:dGVzdHVzZXI=:Enter your OTP",
                "424242",
                "CRV1::abc123::424242",
            ),
            ("R:a/b+c=:dXNlcg==:PIN", "1234", "CRV1::a/b+c=::1234"),
            ("R:s::PIN", "a:b::c", "CRV1::s::a:b::c"),
            ("R:s::PIN", "", "CRV1::s::"),
            ("R:s::PIN", "pässwört", "CRV1::s::pässwört"),
            ("E:s::Press OK", "ignored", "CRV1::s::"),
            (":s::Information", "ignored", "CRV1::s::"),
        ];

        for (body, answer, expected) in cases {
            let password = parse_crv1(body).response_password(answer);
            assert_eq!(
                password.as_str(),
                expected,
                "password for {body:?} and answer {answer:?}"
            );
        }
    }

    #[test]
    fn crv1_debug_hides_state_id() {
        let challenge = parse_crv1("R,E:SECRETSTATE:dXNlcg==:Enter OTP");
        let debug = format!("{challenge:?}");
        assert!(
            !debug.contains("SECRETSTATE"),
            "state id in debug output: {debug}"
        );
        assert!(
            debug.contains("Enter OTP"),
            "text missing from debug output: {debug}"
        );
    }

    #[test]
    fn web_auth_parses_table() {
        // (body, flags, url)
        let cases: [(&str, &[&str], &str); 7] = [
            (
                "WEB_AUTH::https://vpn.example/auth?state=abc",
                &[],
                "https://vpn.example/auth?state=abc",
            ),
            (
                "WEB_AUTH:external:https://vpn.example:943/auth",
                &["external"],
                "https://vpn.example:943/auth",
            ),
            (
                "WEB_AUTH:hidden,external:https://vpn.example/",
                &["hidden", "external"],
                "https://vpn.example/",
            ),
            (
                "WEB_AUTH:proxy=198.18.0.1;3128;dXNlcg==;cGFzcw==,external:https://vpn.example/",
                &["proxy=198.18.0.1;3128;dXNlcg==;cGFzcw==", "external"],
                "https://vpn.example/",
            ),
            (
                "WEB_AUTH::HTTP://127.0.0.1:9000/login\n",
                &[],
                "HTTP://127.0.0.1:9000/login",
            ),
            (
                "OPEN_URL:https://vpn.example/sso?a=1:2",
                &[],
                "https://vpn.example/sso?a=1:2",
            ),
            (
                "OPEN_URL:http://[fd00::1]:8080/",
                &[],
                "http://[fd00::1]:8080/",
            ),
        ];

        for (body, flags, url) in cases {
            let request = parse_web_auth(body);
            assert_eq!(request.flags, flags, "flags of {body:?}");
            assert_eq!(request.url, url, "url of {body:?}");
        }
    }

    #[test]
    fn web_auth_rejects_malformed_table() {
        let web_auth = ChallengeMessage::WebAuth;
        let open_url = ChallengeMessage::OpenUrl;
        let cases: Vec<(String, ChallengeError)> = vec![
            (
                "WEB_AUTH:".to_owned(),
                ChallengeError::MissingField {
                    message: web_auth,
                    field: "url",
                },
            ),
            (
                "WEB_AUTH:external".to_owned(),
                ChallengeError::MissingField {
                    message: web_auth,
                    field: "url",
                },
            ),
            (
                "WEB_AUTH::".to_owned(),
                ChallengeError::EmptyField {
                    message: web_auth,
                    field: "url",
                },
            ),
            (
                "OPEN_URL:".to_owned(),
                ChallengeError::EmptyField {
                    message: open_url,
                    field: "url",
                },
            ),
            (
                // Flags field left out, so the scheme is taken as flags.
                "WEB_AUTH:https://vpn.example/".to_owned(),
                ChallengeError::UnsupportedUrl {
                    message: web_auth,
                    start: "//vpn.example/".to_owned(),
                },
            ),
            (
                "OPEN_URL:javascript:alert(1)".to_owned(),
                ChallengeError::UnsupportedUrl {
                    message: open_url,
                    start: "javascript:alert(1)".to_owned(),
                },
            ),
            (
                "OPEN_URL:file:///etc/passwd".to_owned(),
                ChallengeError::UnsupportedUrl {
                    message: open_url,
                    start: "file:///etc/passwd".to_owned(),
                },
            ),
            (
                "WEB_AUTH::vpn.example/auth".to_owned(),
                ChallengeError::UnsupportedUrl {
                    message: web_auth,
                    start: "vpn.example/auth".to_owned(),
                },
            ),
            (
                "WEB_AUTH::https://vpn.example/\u{1b}]8;;x".to_owned(),
                control_character(web_auth, "url", 0x1b, 20),
            ),
            (
                "WEB_AUTH:ext\u{0}:https://vpn.example/".to_owned(),
                control_character(web_auth, "flags", 0x00, 3),
            ),
            (
                format!("OPEN_URL:https://{}", "a".repeat(PROMPT_MAX_LEN)),
                ChallengeError::TooLong {
                    message: open_url,
                    field: "url",
                    len: PROMPT_MAX_LEN + "https://".len(),
                    max: PROMPT_MAX_LEN,
                },
            ),
            (
                "CR_TEXT:R:Enter OTP".to_owned(),
                ChallengeError::WrongPrefix {
                    message: web_auth,
                    expected: "WEB_AUTH: or OPEN_URL:",
                    start: "CR_TEXT:R:Enter OTP".to_owned(),
                },
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(WebAuth::parse(&body), Err(expected), "error for {body:?}");
        }
    }

    #[test]
    fn web_auth_debug_hides_secrets() {
        let request = parse_web_auth(
            "WEB_AUTH:proxy=198.18.0.1;3128;dXNlcg==;cGFzcw==,external:\
             https://vpn.example/auth?state=TOKEN#FRAGMENT",
        );
        let debug = format!("{request:?}");
        assert!(
            !debug.contains("cGFzcw=="),
            "proxy password in debug output: {debug}"
        );
        assert!(!debug.contains("TOKEN"), "query in debug output: {debug}");
        assert!(
            !debug.contains("FRAGMENT"),
            "fragment in debug output: {debug}"
        );
        assert!(
            debug.contains("https://vpn.example/auth"),
            "url path missing from debug output: {debug}"
        );
        assert!(
            debug.contains("external"),
            "flag missing from debug output: {debug}"
        );
    }

    #[test]
    fn pending_auth_info_dispatch_table() {
        let cases = [
            (
                "CR_TEXT:R,E:Enter OTP",
                PendingAuthInfo::CrText(CrText {
                    echo: true,
                    response_required: true,
                    text: "Enter OTP".to_owned(),
                }),
            ),
            (
                "WEB_AUTH:external:https://vpn.example/",
                PendingAuthInfo::WebAuth(WebAuth {
                    flags: vec!["external".to_owned()],
                    url: "https://vpn.example/".to_owned(),
                }),
            ),
            (
                "OPEN_URL:https://vpn.example/",
                PendingAuthInfo::WebAuth(WebAuth {
                    flags: Vec::new(),
                    url: "https://vpn.example/".to_owned(),
                }),
            ),
            (
                "Waiting for approval on your phone\n",
                PendingAuthInfo::Other("Waiting for approval on your phone".to_owned()),
            ),
            ("CR_TEXT", PendingAuthInfo::Other("CR_TEXT".to_owned())),
            ("", PendingAuthInfo::Other(String::new())),
        ];

        for (body, expected) in cases {
            assert_eq!(
                PendingAuthInfo::parse(body),
                Ok(expected),
                "result for {body:?}"
            );
        }
    }

    #[test]
    fn pending_auth_info_rejects_table() {
        let cases = [
            (
                "CR_TEXT:R",
                ChallengeError::MissingField {
                    message: ChallengeMessage::CrText,
                    field: "text",
                },
            ),
            (
                "OPEN_URL:",
                ChallengeError::EmptyField {
                    message: ChallengeMessage::OpenUrl,
                    field: "url",
                },
            ),
            (
                "beep\u{7}",
                control_character(ChallengeMessage::InfoPre, "text", 0x07, 4),
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(
                PendingAuthInfo::parse(body),
                Err(expected),
                "error for {body:?}"
            );
        }
    }

    /// Arbitrary text, and text shaped like each message so that the field parsing runs.
    fn challenge_body() -> impl Strategy<Value = String> {
        let prefix = prop_oneof![
            Just(""),
            Just("CR_TEXT:"),
            Just("WEB_AUTH:"),
            Just("OPEN_URL:"),
            Just("R,E:"),
        ];
        let tail = prop_oneof![
            any::<String>(),
            "[:,=/+ERhttps\\\\\r\n\u{0}\u{1b}\u{9b}é🔑A-Za-z0-9]{0,64}",
        ];
        (prefix, tail).prop_map(|(prefix, tail)| format!("{prefix}{tail}"))
    }

    proptest! {
        #[test]
        fn parsers_never_panic(body in challenge_body()) {
            let _ = sanitize_prompt(&body);
            let _ = CrText::parse(&body);
            let _ = WebAuth::parse(&body);
            let _ = PendingAuthInfo::parse(&body);
            if let Ok(challenge) = Crv1Challenge::parse(&body) {
                let _ = challenge.response_password(&body);
                let _ = format!("{challenge:?}");
            }
        }

        #[test]
        fn crv1_round_trips_fields(
            echo in any::<bool>(),
            response_required in any::<bool>(),
            state_id in "[A-Za-z0-9/+=]{1,40}",
            username in proptest::option::of("[^\\p{Cc}]{1,40}"),
            text in "[^\\p{Cc}]{0,80}",
        ) {
            let flags = match (echo, response_required) {
                (true, true) => "R,E",
                (true, false) => "E",
                (false, true) => "R",
                (false, false) => "",
            };
            let encoded_username = username
                .as_deref()
                .map(|name| base64::engine::general_purpose::STANDARD.encode(name))
                .unwrap_or_default();
            let body = format!("{flags}:{state_id}:{encoded_username}:{text}");

            let challenge = Crv1Challenge::parse(&body);
            prop_assert_eq!(
                challenge,
                Ok(Crv1Challenge { echo, response_required, state_id, username, text }),
                "fields of {:?}", body
            );
        }
    }
}
