//! Events a [`Session`](crate::Session) reports to its driver.

use std::fmt;
use std::time::Duration;

use crate::challenge::PendingAuthInfo;
use crate::control_message::AuthFailed;
use crate::push_reply::PushedOptions;

/// Something the driver of a session must act on or show.
#[derive(Debug)]
pub enum Event {
    /// The server's reset arrived: the server is reachable and answering.
    ServerReached,
    /// The TLS handshake of a key finished and the server certificate was accepted.
    TlsEstablished {
        /// The key that finished its handshake.
        key_id: u8,
    },
    /// The key exchange finished and the client asked for its configuration.
    PushRequested,
    /// The server keeps authentication open (`AUTH_PENDING`).
    AuthPending {
        /// The server's `timeout` keyword, if it sent one.
        timeout: Option<Duration>,
    },
    /// `INFO_PRE` during pending authentication: a challenge, a sign-in URL or other text.
    PendingAuth {
        /// Key whose exchange the server holds; above 0 during a renegotiation.
        key_id: u8,
        /// The parsed message.
        info: PendingAuthInfo,
    },
    /// Information from the server (`INFO`), sanitized text.
    Info(String),
    /// The first `PUSH_REPLY` arrived and the data channel is ready.
    Connected(Box<PushedOptions>),
    /// A renegotiation finished: a new data channel key is in use.
    Renegotiated {
        /// The new key.
        key_id: u8,
    },
    /// The server pushed a new `auth-token` after the session was up.
    AuthTokenUpdated(Box<PushedOptions>),
    /// The session ended; nothing more will happen on it.
    Closed(CloseReason),
}

/// Reason a session ended.
#[derive(Debug)]
pub enum CloseReason {
    /// The driver asked to disconnect.
    Local,
    /// The server rejected authentication.
    AuthFailed(AuthFailed),
    /// Nothing arrived from the server for `ping-restart` seconds.
    PingRestart,
    /// The initial key exchange or `PUSH_REPLY` did not finish within `hand-window`.
    HandshakeTimeout,
    /// The server stopped answering while the client waited for its configuration.
    ServerSilent,
    /// The server asked the client to reconnect (`RESTART`).
    Restart {
        /// `[P]`: keep cached credentials.
        preserve_credentials: bool,
        /// `[N]`: use the next remote.
        advance: bool,
        /// The server's text, if any.
        text: String,
    },
    /// The server asked the client to stop and not reconnect (`HALT`).
    Halt(String),
    /// The server is going away (`EXIT` or OCC exit).
    ServerExit,
    /// The TLS handshake failed, for example on a certificate that does not verify.
    Tls(String),
    /// The server pushed options ferrovpn cannot use, such as real compression.
    PushRejected(String),
    /// The server broke the protocol in a way the session cannot recover from.
    Protocol(String),
}

impl CloseReason {
    /// True when a reconnect may help: the driver should not give up.
    pub fn is_retryable(&self) -> bool {
        match self {
            CloseReason::PingRestart
            | CloseReason::ServerSilent
            | CloseReason::HandshakeTimeout
            | CloseReason::Restart { .. }
            | CloseReason::ServerExit
            | CloseReason::Protocol(_) => true,
            CloseReason::Local
            | CloseReason::AuthFailed(_)
            | CloseReason::Halt(_)
            | CloseReason::Tls(_)
            | CloseReason::PushRejected(_) => false,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Local => f.write_str("disconnected by the client"),
            CloseReason::AuthFailed(failed) => write!(f, "authentication failed: {failed}"),
            CloseReason::PingRestart => {
                f.write_str("no packet from the server within ping-restart")
            }
            CloseReason::ServerSilent => {
                f.write_str("the server stopped answering while authentication was pending")
            }
            CloseReason::HandshakeTimeout => f.write_str(
                "key exchange with the server did not finish within hand-window; check the \
                 remote's address, port and proto, and the tls-auth or tls-crypt key",
            ),
            CloseReason::Restart { text, .. } if text.is_empty() => {
                f.write_str("the server asked the client to reconnect")
            }
            CloseReason::Restart { text, .. } => {
                write!(f, "the server asked the client to reconnect: {text}")
            }
            CloseReason::Halt(text) if text.is_empty() => {
                f.write_str("the server told the client to disconnect")
            }
            CloseReason::Halt(text) => {
                write!(f, "the server told the client to disconnect: {text}")
            }
            CloseReason::ServerExit => f.write_str("the server is shutting down"),
            CloseReason::Tls(text) => write!(f, "TLS handshake failed: {text}"),
            CloseReason::PushRejected(text) => {
                write!(f, "the server's configuration cannot be used: {text}")
            }
            CloseReason::Protocol(text) => write!(f, "protocol error: {text}"),
        }
    }
}
