//! Progress and state changes the provider reports while a session runs.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ferrovpn_protocol::auth_request::{AuthRequest, AuthRequestId, AuthRequestOutcome};

/// One step of a session's life, for progress output and status.
#[derive(Clone, Debug)]
pub enum ProviderEvent {
    /// Resolving and connecting to a remote.
    Connecting {
        /// `remote` host as written in the profile.
        host: String,
        /// Port of the remote.
        port: u16,
        /// `udp` or `tcp`.
        proto: &'static str,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// The server answered our reset.
    ServerReached {
        /// Address of the server.
        server: SocketAddr,
    },
    /// TLS is up and the server certificate verified.
    TlsEstablished,
    /// Credentials were sent and the client waits for its configuration.
    Authenticating,
    /// The server holds authentication pending.
    AuthPending {
        /// How long the server waits, if it said.
        timeout: Option<Duration>,
    },
    /// A message from the server for the user.
    ServerInfo(String),
    /// The provider needs something from a person; the start stays pending until it is answered.
    AuthRequested(AuthRequest),
    /// A request left the pending list.
    AuthRequestClosed {
        /// The request.
        id: AuthRequestId,
        /// How it ended.
        outcome: AuthRequestOutcome,
    },
    /// The tunnel is up.
    Connected {
        /// Name of the TUN device.
        device: String,
        /// Addresses assigned to the device.
        addresses: Vec<IpAddr>,
        /// Data channel cipher.
        cipher: String,
        /// Address of the server.
        server: SocketAddr,
    },
    /// A renegotiation finished.
    Renegotiated {
        /// The new key id.
        key_id: u8,
    },
    /// The connection was lost or refused; the provider tries again.
    Reconnecting {
        /// Why the last attempt ended.
        reason: String,
        /// Wait before the next attempt.
        delay: Duration,
    },
    /// The session ended.
    Disconnected {
        /// Why it ended.
        reason: String,
    },
}
