//! Settings a [`Session`](crate::Session) needs before it connects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::cipher::DataCipher;
use crate::compression::Compression;
use crate::static_key::{KeyDirection, StaticKey};
use crate::tls_auth::{Digest, TlsAuth};
use crate::tls_crypt::TlsCrypt;
use crate::tls_wrap::TlsWrap;

/// Default `--hand-window`: a key exchange must finish within this time.
pub const DEFAULT_HAND_WINDOW: Duration = Duration::from_secs(60);

/// Default `--tls-timeout`: first retransmission of an unacknowledged control packet.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// Default `tun-mtu`, as in OpenVPN 2.6.
pub const DEFAULT_TUN_MTU: u32 = 1500;

/// The transport under the OpenVPN packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// One OpenVPN packet per datagram.
    Udp,
    /// Packets prefixed by a 16-bit length on a TCP stream.
    Tcp,
}

/// Protection of control channel packets around TLS.
#[derive(Clone)]
pub enum ControlWrap {
    /// No wrapping: plain control packets.
    None,
    /// `tls-auth`: an HMAC over every control packet.
    TlsAuth {
        /// The shared static key.
        key: StaticKey,
        /// `key-direction`, normally 1 on a client.
        direction: Option<KeyDirection>,
        /// The `auth` digest, SHA1 unless the profile sets another.
        digest: Digest,
    },
    /// `tls-crypt`: every control packet is encrypted and authenticated.
    TlsCrypt {
        /// The shared static key.
        key: StaticKey,
    },
}

impl ControlWrap {
    /// Creates the wrapping state for one new connection, with fresh replay counters.
    pub fn new_wrap(&self) -> TlsWrap {
        match self {
            ControlWrap::None => TlsWrap::None,
            ControlWrap::TlsAuth {
                key,
                direction,
                digest,
            } => TlsWrap::Auth(TlsAuth::new(key, *direction, *digest)),
            ControlWrap::TlsCrypt { key } => TlsWrap::Crypt(TlsCrypt::new_client(key)),
        }
    }

    /// `key-direction` of `tls-auth` as announced in the options string (`keydir`).
    pub fn key_direction(&self) -> Option<u8> {
        match self {
            ControlWrap::TlsAuth {
                direction: Some(direction),
                ..
            } => Some(*direction as u8),
            _ => None,
        }
    }

    /// True for `tls-auth`, which the options string announces.
    pub fn is_tls_auth(&self) -> bool {
        matches!(self, ControlWrap::TlsAuth { .. })
    }
}

impl fmt::Debug for ControlWrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlWrap::None => f.write_str("None"),
            ControlWrap::TlsAuth {
                direction, digest, ..
            } => f
                .debug_struct("TlsAuth")
                .field("direction", direction)
                .field("digest", digest)
                .finish_non_exhaustive(),
            ControlWrap::TlsCrypt { .. } => f.debug_struct("TlsCrypt").finish_non_exhaustive(),
        }
    }
}

/// Username and secret sent in the key method 2 message.
#[derive(Clone)]
pub struct Credentials {
    /// The username, sent as given.
    pub username: String,
    /// The password, an auth-token or an encoded challenge answer.
    pub password: Zeroizing<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything one connection attempt needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// UDP or TCP.
    pub transport: Transport,
    /// TLS settings built from the profile's `ca`, `cert`, `key` and name checks.
    pub tls: Arc<rustls::ClientConfig>,
    /// `tls-auth`, `tls-crypt` or nothing.
    pub control_wrap: ControlWrap,
    /// `data-ciphers`, in the order the client prefers them.
    pub data_ciphers: Vec<DataCipher>,
    /// `data-ciphers-fallback`, used when the server pushes no cipher.
    pub data_ciphers_fallback: Option<DataCipher>,
    /// Username and password, or `None` for certificate-only authentication.
    pub credentials: Option<Credentials>,
    /// Extra `IV_*`/`UV_*` peer info variables, such as `IV_GUI_VER`.
    pub peer_info_extra: Vec<(String, String)>,
    /// Pending-auth methods announced in `IV_SSO`, such as `crtext`.
    pub sso_methods: Vec<String>,
    /// `reneg-sec`: the client starts a renegotiation this long after a key is up.
    pub reneg_sec: Option<Duration>,
    /// `hand-window`: time allowed for each key exchange.
    pub hand_window: Duration,
    /// `tls-timeout`: first retransmission delay of the reliability layer.
    pub tls_timeout: Duration,
    /// `ping` from the profile, replaced by a pushed value.
    pub ping: Option<Duration>,
    /// `ping-restart` from the profile, replaced by a pushed value.
    pub ping_restart: Option<Duration>,
    /// Compression framing from the profile, replaced by a pushed value.
    pub compression: Compression,
    /// `tun-mtu`, announced in the options string and `IV_MTU`.
    pub tun_mtu: u32,
    /// `explicit-exit-notify`: tell the server when the client leaves.
    pub explicit_exit_notify: bool,
}
