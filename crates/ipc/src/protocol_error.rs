//! Reasons a frame's JSON is not a valid app message or provider message.

use crate::envelope::PROTOCOL_VERSION;
use crate::request::Request;
use crate::response::{ErrorKind, Response};

/// A frame arrived intact but its JSON is not a message of this protocol.
///
/// The connection stays usable: the provider sends an error response and reads the next frame.
/// Messages never quote field values, because a value may be a password or a one-time code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The payload is not UTF-8.
    #[error("message is not valid UTF-8 after byte {valid_up_to}; send UTF-8 JSON")]
    InvalidUtf8 {
        /// Length of the valid UTF-8 prefix in bytes.
        valid_up_to: usize,
    },
    /// The payload is not JSON.
    #[error("message is not valid JSON: {message}")]
    MalformedJson {
        /// The parser's description with line and column.
        message: String,
    },
    /// The JSON is not an envelope object with the expected fields.
    #[error("invalid message envelope: {message}")]
    InvalidEnvelope {
        /// Description of the problem with the envelope.
        message: String,
    },
    /// The envelope has no integer `version`.
    #[error("message has no integer \"version\"; send \"version\": {PROTOCOL_VERSION}")]
    MissingVersion,
    /// The envelope has a version this build does not speak.
    #[error(
        "unsupported message version {found}; this ferrovpn speaks version {PROTOCOL_VERSION}, \
         so update the app and the daemon to the same release"
    )]
    UnsupportedVersion {
        /// The version the message carried.
        found: u64,
    },
    /// The envelope has no integer `id`, which every request and response needs.
    #[error("message has no integer \"id\"; every request needs a u64 id")]
    MissingId,
    /// The app message has no `request` object.
    #[error("app message has no \"request\"")]
    MissingRequest,
    /// The request is not a JSON object with a string `type`.
    #[error(
        "the request must be a JSON object with a string \"type\", one of: {}",
        Request::TYPE_NAMES.join(", ")
    )]
    MissingRequestType,
    /// The request's `type` names no known request.
    #[error("unknown request type {name:?}; expected one of: {}", Request::TYPE_NAMES.join(", "))]
    UnknownRequestType {
        /// The `type` received, cut to 64 characters.
        name: String,
    },
    /// The request has a known type but missing or mistyped fields.
    #[error("invalid {request_type} request: {message}")]
    InvalidRequest {
        /// The request's `type`.
        request_type: String,
        /// Description of the problem, without field values.
        message: String,
    },
    /// The provider message's `response` does not parse.
    #[error("invalid response from the ferrovpn daemon: {message}")]
    InvalidResponse {
        /// Description of the problem, without field values.
        message: String,
    },
    /// The provider message's `event` does not parse.
    #[error("invalid event from the ferrovpn daemon: {message}")]
    InvalidEvent {
        /// Description of the problem, without field values.
        message: String,
    },
}

impl ProtocolError {
    /// Category to report to the app in an error response.
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            ProtocolError::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            _ => ErrorKind::InvalidRequest,
        }
    }

    /// Builds the error response the provider sends for this error.
    pub fn to_response(&self) -> Response {
        Response::error(self.error_kind(), self.to_string())
    }
}

/// Describes a JSON error without the offending value.
///
/// serde's own text quotes the unexpected value (`invalid type: integer
/// `123456`, expected a string`), and that value may be a one-time code, so
/// only the expectation and the position are kept.
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    for (prefix, what) in [
        ("invalid type: ", "invalid type"),
        ("invalid value: ", "invalid value"),
        ("invalid length ", "invalid length"),
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return match rest.split_once(", expected ") {
                Some((_, expected)) => format!("{what}, expected {expected}"),
                None => format!("{what} at line {} column {}", error.line(), error.column()),
            };
        }
    }
    text
}

/// Cuts an untrusted name to at most `max` characters for an error message.
pub(crate) fn truncate_for_message(name: &str, max: usize) -> String {
    match name.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_error_omits_integer_value() {
        let error = serde_json::from_str::<String>("918273").expect_err("type error");

        let text = describe_json_error(&error);

        assert!(!text.contains("918273"), "value quoted: {text}");
    }

    #[test]
    fn json_error_omits_string_value() {
        let error = serde_json::from_str::<u32>(r#""hunter2""#).expect_err("type error");

        let text = describe_json_error(&error);

        assert!(!text.contains("hunter2"), "value quoted: {text}");
    }

    #[test]
    fn json_error_keeps_expectation() {
        let error = serde_json::from_str::<String>("918273").expect_err("type error");

        let text = describe_json_error(&error);

        assert!(
            text.contains("expected a string"),
            "expectation lost: {text}"
        );
    }

    #[test]
    fn truncate_cuts_long_names() {
        let cut = truncate_for_message(&"x".repeat(100), 64);

        assert_eq!(cut.len(), 67, "cut name: {cut}");
    }

    #[test]
    fn version_error_maps_to_unsupported_version() {
        let error = ProtocolError::UnsupportedVersion { found: 2 };

        assert_eq!(error.error_kind(), ErrorKind::UnsupportedVersion);
    }
}
