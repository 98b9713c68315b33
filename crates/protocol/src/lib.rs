//! OpenVPN 2.x client protocol as a sans-IO state machine.
//!
//! Nothing in this crate touches a socket, a TUN device or a clock. A
//! [`Session`] is fed datagrams (or TCP stream bytes) and the current time; it
//! returns the bytes to transmit, the instant it next wants to be woken, and
//! events such as "authentication pending" or "connected with these pushed
//! options". The same core runs in the Linux provider and can be embedded in
//! a mobile tunnel provider.
//!
//! The layers follow OpenVPN's own structure: packet framing and control
//! channel wrapping (`tls-auth`, `tls-crypt`), the reliability layer, one TLS
//! session per `key_id`, key method 2, the text control messages
//! (`PUSH_REQUEST`, `PUSH_REPLY`, `AUTH_FAILED`, ...) and the AEAD data
//! channel.

pub mod auth_request;
pub mod challenge;
pub mod cipher;
pub mod compression;
pub mod config;
pub mod control_message;
pub mod data_channel;
pub mod event;
pub mod key_material;
pub mod key_method;
pub mod key_state;
pub mod occ;
pub mod packet;
pub mod peer_info;
pub mod prf;
pub mod push_reply;
pub mod reliable;
pub mod replay;
pub mod session;
pub mod static_challenge;
pub mod static_key;
pub mod stream;
pub mod tls;
pub mod tls_auth;
pub mod tls_crypt;
pub mod tls_wrap;

pub use cipher::DataCipher;
pub use config::ClientConfig;
pub use event::Event;
pub use session::Session;
