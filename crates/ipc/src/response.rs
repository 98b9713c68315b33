//! Responses the provider sends to app requests.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::session_status::SessionStatus;
use crate::wire_auth_request::WireAuthRequest;

/// The provider's response to one request.
///
/// In JSON the variant is the `type` field and the payload sits under a named
/// key: `{"type":"sessions","sessions":[...]}`, `{"type":"error","kind":"not_found","message":"..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ResponseJson", from = "ResponseJson")]
pub enum Response {
    /// The request succeeded and returns nothing.
    Ok,
    /// Status of one session.
    Session(SessionStatus),
    /// Status of every session the caller may see.
    Sessions(Vec<SessionStatus>),
    /// Pending auth requests.
    AuthRequests(Vec<WireAuthRequest>),
    /// Log lines, oldest first.
    Logs(Vec<String>),
    /// The request failed.
    Error {
        /// Category of the failure, for programs.
        kind: ErrorKind,
        /// Description of the failure and the next step, for people.
        message: String,
    },
}

impl Response {
    /// Builds an error response.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
        Response::Error {
            kind,
            message: message.into(),
        }
    }
}

/// Category of a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The caller may not do this, such as ending another user's session.
    PermissionDenied,
    /// No session or auth request has the given name or id.
    NotFound,
    /// The message is not a valid request: malformed JSON, unknown type or bad fields.
    InvalidRequest,
    /// The message has a protocol version this provider does not speak.
    UnsupportedVersion,
    /// The frame's length prefix exceeds the maximum, so the provider closes the connection.
    FrameTooLarge,
    /// A session with this name exists already.
    AlreadyExists,
    /// The auth request is no longer pending: answered, expired or cancelled.
    NotPending,
    /// The session could not be started or reached no server.
    ConnectFailed,
    /// The server rejected authentication.
    AuthFailed,
    /// The provider failed internally.
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::UnsupportedVersion => "unsupported version",
            ErrorKind::FrameTooLarge => "frame too large",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::NotPending => "not pending",
            ErrorKind::ConnectFailed => "connect failed",
            ErrorKind::AuthFailed => "authentication failed",
            ErrorKind::Internal => "internal error",
        })
    }
}

/// JSON form of [`Response`], with each payload under a named key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ResponseJson {
    Ok,
    Session { session: SessionStatus },
    Sessions { sessions: Vec<SessionStatus> },
    AuthRequests { requests: Vec<WireAuthRequest> },
    Logs { lines: Vec<String> },
    Error { kind: ErrorKind, message: String },
}

impl From<Response> for ResponseJson {
    fn from(response: Response) -> ResponseJson {
        match response {
            Response::Ok => ResponseJson::Ok,
            Response::Session(session) => ResponseJson::Session { session },
            Response::Sessions(sessions) => ResponseJson::Sessions { sessions },
            Response::AuthRequests(requests) => ResponseJson::AuthRequests { requests },
            Response::Logs(lines) => ResponseJson::Logs { lines },
            Response::Error { kind, message } => ResponseJson::Error { kind, message },
        }
    }
}

impl From<ResponseJson> for Response {
    fn from(json: ResponseJson) -> Response {
        match json {
            ResponseJson::Ok => Response::Ok,
            ResponseJson::Session { session } => Response::Session(session),
            ResponseJson::Sessions { sessions } => Response::Sessions(sessions),
            ResponseJson::AuthRequests { requests } => Response::AuthRequests(requests),
            ResponseJson::Logs { lines } => Response::Logs(lines),
            ResponseJson::Error { kind, message } => Response::Error { kind, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_is_flat() {
        let response = Response::error(ErrorKind::NotPending, "auth request 3 expired");

        let json = serde_json::to_value(&response).expect("serialize");

        assert_eq!(
            json,
            serde_json::json!({
                "type": "error",
                "kind": "not_pending",
                "message": "auth request 3 expired",
            })
        );
    }

    #[test]
    fn logs_json_names_lines() {
        let response = Response::Logs(vec!["one".to_owned()]);

        let json = serde_json::to_value(&response).expect("serialize");

        assert_eq!(json, serde_json::json!({"type": "logs", "lines": ["one"]}));
    }

    #[test]
    fn ok_json_is_type_only() {
        let json = serde_json::to_value(Response::Ok).expect("serialize");

        assert_eq!(json, serde_json::json!({"type": "ok"}));
    }
}
