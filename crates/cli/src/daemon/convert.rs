//! Conversions from the provider's session view to app message types.

use std::time::UNIX_EPOCH;

use ferrovpn_ipc::{SessionState, SessionStatus, WireAuthRequest};
use ferrovpn_provider::{ManagedState, SessionSnapshot};

/// Returns the app message state of a managed session state.
pub fn state(state: ManagedState) -> SessionState {
    match state {
        ManagedState::Connecting => SessionState::Connecting,
        ManagedState::WaitingForAuthentication => SessionState::WaitingForAuthentication,
        ManagedState::Connected => SessionState::Connected,
        ManagedState::Reconnecting => SessionState::Reconnecting,
        ManagedState::Disconnected => SessionState::Disconnected,
        ManagedState::Failed => SessionState::Failed,
    }
}

/// Returns the app message status of a session snapshot.
pub fn status(snapshot: &SessionSnapshot) -> SessionStatus {
    SessionStatus {
        name: snapshot.name.clone(),
        owner_uid: snapshot.owner_uid,
        state: state(snapshot.state),
        server: snapshot.server.clone(),
        addresses: snapshot.addresses.iter().map(ToString::to_string).collect(),
        device: snapshot.device.clone(),
        // NOTE: byte counters are not collected from the data channel yet.
        bytes_in: 0,
        bytes_out: 0,
        since_unix: snapshot
            .since
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_secs())
            .unwrap_or(0),
        last_error: snapshot.last_error.clone(),
        pending: snapshot.pending.iter().map(WireAuthRequest::from).collect(),
    }
}
