//! Requests an app sends to the provider.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::answer::WireAnswer;

/// One app request. In JSON the variant is the `type` field, such as `{"type":"status"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Starts a session from a profile.
    Connect {
        /// The profile to start.
        profile: ProfileSource,
        /// Session name. The provider derives one from the profile when absent.
        #[serde(default)]
        name: Option<String>,
        /// Username for `auth-user-pass`, so the provider requests only the password.
        #[serde(default)]
        username: Option<String>,
        /// Respond only once the tunnel is up or has failed, instead of once it has started.
        #[serde(default)]
        wait: bool,
    },
    /// Ends one session, or all the caller may end.
    Disconnect {
        /// The session to end. With `None` and `all` false, the provider ends the only one.
        #[serde(default)]
        session: Option<String>,
        /// Ends every session the caller may end.
        #[serde(default)]
        all: bool,
    },
    /// Reports one session, or all sessions when `session` is `None`.
    Status {
        /// The session to report.
        #[serde(default)]
        session: Option<String>,
    },
    /// Lists the pending auth requests of one session, or of all the caller's sessions.
    ListAuthRequests {
        /// The session whose requests to list.
        #[serde(default)]
        session: Option<String>,
    },
    /// Answers a pending auth request.
    Answer {
        /// Id of the auth request.
        request: u64,
        /// The answer.
        answer: WireAnswer,
    },
    /// Turns this connection into an event stream. The provider responds `ok`, then sends events.
    Subscribe,
    /// Returns the last log lines of a session.
    Logs {
        /// The session.
        session: String,
        /// Number of lines, counted from the newest.
        lines: u32,
    },
}

impl Request {
    /// The JSON `type` of every request, in declaration order.
    pub const TYPE_NAMES: [&'static str; 7] = [
        "connect",
        "disconnect",
        "status",
        "list_auth_requests",
        "answer",
        "subscribe",
        "logs",
    ];

    /// Returns the JSON `type` of this request, such as `list_auth_requests`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Request::Connect { .. } => "connect",
            Request::Disconnect { .. } => "disconnect",
            Request::Status { .. } => "status",
            Request::ListAuthRequests { .. } => "list_auth_requests",
            Request::Answer { .. } => "answer",
            Request::Subscribe => "subscribe",
            Request::Logs { .. } => "logs",
        }
    }
}

/// Source of the profile of a new session.
///
/// In JSON: `{"path":"/etc/ferrovpn/work.ovpn"}` or
/// `{"contents":{"name":"work","text":"client\n..."}}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// Path of a profile file, read by the provider with its own permissions.
    Path(String),
    /// Profile text sent by the app, for files only the user can read.
    Contents {
        /// Name for the session, usually the file name without `.ovpn`.
        name: String,
        /// The `.ovpn` text.
        text: String,
    },
}

impl fmt::Debug for ProfileSource {
    /// Omits the profile text, because inline `<key>` and `<tls-crypt>` blocks are key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileSource::Path(path) => f.debug_tuple("Path").field(path).finish(),
            ProfileSource::Contents { name, text } => f
                .debug_struct("Contents")
                .field("name", name)
                .field("text_len", &text.len())
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_contents_debug_hides_text() {
        let source = ProfileSource::Contents {
            name: "work".to_owned(),
            text: "<key>\nPRIVATE-KEY-BYTES\n</key>".to_owned(),
        };

        let text = format!("{source:?}");

        assert!(
            !text.contains("PRIVATE-KEY-BYTES"),
            "profile text shown: {text}"
        );
    }

    #[test]
    fn request_debug_hides_answer() {
        let request = Request::Answer {
            request: 7,
            answer: WireAnswer::Response {
                response: "918273".to_owned(),
            },
        };

        let text = format!("{request:?}");

        assert!(!text.contains("918273"), "response shown: {text}");
    }

    #[test]
    fn connect_defaults_optional_fields() {
        let json = r#"{"type":"connect","profile":{"path":"/etc/ferrovpn/work.ovpn"}}"#;

        let request: Request = serde_json::from_str(json).expect("parse");

        assert_eq!(
            request,
            Request::Connect {
                profile: ProfileSource::Path("/etc/ferrovpn/work.ovpn".to_owned()),
                name: None,
                username: None,
                wait: false,
            }
        );
    }

    #[test]
    fn type_names_match_serde_tags() {
        let requests = [
            Request::Status { session: None },
            Request::Disconnect {
                session: None,
                all: true,
            },
            Request::ListAuthRequests { session: None },
            Request::Subscribe,
            Request::Logs {
                session: "work".to_owned(),
                lines: 10,
            },
            Request::Answer {
                request: 1,
                answer: WireAnswer::Acknowledge,
            },
            Request::Connect {
                profile: ProfileSource::Path("a.ovpn".to_owned()),
                name: None,
                username: None,
                wait: true,
            },
        ];

        for request in requests {
            let json = serde_json::to_value(&request).expect("serialize");

            assert_eq!(json["type"], request.type_name(), "tag of {request:?}");
            assert!(
                Request::TYPE_NAMES.contains(&request.type_name()),
                "{} missing from TYPE_NAMES",
                request.type_name()
            );
        }
    }
}
