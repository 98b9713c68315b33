//! Auth requests and their outcomes as they travel in app messages.

use std::time::{SystemTime, UNIX_EPOCH};

use ferrovpn_protocol::auth_request::{
    AskReason, AuthRequest, AuthRequestKind, AuthRequestOutcome,
};
use serde::{Deserialize, Serialize};

/// A pending auth request in its JSON form, flattened so that every app can read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAuthRequest {
    /// Id to answer with.
    pub id: u64,
    /// Name of the session the request belongs to.
    pub session: String,
    /// Kind of input needed.
    pub kind: WireAuthRequestKind,
    /// Prompt to show as plain text, already sanitized by the provider.
    pub prompt: String,
    /// The answer may be shown while typed.
    pub echo: bool,
    /// An answer is needed; false for information such as a push approval in progress.
    pub response_required: bool,
    /// When the request stops being answerable, in seconds since the Unix epoch.
    pub expires_at_unix: Option<u64>,
    /// Reason the request was raised, as a sentence for people.
    pub reason: String,
    /// Reason the request was raised, for programs.
    pub reason_kind: WireAskReason,
    /// The sign-in page of a `web_auth` request.
    pub url: Option<String>,
    /// Username already known, for `credentials` and `static_challenge` requests.
    pub username: Option<String>,
    /// For `static_challenge`: true when the password is cached and only the response is needed.
    pub password_known: Option<bool>,
}

/// Kind of input an auth request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireAuthRequestKind {
    /// Username and password, for `auth-user-pass` without a file.
    Credentials,
    /// `static-challenge`: the password and the response, asked together.
    StaticChallenge,
    /// `AUTH_FAILED,CRV1:` dynamic challenge, answered on a new connection.
    DynamicChallenge,
    /// `INFO_PRE,CR_TEXT:` pending-auth challenge, answered on the live connection.
    PendingChallenge,
    /// `WEB_AUTH` or `OPEN_URL` sign-in page that the server completes itself.
    WebAuth,
}

/// Reason an auth request was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireAskReason {
    /// The first request of this kind in the session.
    Initial,
    /// The server rejected the previous answer.
    Rejected,
    /// The server no longer accepts the auth-token.
    SessionExpired,
    /// The server asks a further question after an accepted answer.
    NextStep,
    /// The server asks again during a renegotiation.
    Reauthentication,
}

/// Outcome of an auth request that left the pending list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireAuthOutcome {
    /// An answer was accepted and used.
    Answered,
    /// The server's timeout passed before an answer came.
    Expired,
    /// The server finished authentication without an answer, for example after a push approval.
    CompletedOutOfBand,
    /// The session ended or moved on, so the request no longer applies.
    Cancelled,
}

impl From<&AuthRequest> for WireAuthRequest {
    fn from(request: &AuthRequest) -> WireAuthRequest {
        let (kind, url, username, password_known) = match &request.kind {
            AuthRequestKind::Credentials { username } => (
                WireAuthRequestKind::Credentials,
                None,
                username.clone(),
                None,
            ),
            AuthRequestKind::StaticChallenge {
                username,
                password_known,
            } => (
                WireAuthRequestKind::StaticChallenge,
                None,
                Some(username.clone()),
                Some(*password_known),
            ),
            AuthRequestKind::DynamicChallenge => {
                (WireAuthRequestKind::DynamicChallenge, None, None, None)
            }
            AuthRequestKind::PendingChallenge => {
                (WireAuthRequestKind::PendingChallenge, None, None, None)
            }
            AuthRequestKind::WebAuth { url } => {
                (WireAuthRequestKind::WebAuth, Some(url.clone()), None, None)
            }
        };

        WireAuthRequest {
            id: request.id.0,
            session: request.session.clone(),
            kind,
            prompt: request.prompt.clone(),
            echo: request.echo,
            response_required: request.response_required,
            expires_at_unix: request.expires_at.and_then(unix_seconds),
            reason: request.reason.to_string(),
            reason_kind: WireAskReason::from(&request.reason),
            url,
            username,
            password_known,
        }
    }
}

/// Seconds since the Unix epoch, or `None` for a time before it.
fn unix_seconds(time: SystemTime) -> Option<u64> {
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

impl From<&AskReason> for WireAskReason {
    fn from(reason: &AskReason) -> WireAskReason {
        match reason {
            AskReason::Initial => WireAskReason::Initial,
            AskReason::Rejected { .. } => WireAskReason::Rejected,
            AskReason::SessionExpired => WireAskReason::SessionExpired,
            AskReason::NextStep => WireAskReason::NextStep,
            AskReason::Reauthentication => WireAskReason::Reauthentication,
        }
    }
}

impl From<&AuthRequestOutcome> for WireAuthOutcome {
    fn from(outcome: &AuthRequestOutcome) -> WireAuthOutcome {
        match outcome {
            AuthRequestOutcome::Answered => WireAuthOutcome::Answered,
            AuthRequestOutcome::Expired => WireAuthOutcome::Expired,
            AuthRequestOutcome::CompletedOutOfBand => WireAuthOutcome::CompletedOutOfBand,
            AuthRequestOutcome::Cancelled => WireAuthOutcome::Cancelled,
        }
    }
}

impl From<AuthRequestOutcome> for WireAuthOutcome {
    fn from(outcome: AuthRequestOutcome) -> WireAuthOutcome {
        WireAuthOutcome::from(&outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ferrovpn_protocol::auth_request::AuthRequestId;

    use super::*;

    fn request(kind: AuthRequestKind) -> AuthRequest {
        AuthRequest {
            id: AuthRequestId(42),
            session: "work".to_owned(),
            kind,
            prompt: "Enter your code".to_owned(),
            echo: true,
            response_required: true,
            expires_at: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_120)),
            reason: AskReason::Rejected {
                server_reason: "wrong code".to_owned(),
            },
        }
    }

    #[test]
    fn copies_common_fields() {
        let wire = WireAuthRequest::from(&request(AuthRequestKind::DynamicChallenge));

        assert_eq!(wire.id, 42);
        assert_eq!(wire.session, "work");
        assert_eq!(wire.kind, WireAuthRequestKind::DynamicChallenge);
        assert_eq!(wire.prompt, "Enter your code");
        assert!(wire.echo, "echo was lost");
        assert!(wire.response_required, "response_required was lost");
        assert_eq!(wire.expires_at_unix, Some(1_700_000_120));
        assert_eq!(wire.reason_kind, WireAskReason::Rejected);
        assert!(
            wire.reason.contains("wrong code"),
            "reason lacks the server text: {}",
            wire.reason
        );
    }

    #[test]
    fn web_auth_carries_url() {
        let kind = AuthRequestKind::WebAuth {
            url: "https://sso.example/login".to_owned(),
        };

        let wire = WireAuthRequest::from(&request(kind));

        assert_eq!(wire.kind, WireAuthRequestKind::WebAuth);
        assert_eq!(wire.url.as_deref(), Some("https://sso.example/login"));
    }

    #[test]
    fn static_challenge_carries_username_and_password_known() {
        let kind = AuthRequestKind::StaticChallenge {
            username: "alice".to_owned(),
            password_known: true,
        };

        let wire = WireAuthRequest::from(&request(kind));

        assert_eq!(wire.username.as_deref(), Some("alice"));
        assert_eq!(wire.password_known, Some(true));
    }

    #[test]
    fn credentials_carries_known_username() {
        let kind = AuthRequestKind::Credentials {
            username: Some("alice".to_owned()),
        };

        let wire = WireAuthRequest::from(&request(kind));

        assert_eq!(wire.kind, WireAuthRequestKind::Credentials);
        assert_eq!(wire.username.as_deref(), Some("alice"));
        assert_eq!(wire.password_known, None);
    }

    #[test]
    fn kind_json_matches_protocol_names() {
        let kinds = [
            (
                AuthRequestKind::Credentials { username: None },
                "credentials",
            ),
            (
                AuthRequestKind::StaticChallenge {
                    username: String::new(),
                    password_known: false,
                },
                "static_challenge",
            ),
            (AuthRequestKind::DynamicChallenge, "dynamic_challenge"),
            (AuthRequestKind::PendingChallenge, "pending_challenge"),
            (AuthRequestKind::WebAuth { url: String::new() }, "web_auth"),
        ];

        for (kind, expected) in kinds {
            let protocol_name = kind.name();
            let wire = WireAuthRequest::from(&request(kind));
            let json = serde_json::to_value(wire.kind).expect("serialize");

            assert_eq!(json, expected, "JSON name of {protocol_name}");
            assert_eq!(protocol_name, expected, "protocol name differs from JSON");
        }
    }

    #[test]
    fn outcome_json_is_snake_case() {
        let json = serde_json::to_value(WireAuthOutcome::from(
            AuthRequestOutcome::CompletedOutOfBand,
        ))
        .expect("serialize");

        assert_eq!(json, "completed_out_of_band");
    }
}
