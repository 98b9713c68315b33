//! The typed client configuration and the entry points that build it from `.ovpn` text.

use std::fmt;
use std::path::{Path, PathBuf};

use ferrovpn_protocol::compression::Compression;
use ferrovpn_protocol::DataCipher;
use zeroize::Zeroizing;

use crate::auth::{AuthRetry, AuthUserPass, StaticChallenge};
use crate::builder::Builder;
use crate::cipher::DEFAULT_DATA_CIPHERS;
use crate::error::{ProfileError, ProfileErrorKind};
use crate::lexer;
use crate::remote::{Remote, ResolvRetry};
use crate::route::{Route, RouteIpv6};
use crate::tls::{TlsVersionMin, TlsWrapConfig, X509NameType};
use crate::warning::Warning;

/// An OpenVPN client profile, checked and with every referenced file read.
///
/// Times are in seconds and sizes in bytes, as in OpenVPN. `None` means the profile does not
/// set the option, so OpenVPN's default applies.
#[derive(Clone)]
pub struct Profile {
    /// Servers to try in order (`remote`, `<connection>`).
    pub remotes: Vec<Remote>,
    /// Whether to shuffle `remotes` before trying them (`remote-random`).
    pub remote_random: bool,
    /// TUN device name (`dev`), such as `tun` or `tun0`; `tun` when the profile has no `dev`.
    pub dev: String,
    /// PEM certificates of the CAs the server certificate must chain to (`ca`).
    pub ca: Option<Vec<u8>>,
    /// PEM client certificate (`cert`).
    pub cert: Option<Vec<u8>>,
    /// PEM intermediate certificates sent after the client certificate (`extra-certs`).
    pub extra_certs: Option<Vec<u8>>,
    /// PEM private key of the client certificate (`key`).
    pub key: Option<Zeroizing<Vec<u8>>>,
    /// Control channel protection (`tls-auth` with `key-direction`, or `tls-crypt`).
    pub tls_wrap: Option<TlsWrapConfig>,
    /// Whether the server certificate must carry the TLS server usages (`remote-cert-tls server`).
    pub remote_cert_tls_server: bool,
    /// Name the server certificate must carry, and the field compared (`verify-x509-name`).
    pub verify_x509_name: Option<(String, X509NameType)>,
    /// Lowest TLS version to accept (`tls-version-min`).
    pub tls_version_min: Option<TlsVersionMin>,
    /// Cipher named by `cipher`, when ferrovpn supports it.
    pub cipher: Option<DataCipher>,
    /// Ciphers to offer for negotiation, in preference order (`data-ciphers`).
    pub data_ciphers: Vec<DataCipher>,
    /// Cipher for servers that cannot negotiate one (`data-ciphers-fallback`).
    pub data_ciphers_fallback: Option<DataCipher>,
    /// HMAC digest for `tls-auth`, uppercase, such as `SHA256` (`auth`).
    pub auth_digest: Option<String>,
    /// Username and password authentication (`auth-user-pass`).
    pub auth_user_pass: Option<AuthUserPass>,
    /// Whether to forget the password once it was sent (`auth-nocache`).
    pub auth_nocache: bool,
    /// Reaction to rejected credentials (`auth-retry`).
    pub auth_retry: AuthRetry,
    /// Prompt for a second factor before each connection (`static-challenge`).
    pub static_challenge: Option<StaticChallenge>,
    /// Seconds between data channel key renegotiations (`reneg-sec`).
    pub reneg_sec: Option<u32>,
    /// Seconds a TLS key exchange may take (`hand-window`).
    pub hand_window: Option<u32>,
    /// Seconds before a control packet is retransmitted (`tls-timeout`).
    pub tls_timeout: Option<u32>,
    /// Seconds of silence before a keepalive ping is sent (`ping`, `keepalive`).
    pub ping: Option<u32>,
    /// Seconds without a packet from the server before reconnecting (`ping-restart`, `keepalive`).
    pub ping_restart: Option<u32>,
    /// Seconds without a packet from the server before giving up (`ping-exit`).
    pub ping_exit: Option<u32>,
    /// Times to tell the server on disconnect (`explicit-exit-notify`, 1 without an argument).
    pub explicit_exit_notify: Option<u32>,
    /// MTU of the TUN device (`tun-mtu`).
    pub tun_mtu: Option<u32>,
    /// Upper bound for the TCP MSS of tunnelled connections; 0 disables clamping (`mssfix`).
    pub mssfix: Option<u32>,
    /// Whether to request options from the server (`pull`, implied by `client`).
    pub pull: bool,
    /// Whether to ignore routes the server pushes (`route-nopull`).
    pub route_nopull: bool,
    /// IPv4 routes through the tunnel (`route`).
    pub routes: Vec<Route>,
    /// IPv6 routes through the tunnel (`route-ipv6`).
    pub routes_ipv6: Vec<RouteIpv6>,
    /// DHCP-style settings such as `("DNS", "198.18.0.1")`; the value is empty for
    /// options without one (`dhcp-option`).
    pub dhcp_options: Vec<(String, String)>,
    /// Flags of `redirect-gateway`, such as `def1`, when the profile sends all traffic through
    /// the tunnel.
    pub redirect_gateway: Option<Vec<String>>,
    /// Compression framing (`comp-lzo no`, `compress stub`, `compress stub-v2`).
    pub compression: Compression,
    /// Name and value pairs from `setenv`; `IV_` and `UV_` names go to the server as peer info.
    pub setenv: Vec<(String, String)>,
    /// Log verbosity from 0 to 11 (`verb`).
    pub verb: Option<u8>,
    /// Maximum repeats of one log message (`mute`).
    pub mute: Option<u32>,
    /// Seconds between connection attempts and the maximum the wait backs off to
    /// (`connect-retry`).
    pub connect_retry: Option<(u32, Option<u32>)>,
    /// Attempts per remote before giving up (`connect-retry-max`).
    pub connect_retry_max: Option<u32>,
    /// How long to retry a failed host name lookup (`resolv-retry`).
    pub resolv_retry: Option<ResolvRetry>,
    /// Whether to use any local port instead of binding one (`nobind`).
    pub nobind: bool,
    /// Whether to keep the keys across restarts caused by ping timeouts (`persist-key`).
    pub persist_key: bool,
    /// Whether to keep the TUN device across reconnects (`persist-tun`).
    pub persist_tun: bool,
}

/// A parsed profile and the warnings about directives that were not applied.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The profile.
    pub profile: Profile,
    /// Directives ignored or applied differently from OpenVPN, each distinct one once.
    pub warnings: Vec<Warning>,
}

impl Profile {
    /// Reads and parses the profile at `path`; relative file names in it resolve against the
    /// profile's directory.
    pub fn load(path: &Path) -> Result<Loaded, ProfileError> {
        let source = path.display().to_string();
        let text = read_profile_text(path).map_err(|error| {
            ProfileError::new(
                &source,
                None,
                ProfileErrorKind::ReadFile {
                    directive: "profile".to_owned(),
                    path: path.to_path_buf(),
                    error,
                },
            )
        })?;

        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Profile::parse(&text, &source, Some(&base_dir))
    }

    /// Parses profile `text`; `source` names it in errors, and relative file names resolve
    /// against `base_dir`, or are an error when it is `None`.
    pub fn parse(
        text: &str,
        source: &str,
        base_dir: Option<&Path>,
    ) -> Result<Loaded, ProfileError> {
        let directives = lexer::lex(text, 1, source)?;

        let mut builder = Builder::new(source, base_dir);
        for directive in directives {
            builder.apply(directive)?;
        }
        let loaded = builder.finish()?;

        tracing::debug!(
            source,
            remotes = loaded.profile.remotes.len(),
            warnings = loaded.warnings.len(),
            "profile parsed"
        );
        Ok(loaded)
    }
}

impl Default for Profile {
    /// Returns a profile with no servers or keys and OpenVPN's defaults elsewhere.
    fn default() -> Self {
        Profile {
            remotes: Vec::new(),
            remote_random: false,
            dev: "tun".to_owned(),
            ca: None,
            cert: None,
            extra_certs: None,
            key: None,
            tls_wrap: None,
            remote_cert_tls_server: false,
            verify_x509_name: None,
            tls_version_min: None,
            cipher: None,
            data_ciphers: DEFAULT_DATA_CIPHERS.to_vec(),
            data_ciphers_fallback: None,
            auth_digest: None,
            auth_user_pass: None,
            auth_nocache: false,
            auth_retry: AuthRetry::None,
            static_challenge: None,
            reneg_sec: None,
            hand_window: None,
            tls_timeout: None,
            ping: None,
            ping_restart: None,
            ping_exit: None,
            explicit_exit_notify: None,
            tun_mtu: None,
            mssfix: None,
            pull: false,
            route_nopull: false,
            routes: Vec::new(),
            routes_ipv6: Vec::new(),
            dhcp_options: Vec::new(),
            redirect_gateway: None,
            compression: Compression::None,
            setenv: Vec::new(),
            verb: None,
            mute: None,
            connect_retry: None,
            connect_retry_max: None,
            resolv_retry: None,
            nobind: false,
            persist_key: false,
            persist_tun: false,
        }
    }
}

/// Stands in for secret bytes in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for Profile {
    /// Prints every field, certificates as their length and the private key as `<redacted>`.
    /// The tls-auth or tls-crypt key and the password are hidden by their own `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pem_len = |pem: &Option<Vec<u8>>| pem.as_ref().map(Vec::len);

        f.debug_struct("Profile")
            .field("remotes", &self.remotes)
            .field("remote_random", &self.remote_random)
            .field("dev", &self.dev)
            .field("ca_len", &pem_len(&self.ca))
            .field("cert_len", &pem_len(&self.cert))
            .field("extra_certs_len", &pem_len(&self.extra_certs))
            .field("key", &self.key.as_ref().map(|_| Redacted))
            .field("tls_wrap", &self.tls_wrap)
            .field("remote_cert_tls_server", &self.remote_cert_tls_server)
            .field("verify_x509_name", &self.verify_x509_name)
            .field("tls_version_min", &self.tls_version_min)
            .field("cipher", &self.cipher)
            .field("data_ciphers", &self.data_ciphers)
            .field("data_ciphers_fallback", &self.data_ciphers_fallback)
            .field("auth_digest", &self.auth_digest)
            .field("auth_user_pass", &self.auth_user_pass)
            .field("auth_nocache", &self.auth_nocache)
            .field("auth_retry", &self.auth_retry)
            .field("static_challenge", &self.static_challenge)
            .field("reneg_sec", &self.reneg_sec)
            .field("hand_window", &self.hand_window)
            .field("tls_timeout", &self.tls_timeout)
            .field("ping", &self.ping)
            .field("ping_restart", &self.ping_restart)
            .field("ping_exit", &self.ping_exit)
            .field("explicit_exit_notify", &self.explicit_exit_notify)
            .field("tun_mtu", &self.tun_mtu)
            .field("mssfix", &self.mssfix)
            .field("pull", &self.pull)
            .field("route_nopull", &self.route_nopull)
            .field("routes", &self.routes)
            .field("routes_ipv6", &self.routes_ipv6)
            .field("dhcp_options", &self.dhcp_options)
            .field("redirect_gateway", &self.redirect_gateway)
            .field("compression", &self.compression)
            .field("setenv", &self.setenv)
            .field("verb", &self.verb)
            .field("mute", &self.mute)
            .field("connect_retry", &self.connect_retry)
            .field("connect_retry_max", &self.connect_retry_max)
            .field("resolv_retry", &self.resolv_retry)
            .field("nobind", &self.nobind)
            .field("persist_key", &self.persist_key)
            .field("persist_tun", &self.persist_tun)
            .finish()
    }
}

/// Reads a profile file, rejecting anything that is not a regular file of bounded size.
fn read_profile_text(path: &Path) -> std::io::Result<String> {
    let bytes = crate::file::read_regular_file(path)?;
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file is not UTF-8 text; give the path of an .ovpn file",
        )
    })
}
