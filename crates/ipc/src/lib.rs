//! ferrovpn app messages between the provider and its apps.
//!
//! An app (the `ferrovpn` command line, a desktop agent) sends one
//! [`Request`] and gets one [`Response`]. After `subscribe` the provider also
//! sends [`Event`]s. Each message is JSON inside a versioned envelope, framed
//! with a big-endian `u32` length. On Linux the frames travel over the
//! daemon's Unix socket, where the provider learns each app's uid from
//! [`PeerCredentials`]. An embedding platform can carry the same frames over
//! its own channel, because [`IpcClient`] and [`Connection`] take any tokio
//! byte stream.

pub mod answer;
pub mod client;
pub mod connection;
pub mod envelope;
pub mod error;
pub mod event;
pub mod frame;
pub mod peer;
pub mod protocol_error;
pub mod request;
pub mod response;
pub mod session_status;
pub mod socket_path;
pub mod wire_auth_request;

pub use answer::WireAnswer;
pub use client::{EventStream, IpcClient};
pub use connection::{Connection, IncomingRequest};
pub use envelope::{
    decode_provider_message, decode_request, ProviderMessage, PROTOCOL_VERSION, UNKNOWN_ID,
};
pub use error::IpcError;
pub use event::Event;
pub use frame::{read_frame, write_frame, EncodeError, FrameError, MAX_FRAME_LEN};
pub use peer::PeerCredentials;
pub use protocol_error::ProtocolError;
pub use request::{ProfileSource, Request};
pub use response::{ErrorKind, Response};
pub use session_status::{SessionState, SessionStatus};
pub use socket_path::{default_socket_path, DEFAULT_SOCKET_PATH, SOCKET_PATH_ENV};
pub use wire_auth_request::{WireAskReason, WireAuthOutcome, WireAuthRequest, WireAuthRequestKind};
