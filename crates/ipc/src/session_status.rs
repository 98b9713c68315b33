//! Status of one session as the provider reports it to apps.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wire_auth_request::WireAuthRequest;

/// State of one session, as reported to apps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Reaching the server, establishing TLS or exchanging keys.
    Connecting,
    /// Waiting for a person to answer an auth request.
    WaitingForAuthentication,
    /// The tunnel is up.
    Connected,
    /// The connection was lost and the provider is trying again.
    Reconnecting,
    /// The session ended on request.
    Disconnected,
    /// The session ended on an error it will not retry.
    Failed,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionState::Connecting => "connecting",
            SessionState::WaitingForAuthentication => "waiting for authentication",
            SessionState::Connected => "connected",
            SessionState::Reconnecting => "reconnecting",
            SessionState::Disconnected => "disconnected",
            SessionState::Failed => "failed",
        })
    }
}

/// Status of one session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// Session name.
    pub name: String,
    /// Uid of the local user who started the session.
    pub owner_uid: u32,
    /// Current state.
    pub state: SessionState,
    /// Server address in use, such as `198.18.0.1:1194 (udp)`.
    pub server: Option<String>,
    /// Tunnel addresses with prefix length, such as `198.18.10.2/24`.
    pub addresses: Vec<String>,
    /// Name of the TUN device.
    pub device: Option<String>,
    /// Payload bytes received through the tunnel.
    pub bytes_in: u64,
    /// Payload bytes sent through the tunnel.
    pub bytes_out: u64,
    /// When the session entered its current state, in seconds since the Unix epoch.
    pub since_unix: u64,
    /// The most recent error, such as the reason of the last reconnect.
    pub last_error: Option<String>,
    /// Auth requests waiting for an answer.
    pub pending: Vec<WireAuthRequest>,
}

impl SessionStatus {
    /// Value of `owner_uid` in a redacted status: `(uid_t) -1`, which no account can have.
    pub const REDACTED_OWNER_UID: u32 = u32::MAX;

    /// Returns the part that other local users may see: name, state and `since_unix`.
    ///
    /// Server, addresses, traffic, errors and auth requests tell another user where
    /// and how the owner works, so they are cleared, and `owner_uid` becomes
    /// [`Self::REDACTED_OWNER_UID`].
    pub fn redacted_for_other_user(&self) -> SessionStatus {
        SessionStatus {
            name: self.name.clone(),
            owner_uid: Self::REDACTED_OWNER_UID,
            state: self.state,
            server: None,
            addresses: Vec::new(),
            device: None,
            bytes_in: 0,
            bytes_out: 0,
            since_unix: self.since_unix,
            last_error: None,
            pending: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire_auth_request::{WireAskReason, WireAuthRequestKind};

    fn full_status() -> SessionStatus {
        SessionStatus {
            name: "work".to_owned(),
            owner_uid: 1000,
            state: SessionState::WaitingForAuthentication,
            server: Some("198.18.0.1:1194 (udp)".to_owned()),
            addresses: vec!["198.18.10.2/24".to_owned()],
            device: Some("tun0".to_owned()),
            bytes_in: 10,
            bytes_out: 20,
            since_unix: 1_700_000_000,
            last_error: Some("timed out".to_owned()),
            pending: vec![WireAuthRequest {
                id: 1,
                session: "work".to_owned(),
                kind: WireAuthRequestKind::PendingChallenge,
                prompt: "code".to_owned(),
                echo: false,
                response_required: true,
                expires_at_unix: None,
                reason: "first request".to_owned(),
                reason_kind: WireAskReason::Initial,
                url: None,
                username: None,
                password_known: None,
            }],
        }
    }

    #[test]
    fn redacted_keeps_name_state_since() {
        let redacted = full_status().redacted_for_other_user();

        assert_eq!(redacted.name, "work");
        assert_eq!(redacted.state, SessionState::WaitingForAuthentication);
        assert_eq!(redacted.since_unix, 1_700_000_000);
    }

    #[test]
    fn redacted_clears_everything_else() {
        let redacted = full_status().redacted_for_other_user();

        assert_eq!(redacted.owner_uid, SessionStatus::REDACTED_OWNER_UID);
        assert_eq!(redacted.server, None);
        assert!(redacted.addresses.is_empty(), "addresses kept");
        assert_eq!(redacted.device, None);
        assert_eq!(redacted.bytes_in, 0);
        assert_eq!(redacted.bytes_out, 0);
        assert_eq!(redacted.last_error, None);
        assert!(redacted.pending.is_empty(), "auth requests kept");
    }

    #[test]
    fn state_json_is_snake_case() {
        let json = serde_json::to_value(SessionState::WaitingForAuthentication).expect("serialize");

        assert_eq!(json, "waiting_for_authentication");
    }
}
