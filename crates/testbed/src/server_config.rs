//! Builder for the configuration of a real OpenVPN 2.6 server.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::addresses::{
    DEFAULT_PORT, SERVER_LINK_ADDR, SERVER_TUNNEL_ADDR, SERVER_TUNNEL_ADDR_V6, TUNNEL_NETMASK,
    TUNNEL_NETWORK, TUNNEL_NETWORK_V6, TUNNEL_PREFIX_LEN_V6,
};
use crate::pki::Pki;

/// Data ciphers of OpenVPN 2.6's default `data-ciphers`.
pub const DEFAULT_DATA_CIPHERS: [&str; 3] = ["AES-256-GCM", "AES-128-GCM", "CHACHA20-POLY1305"];

/// HMAC digest used for `tls-auth` unless a test chooses another.
pub const DEFAULT_TLS_AUTH_DIGEST: &str = "SHA256";

/// Transport protocol of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// UDP, OpenVPN's default.
    Udp,
    /// TCP, with the server listening.
    Tcp,
}

impl Proto {
    /// Protocol word used in a client's `remote` line: `udp` or `tcp`.
    pub fn remote_word(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }

    /// Value of the server's `proto` directive, IPv4 only because the link is IPv4.
    fn server_word(self) -> &'static str {
        match self {
            Proto::Udp => "udp4",
            Proto::Tcp => "tcp4-server",
        }
    }
}

/// Protection of the control channel with the static key of the PKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlWrap {
    /// No `tls-auth` or `tls-crypt`.
    None,
    /// `tls-auth` with the server in key direction 0 and `auth <digest>` for the HMAC.
    TlsAuth {
        /// HMAC digest name as OpenVPN spells it, such as "SHA256" or "SHA512".
        digest: String,
    },
    /// `tls-crypt` (version 1).
    TlsCrypt,
}

/// Value of the server's `topology` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// `topology subnet`: each client gets one address of the pool's subnet.
    Subnet,
    /// `topology net30`: each client gets a /30 of the pool.
    Net30,
}

/// Username and password that the server accepts through `auth-user-pass-verify`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Username, a single line.
    pub username: String,
    /// Password, a single line.
    pub password: String,
}

/// Configuration of a real OpenVPN server, built from a [`Pki`] and then adjusted.
///
/// The defaults are UDP on 198.18.0.1:1194, no control channel wrap, OpenVPN 2.6's default
/// data ciphers, `keepalive 10 60`, `topology subnet`, `server 198.19.0.0 255.255.255.0`,
/// `dh none`, `verb 4` and a required client certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Transport protocol.
    pub proto: Proto,
    /// Port the server listens on at 198.18.0.1.
    pub port: u16,
    /// Control channel protection.
    pub control_wrap: ControlWrap,
    /// Ciphers of the `data-ciphers` list, in order of preference.
    pub data_ciphers: Vec<String>,
    /// `reneg-sec` in seconds, or `None` for OpenVPN's default of 3600.
    pub reneg_sec: Option<u32>,
    /// `keepalive` ping interval and timeout in seconds, or `None` for no keepalive.
    pub keepalive: Option<(u32, u32)>,
    /// Address allocation scheme of the tunnel pool.
    pub topology: Topology,
    /// Whether the server also hands out IPv6 addresses from fd00:198:19::/64.
    pub server_ipv6: bool,
    /// Whether clients must present a certificate; `false` renders `verify-client-cert none`.
    pub verify_client_cert: bool,
    /// Credentials the built-in `auth-user-pass-verify` script accepts, if any.
    pub credentials: Option<Credentials>,
    /// Custom `auth-user-pass-verify` script (sh, via-file), replacing the built-in check.
    pub verify_script: Option<String>,
    /// `auth-gen-token` lifetime in seconds (0 for no expiry), or `None` for no tokens.
    pub auth_gen_token: Option<u32>,
    /// Whether `auth-gen-token` has the `external-auth` flag, so sessions that present a
    /// token are still passed to the external authentication with `session_state` set.
    pub auth_gen_token_external_auth: bool,
    /// Whether the server opens its management interface on a Unix socket.
    pub management: bool,
    /// Whether the management client authenticates every client
    /// (`management-client-auth`), as [`crate::Authenticator`] does.
    pub management_client_auth: bool,
    /// Log verbosity (`verb`).
    pub verb: u8,
    /// Directives appended verbatim after the generated ones, one per entry.
    pub extra_lines: Vec<String>,
    /// CA certificate (PEM) used to verify clients.
    pub ca_cert_pem: String,
    /// Server certificate (PEM).
    pub server_cert_pem: String,
    /// Server private key (PEM).
    pub server_key_pem: String,
    /// OpenVPN static key used by `tls-auth` or `tls-crypt`.
    pub wrap_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The server key, the static key and the password stay out of debug output.
        f.debug_struct("ServerConfig")
            .field("proto", &self.proto)
            .field("port", &self.port)
            .field("control_wrap", &self.control_wrap)
            .field("data_ciphers", &self.data_ciphers)
            .field("reneg_sec", &self.reneg_sec)
            .field("keepalive", &self.keepalive)
            .field("topology", &self.topology)
            .field("server_ipv6", &self.server_ipv6)
            .field("verify_client_cert", &self.verify_client_cert)
            .field("credentials", &self.credentials)
            .field("verify_script", &self.verify_script.is_some())
            .field("auth_gen_token", &self.auth_gen_token)
            .field(
                "auth_gen_token_external_auth",
                &self.auth_gen_token_external_auth,
            )
            .field("management", &self.management)
            .field("management_client_auth", &self.management_client_auth)
            .field("verb", &self.verb)
            .field("extra_lines", &self.extra_lines)
            .finish_non_exhaustive()
    }
}

/// Paths of the files a running server reads or creates, all inside its own directory.
#[derive(Debug, Clone)]
pub(crate) struct ServerFiles {
    /// The configuration file passed to `--config`.
    pub(crate) config: PathBuf,
    /// CA certificate.
    pub(crate) ca_cert: PathBuf,
    /// Server certificate.
    pub(crate) server_cert: PathBuf,
    /// Server private key.
    pub(crate) server_key: PathBuf,
    /// Static key for `tls-auth` or `tls-crypt`.
    pub(crate) wrap_key: PathBuf,
    /// `auth-user-pass-verify` script.
    pub(crate) verify_script: PathBuf,
    /// Expected credentials read by the built-in verify script.
    pub(crate) expected_credentials: PathBuf,
    /// `tmp-dir`, where OpenVPN writes the via-file credentials.
    pub(crate) tmp_dir: PathBuf,
    /// Unix socket of the management interface.
    pub(crate) management_socket: PathBuf,
    /// Standard output and standard error of the server process.
    pub(crate) log: PathBuf,
}

impl ServerFiles {
    /// Lays out the file names of a server inside `dir`.
    pub(crate) fn in_dir(dir: &Path) -> ServerFiles {
        ServerFiles {
            config: dir.join("server.conf"),
            ca_cert: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            wrap_key: dir.join("wrap.key"),
            verify_script: dir.join("verify-credentials.sh"),
            expected_credentials: dir.join("credentials.expected"),
            tmp_dir: dir.join("tmp"),
            management_socket: dir.join("management.sock"),
            log: dir.join("openvpn.log"),
        }
    }
}

impl ServerConfig {
    /// Starts a configuration with the defaults and the server identity of `pki`.
    pub fn new(pki: &Pki) -> ServerConfig {
        ServerConfig {
            proto: Proto::Udp,
            port: DEFAULT_PORT,
            control_wrap: ControlWrap::None,
            data_ciphers: DEFAULT_DATA_CIPHERS.iter().map(|c| c.to_string()).collect(),
            reneg_sec: None,
            keepalive: Some((10, 60)),
            topology: Topology::Subnet,
            server_ipv6: false,
            verify_client_cert: true,
            credentials: None,
            verify_script: None,
            auth_gen_token: None,
            auth_gen_token_external_auth: false,
            management: false,
            management_client_auth: false,
            verb: 4,
            extra_lines: Vec::new(),
            ca_cert_pem: pki.ca_cert_pem.clone(),
            server_cert_pem: pki.server.cert_pem.clone(),
            server_key_pem: pki.server.key_pem.clone(),
            wrap_key: pki.wrap_key.clone(),
        }
    }

    /// Sets the transport protocol.
    pub fn proto(mut self, proto: Proto) -> Self {
        self.proto = proto;
        self
    }

    /// Sets the listening port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Enables `tls-auth` with the HMAC digest SHA256.
    pub fn tls_auth(self) -> Self {
        self.tls_auth_with_digest(DEFAULT_TLS_AUTH_DIGEST)
    }

    /// Enables `tls-auth` with the HMAC digest `digest`, such as "SHA512".
    pub fn tls_auth_with_digest(mut self, digest: &str) -> Self {
        self.control_wrap = ControlWrap::TlsAuth {
            digest: digest.to_owned(),
        };
        self
    }

    /// Enables `tls-crypt`.
    pub fn tls_crypt(mut self) -> Self {
        self.control_wrap = ControlWrap::TlsCrypt;
        self
    }

    /// Replaces the static key used by `tls-auth` or `tls-crypt`, for example with one from
    /// [`Pki::static_key`].
    pub fn wrap_key(mut self, key: String) -> Self {
        self.wrap_key = key;
        self
    }

    /// Replaces the `data-ciphers` list.
    pub fn data_ciphers(mut self, ciphers: &[&str]) -> Self {
        self.data_ciphers = ciphers.iter().map(|c| c.to_string()).collect();
        self
    }

    /// Sets `reneg-sec` in seconds.
    pub fn reneg_sec(mut self, seconds: u32) -> Self {
        self.reneg_sec = Some(seconds);
        self
    }

    /// Sets `keepalive <interval> <timeout>` in seconds.
    pub fn keepalive(mut self, interval: u32, timeout: u32) -> Self {
        self.keepalive = Some((interval, timeout));
        self
    }

    /// Removes the `keepalive` directive.
    pub fn without_keepalive(mut self) -> Self {
        self.keepalive = None;
        self
    }

    /// Sets the topology.
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = topology;
        self
    }

    /// Adds `server-ipv6 fd00:198:19::/64`.
    pub fn server_ipv6(mut self) -> Self {
        self.server_ipv6 = true;
        self
    }

    /// Renders `verify-client-cert none`, so clients authenticate by username only.
    pub fn without_client_cert(mut self) -> Self {
        self.verify_client_cert = false;
        self
    }

    /// Requires `username` and `password` through a built-in `auth-user-pass-verify` script.
    ///
    /// Panics if either contains a line break, which the via-file format cannot carry.
    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        assert!(
            !username.contains(['\n', '\r']) && !password.contains(['\n', '\r']),
            "username and password must be single lines"
        );
        self.credentials = Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// Uses `script` (sh) as the `auth-user-pass-verify` script, called with `via-file`.
    ///
    /// The script gets the path of a file with the username and password on two lines
    /// as `$1`, and its directory also contains `credentials.expected` when
    /// [`ServerConfig::credentials`] is set.
    pub fn verify_script(mut self, script: &str) -> Self {
        self.verify_script = Some(script.to_owned());
        self
    }

    /// Enables `auth-gen-token` with `lifetime` seconds, 0 meaning no expiry.
    pub fn auth_gen_token(mut self, lifetime: u32) -> Self {
        self.auth_gen_token = Some(lifetime);
        self
    }

    /// Enables `auth-gen-token <lifetime> external-auth`, 0 meaning no expiry.
    ///
    /// A client that presents a valid token is then still announced to the external
    /// authentication (management `>CLIENT:CONNECT` or `REAUTH`), with the environment
    /// variable `session_state` set to `Authenticated` instead of `Initial`.
    pub fn auth_gen_token_external_auth(mut self, lifetime: u32) -> Self {
        self.auth_gen_token = Some(lifetime);
        self.auth_gen_token_external_auth = true;
        self
    }

    /// Opens the management interface on a Unix socket in the server's directory.
    pub fn management(mut self) -> Self {
        self.management = true;
        self
    }

    /// Opens the management interface and adds `management-client-auth`, so every client
    /// waits until the management client replies with `client-auth-nt`, `client-deny` or
    /// `client-pending-auth`. [`crate::Authenticator`] sends those replies.
    ///
    /// Without a connected management client, connecting clients are never authenticated.
    pub fn management_client_auth(mut self) -> Self {
        self.management = true;
        self.management_client_auth = true;
        self
    }

    /// Sets the log verbosity.
    pub fn verb(mut self, verb: u8) -> Self {
        self.verb = verb;
        self
    }

    /// Appends a directive verbatim, such as "duplicate-cn".
    pub fn extra_line(mut self, line: &str) -> Self {
        self.extra_lines.push(line.to_owned());
        self
    }

    /// Server's IPv4 tunnel address, 198.19.0.1, for both topologies.
    pub fn server_tunnel_addr(&self) -> Ipv4Addr {
        SERVER_TUNNEL_ADDR
    }

    /// Server's IPv6 tunnel address, fd00:198:19::1, if IPv6 is enabled.
    pub fn server_tunnel_addr_v6(&self) -> Option<Ipv6Addr> {
        self.server_ipv6.then_some(SERVER_TUNNEL_ADDR_V6)
    }

    /// Returns whether an `auth-user-pass-verify` script is configured.
    pub(crate) fn checks_credentials(&self) -> bool {
        self.credentials.is_some() || self.verify_script.is_some()
    }

    /// Renders the configuration file that refers to the files laid out in `files`.
    pub(crate) fn render(&self, files: &ServerFiles) -> String {
        let mut text = String::from("# OpenVPN server configuration written by ferrovpn-testbed\n");
        let mut line = |directive: String| {
            text.push_str(&directive);
            text.push('\n');
        };

        line(format!("local {SERVER_LINK_ADDR}"));
        line(format!("port {}", self.port));
        line(format!("proto {}", self.proto.server_word()));
        line("dev tun".to_owned());
        line(match self.topology {
            Topology::Subnet => "topology subnet".to_owned(),
            Topology::Net30 => "topology net30".to_owned(),
        });
        line(format!("server {TUNNEL_NETWORK} {TUNNEL_NETMASK}"));
        if self.server_ipv6 {
            line(format!(
                "server-ipv6 {TUNNEL_NETWORK_V6}/{TUNNEL_PREFIX_LEN_V6}"
            ));
        }

        line(format!("ca {}", files.ca_cert.display()));
        line(format!("cert {}", files.server_cert.display()));
        line(format!("key {}", files.server_key.display()));
        line("dh none".to_owned());
        if !self.verify_client_cert {
            line("verify-client-cert none".to_owned());
        }

        match &self.control_wrap {
            ControlWrap::None => {}
            ControlWrap::TlsAuth { digest } => {
                line(format!("tls-auth {} 0", files.wrap_key.display()));
                line(format!("auth {digest}"));
            }
            ControlWrap::TlsCrypt => line(format!("tls-crypt {}", files.wrap_key.display())),
        }

        line(format!("data-ciphers {}", self.data_ciphers.join(":")));
        if let Some(seconds) = self.reneg_sec {
            line(format!("reneg-sec {seconds}"));
        }
        if let Some((interval, timeout)) = self.keepalive {
            line(format!("keepalive {interval} {timeout}"));
        }

        if self.checks_credentials() {
            line("script-security 2".to_owned());
            line(format!("tmp-dir {}", files.tmp_dir.display()));
            line(format!(
                "auth-user-pass-verify {} via-file",
                files.verify_script.display()
            ));
        }
        if let Some(lifetime) = self.auth_gen_token {
            if self.auth_gen_token_external_auth {
                line(format!("auth-gen-token {lifetime} external-auth"));
            } else {
                line(format!("auth-gen-token {lifetime}"));
            }
        }
        if self.management {
            line(format!(
                "management {} unix",
                files.management_socket.display()
            ));
        }
        if self.management_client_auth {
            line("management-client-auth".to_owned());
        }

        line(format!("verb {}", self.verb));
        for extra in &self.extra_lines {
            line(extra.clone());
        }
        text
    }
}

/// Built-in `auth-user-pass-verify` script: accepts exactly the expected credentials.
///
/// OpenVPN's via-file method passes a file with the username and the password on two lines
/// as `$1`. The expected pair sits beside the script in `credentials.expected`, in the same
/// format, so no credential is ever part of a command line or of the script itself.
pub(crate) const BUILT_IN_VERIFY_SCRIPT: &str = r#"#!/bin/sh
expected="$(dirname "$0")/credentials.expected"
{ IFS= read -r user; IFS= read -r pass; } < "$1" || exit 1
{ IFS= read -r expected_user; IFS= read -r expected_pass; } < "$expected" || exit 1
if [ "$user" = "$expected_user" ] && [ "$pass" = "$expected_pass" ]; then
    exit 0
fi
exit 1
"#;

/// Text of `credentials.expected` for `credentials`.
pub(crate) fn expected_credentials_text(credentials: &Credentials) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "{}", credentials.username);
    let _ = writeln!(text, "{}", credentials.password);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_without_pki() -> ServerConfig {
        ServerConfig {
            proto: Proto::Udp,
            port: DEFAULT_PORT,
            control_wrap: ControlWrap::None,
            data_ciphers: DEFAULT_DATA_CIPHERS.iter().map(|c| c.to_string()).collect(),
            reneg_sec: None,
            keepalive: Some((10, 60)),
            topology: Topology::Subnet,
            server_ipv6: false,
            verify_client_cert: true,
            credentials: None,
            verify_script: None,
            auth_gen_token: None,
            auth_gen_token_external_auth: false,
            management: false,
            management_client_auth: false,
            verb: 4,
            extra_lines: Vec::new(),
            ca_cert_pem: String::new(),
            server_cert_pem: String::new(),
            server_key_pem: String::new(),
            wrap_key: String::new(),
        }
    }

    fn render(config: &ServerConfig) -> Vec<String> {
        let files = ServerFiles::in_dir(Path::new("/srv"));
        config.render(&files).lines().map(str::to_owned).collect()
    }

    fn assert_has_line(lines: &[String], expected: &str) {
        assert!(
            lines.iter().any(|line| line == expected),
            "missing line {expected:?} in {lines:#?}"
        );
    }

    fn assert_lacks_prefix(lines: &[String], prefix: &str) {
        assert!(
            !lines.iter().any(|line| line.starts_with(prefix)),
            "unexpected line starting with {prefix:?} in {lines:#?}"
        );
    }

    #[test]
    fn render_defaults_has_expected_directives() {
        let lines = render(&config_without_pki());
        let expected = [
            "local 198.18.0.1",
            "port 1194",
            "proto udp4",
            "topology subnet",
            "server 198.19.0.0 255.255.255.0",
            "dh none",
            "data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305",
            "keepalive 10 60",
            "verb 4",
        ];
        for directive in expected {
            assert_has_line(&lines, directive);
        }
    }

    #[test]
    fn render_defaults_omits_optional_directives() {
        let lines = render(&config_without_pki());
        let absent = [
            "tls-auth",
            "tls-crypt",
            "auth ",
            "server-ipv6",
            "reneg-sec",
            "script-security",
            "auth-user-pass-verify",
            "auth-gen-token",
            "management",
            "verify-client-cert",
        ];
        for prefix in absent {
            assert_lacks_prefix(&lines, prefix);
        }
    }

    #[test]
    fn render_tls_auth_uses_direction_zero() {
        let lines = render(&config_without_pki().tls_auth_with_digest("SHA512"));
        assert_has_line(&lines, "tls-auth /srv/wrap.key 0");
        assert_has_line(&lines, "auth SHA512");
    }

    #[test]
    fn render_tls_crypt_names_key_file() {
        let lines = render(&config_without_pki().tls_crypt());
        assert_has_line(&lines, "tls-crypt /srv/wrap.key");
    }

    #[test]
    fn render_tcp_uses_tcp_server() {
        let lines = render(&config_without_pki().proto(Proto::Tcp));
        assert_has_line(&lines, "proto tcp4-server");
    }

    #[test]
    fn render_credentials_adds_verify_script() {
        let lines = render(&config_without_pki().credentials("alice", "secret"));
        assert_has_line(&lines, "script-security 2");
        assert_has_line(
            &lines,
            "auth-user-pass-verify /srv/verify-credentials.sh via-file",
        );
        assert_has_line(&lines, "tmp-dir /srv/tmp");
    }

    #[test]
    fn render_optional_features_when_enabled() {
        let config = config_without_pki()
            .server_ipv6()
            .reneg_sec(30)
            .auth_gen_token(0)
            .management()
            .without_client_cert()
            .topology(Topology::Net30)
            .without_keepalive()
            .extra_line("duplicate-cn");
        let lines = render(&config);
        let expected = [
            "server-ipv6 fd00:198:19::/64",
            "reneg-sec 30",
            "auth-gen-token 0",
            "management /srv/management.sock unix",
            "verify-client-cert none",
            "topology net30",
            "duplicate-cn",
        ];
        for directive in expected {
            assert_has_line(&lines, directive);
        }
        assert_lacks_prefix(&lines, "keepalive");
    }

    #[test]
    fn render_management_client_auth_adds_both_directives() {
        let lines = render(&config_without_pki().management_client_auth());
        assert_has_line(&lines, "management /srv/management.sock unix");
        assert_has_line(&lines, "management-client-auth");
    }

    #[test]
    fn render_management_omits_client_auth() {
        let lines = render(&config_without_pki().management());
        assert_lacks_prefix(&lines, "management-client-auth");
    }

    #[test]
    fn render_auth_gen_token_external_auth_flag() {
        let lines = render(&config_without_pki().auth_gen_token_external_auth(0));
        assert_has_line(&lines, "auth-gen-token 0 external-auth");
    }

    #[test]
    fn expected_credentials_text_has_two_lines() {
        let credentials = Credentials {
            username: "alice".to_owned(),
            password: "p a:ss".to_owned(),
        };
        assert_eq!(expected_credentials_text(&credentials), "alice\np a:ss\n");
    }
}
