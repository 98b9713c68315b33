//! Test bed for ferrovpn integration tests: network namespaces, a throwaway PKI and a real
//! OpenVPN 2.6 server.
//!
//! A [`Testbed`] creates a server and a client network namespace joined by a veth pair
//! (198.18.0.1/24 and 198.18.0.2/24). A [`Pki`] issues a CA, a server and a client
//! certificate. An [`OpenVpnServer`] runs Debian's `openvpn` in the server namespace with a
//! [`ServerConfig`], and [`Testbed::client_profile`] writes the matching `.ovpn` profile
//! for the client under test, which runs in the client namespace; [`OpenVpnClient`] runs
//! OpenVPN's own client there as a reference. [`transfer_check`] and [`ping`] then verify
//! traffic through the tunnel. An [`Authenticator`] puts a TOTP second factor
//! ([`totp_at`]) in front of a server started with
//! [`ServerConfig::management_client_auth`], through its management interface.
//!
//! Everything needs root, iproute2 and openvpn: [`Testbed::new`] panics without them
//! rather than skipping. Dropping the test bed and its servers, also during a panic, stops
//! the processes this crate started (by PID), deletes the namespaces and the temporary
//! directory.

mod addresses;
mod authenticator;
mod client;
mod client_profile;
mod command;
mod management;
mod netns;
mod openvpn_process;
mod pattern;
mod ping;
mod pki;
mod preflight;
mod process;
mod server;
mod server_config;
mod testbed;
mod totp;
mod transfer;
mod wait;

pub use addresses::{
    CLIENT_LINK_ADDR, DEFAULT_PORT, LINK_PREFIX_LEN, SERVER_LINK_ADDR, SERVER_TUNNEL_ADDR,
    SERVER_TUNNEL_ADDR_V6, TUNNEL_NETMASK, TUNNEL_NETWORK, TUNNEL_NETWORK_V6, TUNNEL_PREFIX_LEN_V6,
};
pub use authenticator::{
    AuthPolicy, Authenticator, Decision, DecisionKind, CRV1_CODE_TEXT, CRV1_STATE_LIFETIME,
    CRV1_WORD, CRV1_WORD_TEXT, CR_TEXT_CHALLENGE, DEFAULT_PENDING_TIMEOUT, PUSH_CHALLENGE,
};
pub use client::OpenVpnClient;
pub use netns::Netns;
pub use openvpn_process::{INITIALIZATION_COMPLETED, START_TIMEOUT};
pub use ping::{ping, MAX_PING_COUNT};
pub use pki::{
    CertRole, Identity, KeyAlgorithm, Pki, CA_COMMON_NAME, CLIENT_COMMON_NAME, SERVER_COMMON_NAME,
};
pub use preflight::require_root_and_tools;
pub use process::{ProcessGuard, TERMINATE_GRACE};
pub use server::OpenVpnServer;
pub use server_config::{
    ControlWrap, Credentials, Proto, ServerConfig, Topology, DEFAULT_DATA_CIPHERS,
    DEFAULT_TLS_AUTH_DIGEST,
};
pub use testbed::Testbed;
pub use totp::{totp_at, totp_now, totp_step, TOTP_DIGITS, TOTP_STEP_SECONDS};
pub use transfer::{transfer_check, transfer_check_with_timeout, TransferReport, TRANSFER_TIMEOUT};
pub use wait::wait_for;
