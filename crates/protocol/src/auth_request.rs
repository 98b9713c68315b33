//! Pending authentication requests: what the provider needs from a person, and the answers.
//!
//! When a server wants more than the profile holds (a password, a one-time
//! code, a web sign-in), the provider describes it as an [`AuthRequest`] and
//! keeps the start pending until an [`AuthAnswer`] arrives or the request
//! expires. The same types travel to a terminal prompt, an app message or a
//! desktop notification. Prompt text from the server is sanitized before it
//! lands here and must be shown as plain text.

use std::fmt;
use std::time::SystemTime;

use zeroize::Zeroizing;

/// Identifier of one request, unique within a provider run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthRequestId(pub u64);

impl fmt::Display for AuthRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Kind of input a request needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthRequestKind {
    /// Username and password, for `auth-user-pass` without a file.
    Credentials {
        /// Username already known from the profile or an earlier attempt.
        username: Option<String>,
    },
    /// `static-challenge`: the password and the response, asked together.
    StaticChallenge {
        /// Username the answer is sent with.
        username: String,
        /// True when the password is cached and only the response is needed.
        password_known: bool,
    },
    /// `AUTH_FAILED,CRV1:` dynamic challenge, answered on a new connection.
    DynamicChallenge,
    /// `INFO_PRE,CR_TEXT:` pending-auth challenge, answered on the live connection.
    PendingChallenge,
    /// `INFO_PRE,WEB_AUTH:` or `OPEN_URL:`: a sign-in page the user opens; the server finishes it.
    WebAuth {
        /// The page to open.
        url: String,
    },
}

impl AuthRequestKind {
    /// Short lower-case name for logs and JSON, such as `dynamic_challenge`.
    pub fn name(&self) -> &'static str {
        match self {
            AuthRequestKind::Credentials { .. } => "credentials",
            AuthRequestKind::StaticChallenge { .. } => "static_challenge",
            AuthRequestKind::DynamicChallenge => "dynamic_challenge",
            AuthRequestKind::PendingChallenge => "pending_challenge",
            AuthRequestKind::WebAuth { .. } => "web_auth",
        }
    }
}

/// Reason a person is asked (again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AskReason {
    /// The first request of this kind in the session.
    Initial,
    /// The server rejected the previous answer.
    Rejected {
        /// The server's `AUTH_FAILED` text, sanitized.
        server_reason: String,
    },
    /// The server no longer accepts the auth-token: the session expired.
    SessionExpired,
    /// The server asks a further question after an accepted answer.
    NextStep,
    /// The server asks again during a renegotiation while traffic keeps flowing.
    Reauthentication,
}

impl fmt::Display for AskReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AskReason::Initial => f.write_str("first request"),
            AskReason::Rejected { server_reason } => {
                write!(f, "the server rejected the last answer: {server_reason}")
            }
            AskReason::SessionExpired => f.write_str("the session expired"),
            AskReason::NextStep => f.write_str("the server asks a further question"),
            AskReason::Reauthentication => {
                f.write_str("the server asks again during a renegotiation")
            }
        }
    }
}

/// Something the provider needs from a person before the tunnel can come up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest {
    /// Identifier to answer with.
    pub id: AuthRequestId,
    /// Name of the session the request belongs to.
    pub session: String,
    /// Kind of input needed.
    pub kind: AuthRequestKind,
    /// Prompt to show, sanitized server text or the profile's `static-challenge` text.
    pub prompt: String,
    /// The answer may be shown while typed (`E` flag, or `static-challenge ... 1`).
    pub echo: bool,
    /// An answer is needed; false for information such as a push approval in progress.
    pub response_required: bool,
    /// When the request stops being answerable, if the server set a timeout.
    pub expires_at: Option<SystemTime>,
    /// Reason this request was raised.
    pub reason: AskReason,
}

/// A person's answer to an [`AuthRequest`]. Secrets are wiped from memory on drop.
pub enum AuthAnswer {
    /// For [`AuthRequestKind::Credentials`].
    Credentials {
        /// The username.
        username: String,
        /// The password.
        password: Zeroizing<String>,
    },
    /// For [`AuthRequestKind::StaticChallenge`]; `password` is `None` when it is cached.
    StaticChallenge {
        /// The password, unless the request marked it as known.
        password: Option<Zeroizing<String>>,
        /// The challenge response, used for one attempt only.
        response: Zeroizing<String>,
    },
    /// For dynamic and pending challenges: the response, used for one attempt only.
    Response(Zeroizing<String>),
    /// For requests that need no input: the person saw it.
    Acknowledge,
}

impl fmt::Debug for AuthAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthAnswer::Credentials { username, .. } => f
                .debug_struct("Credentials")
                .field("username", username)
                .finish_non_exhaustive(),
            AuthAnswer::StaticChallenge { .. } => f.write_str("StaticChallenge(<redacted>)"),
            AuthAnswer::Response(_) => f.write_str("Response(<redacted>)"),
            AuthAnswer::Acknowledge => f.write_str("Acknowledge"),
        }
    }
}

/// Outcome of a request that left the pending list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthRequestOutcome {
    /// An answer was accepted and used.
    Answered,
    /// The server's timeout passed before an answer came.
    Expired,
    /// The server finished authentication without an answer, for example after a push approval.
    CompletedOutOfBand,
    /// The session ended or moved on, so the request no longer applies.
    Cancelled,
}

impl fmt::Display for AuthRequestOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthRequestOutcome::Answered => "answered",
            AuthRequestOutcome::Expired => "expired",
            AuthRequestOutcome::CompletedOutOfBand => "completed out of band",
            AuthRequestOutcome::Cancelled => "cancelled",
        })
    }
}

/// Reason an answer was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No pending request has this id: it expired, was answered, or never existed.
    #[error("auth request {0} is no longer pending; it expired or was completed")]
    NotPending(AuthRequestId),
    /// The answer does not fit the request, such as a code for a credentials request.
    #[error("auth request {id} needs {expected}; the answer given does not fit it")]
    WrongKind {
        /// The request.
        id: AuthRequestId,
        /// Description of the input the request needs.
        expected: &'static str,
    },
    /// The answer is empty while a response is required.
    #[error("auth request {0} needs a non-empty answer")]
    Empty(AuthRequestId),
    /// The answer is longer than the server can receive.
    #[error("the answer to auth request {id} has {len} bytes; the server accepts at most {max}")]
    TooLong {
        /// The request.
        id: AuthRequestId,
        /// Length of the answer in bytes.
        len: usize,
        /// Largest length accepted.
        max: usize,
    },
}

/// Longest challenge response sent, in bytes. A `CR_RESPONSE` must fit the 2048-byte
/// buffer an OpenVPN 2.6 server reads a control message into after base64 encoding, and a
/// CRV1 answer goes into the password field, so 1024 bytes leaves room for both.
pub const MAX_RESPONSE_LEN: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_debug_hides_response() {
        let answer = AuthAnswer::Response(Zeroizing::new("123456".to_owned()));
        assert!(!format!("{answer:?}").contains("123456"));
    }

    #[test]
    fn answer_debug_hides_password() {
        let answer = AuthAnswer::Credentials {
            username: "alice".to_owned(),
            password: Zeroizing::new("hunter2".to_owned()),
        };
        let text = format!("{answer:?}");
        assert!(!text.contains("hunter2"), "debug output: {text}");
    }

    #[test]
    fn kind_names_are_snake_case() {
        assert_eq!(
            AuthRequestKind::DynamicChallenge.name(),
            "dynamic_challenge"
        );
    }
}
