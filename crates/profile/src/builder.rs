//! Applies directives one by one to a [`Profile`] and checks the result once all are read.
//!
//! Like OpenVPN, a later directive replaces an earlier one of the same name, except for the
//! list directives (`remote`, `route`, `route-ipv6`, `dhcp-option`, `setenv`), which add up.
//! Checks that depend on several directives (`port` after `remote`, `data-ciphers` after
//! `cipher`, a `<ca>` block after `ca [inline]`) wait for [`Builder::finish`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::auth;
use crate::cipher;
use crate::compression;
use crate::connection;
use crate::device;
use crate::directive::{Directive, KindResult};
use crate::error::{ProfileError, ProfileErrorKind};
use crate::material::{self, Material};
use crate::profile::{Loaded, Profile};
use crate::rejected;
use crate::remote::{self, PendingRemote, Proto};
use crate::route;
use crate::tls::{self, TlsWrapConfig};
use crate::warning::Warnings;

/// Profile under construction, plus what the final checks need to know.
pub(crate) struct Builder<'a> {
    source: &'a str,
    base_dir: Option<PathBuf>,
    profile: Profile,
    warnings: Warnings,
    remotes: Vec<PendingRemote>,
    default_port: Option<u16>,
    default_proto: Option<Proto>,
    /// `dev` name and line.
    dev: Option<(String, usize)>,
    /// Whether `dev-type tun` was given, which allows any `dev` name.
    dev_type_tun: bool,
    cert_line: Option<usize>,
    key_line: Option<usize>,
    /// `tls-auth` key and the line it came from.
    tls_auth: Option<(Zeroizing<String>, usize)>,
    /// `tls-crypt` key and the line it came from.
    tls_crypt: Option<(Zeroizing<String>, usize)>,
    /// Direction from `key-direction` or the second argument of `tls-auth`.
    key_direction: Option<u8>,
    /// The last `cipher` line, resolved once `data-ciphers` is known.
    cipher: Option<Directive>,
    data_ciphers_given: bool,
    /// Tags of the inline blocks seen.
    blocks: HashSet<String>,
    /// `NAME [inline]` lines, which need a `<NAME>` block somewhere in the profile.
    inline_references: Vec<(String, usize)>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(source: &'a str, base_dir: Option<&Path>) -> Self {
        Builder {
            source,
            base_dir: base_dir.map(Path::to_path_buf),
            profile: Profile::default(),
            warnings: Warnings::default(),
            remotes: Vec::new(),
            default_port: None,
            default_proto: None,
            dev: None,
            dev_type_tun: false,
            cert_line: None,
            key_line: None,
            tls_auth: None,
            tls_crypt: None,
            key_direction: None,
            cipher: None,
            data_ciphers_given: false,
            blocks: HashSet::new(),
            inline_references: Vec::new(),
        }
    }

    fn error(&self, line: Option<usize>, kind: ProfileErrorKind) -> ProfileError {
        ProfileError::new(self.source, line, kind)
    }

    /// Applies one directive of the profile.
    pub(crate) fn apply(&mut self, directive: Directive) -> Result<(), ProfileError> {
        if directive.name == "connection" && directive.inline.is_some() {
            return self.apply_connection(&directive);
        }

        let line = directive.line;
        self.apply_directive(directive)
            .map_err(|kind| self.error(Some(line), kind))
    }

    /// Reads the content a file directive names, or records `NAME [inline]` for later.
    fn read(&mut self, directive: &Directive) -> KindResult<Option<Material>> {
        let material = material::read(directive, self.base_dir.as_deref())?;
        if material.is_none() {
            self.inline_references
                .push((directive.name.clone(), directive.line));
        }
        Ok(material)
    }

    fn apply_directive(&mut self, directive: Directive) -> KindResult<()> {
        if directive.inline.is_some() {
            self.blocks.insert(directive.name.clone());
        }
        if let Some(message) = rejected::rejection(&directive.name) {
            return Err(directive.unsupported(message));
        }
        if rejected::is_ignored(&directive.name) {
            return Ok(());
        }

        let d = &directive;
        let profile = &mut self.profile;
        match d.name.as_str() {
            "client" => profile.pull = d.flag("client")?,
            "pull" => profile.pull = d.flag("pull")?,
            "route-nopull" => profile.route_nopull = d.flag("route-nopull")?,
            "nobind" => profile.nobind = d.flag("nobind")?,
            "persist-key" => profile.persist_key = d.flag("persist-key")?,
            "persist-tun" => profile.persist_tun = d.flag("persist-tun")?,
            "remote-random" => profile.remote_random = d.flag("remote-random")?,
            "auth-nocache" => profile.auth_nocache = d.flag("auth-nocache")?,

            "remote" => self.remotes.push(remote::parse_remote(d)?),
            "port" | "rport" => {
                d.expect_args(1, 1, "port PORT")?;
                self.default_port = Some(remote::parse_port(d, &d.args[0])?);
            }
            "proto" => {
                d.expect_args(1, 1, "proto udp|tcp-client|...")?;
                self.default_proto = Some(remote::parse_proto(d, &d.args[0])?);
            }
            "resolv-retry" => profile.resolv_retry = Some(remote::parse_resolv_retry(d)?),
            "connect-retry" => {
                d.expect_args(1, 2, "connect-retry SECONDS [MAX_SECONDS]")?;
                let start = d.number(&d.args[0], "seconds")?;
                let max = d.arg(1).map(|max| d.number(max, "seconds")).transpose()?;
                profile.connect_retry = Some((start, max));
            }
            "connect-retry-max" => {
                profile.connect_retry_max =
                    Some(d.single_number("connect-retry-max N", "a number of attempts")?);
            }

            "dev" => {
                d.expect_args(1, 1, "dev tun")?;
                self.dev = Some((d.args[0].clone(), d.line));
            }
            "dev-type" => self.dev_type_tun = device::parse_dev_type(d)?,

            "ca" => {
                d.expect_file_args(0, "ca FILE")?;
                if let Some(material) = self.read(d)? {
                    self.profile.ca = Some(material::certificates(d, &material)?);
                }
            }
            "cert" => {
                d.expect_file_args(0, "cert FILE")?;
                if let Some(material) = self.read(d)? {
                    self.profile.cert = Some(material::certificates(d, &material)?);
                }
                self.cert_line = Some(d.line);
            }
            "extra-certs" => {
                d.expect_file_args(0, "extra-certs FILE")?;
                if let Some(material) = self.read(d)? {
                    self.profile.extra_certs = Some(material::certificates(d, &material)?);
                }
            }
            "key" => {
                d.expect_file_args(0, "key FILE")?;
                if let Some(material) = self.read(d)? {
                    self.profile.key = Some(material::private_key(d, material)?);
                }
                self.key_line = Some(d.line);
            }
            "tls-auth" => {
                d.expect_file_args(1, "tls-auth FILE [0|1]")?;
                if let Some(direction) = d.arg(1) {
                    self.key_direction = Some(tls::parse_key_direction(d, direction)?);
                }
                if let Some(material) = self.read(d)? {
                    self.tls_auth = Some((material::static_key(d, material)?, d.line));
                }
            }
            "tls-crypt" => {
                d.expect_file_args(0, "tls-crypt FILE")?;
                if let Some(material) = self.read(d)? {
                    self.tls_crypt = Some((material::static_key(d, material)?, d.line));
                }
            }
            "key-direction" => {
                d.expect_args(1, 1, "key-direction 0|1")?;
                self.key_direction = Some(tls::parse_key_direction(d, &d.args[0])?);
            }

            "remote-cert-tls" => profile.remote_cert_tls_server = tls::parse_remote_cert_tls(d)?,
            "ns-cert-type" => {
                profile.remote_cert_tls_server = tls::parse_ns_cert_type(d, &mut self.warnings)?;
            }
            "remote-cert-eku" | "remote-cert-ku" => {
                d.expect_args(1, 9, "remote-cert-eku OID or remote-cert-ku HEX...")?;
                self.warnings.push(
                    d.line,
                    &d.name,
                    format!(
                        "{} is not checked; use remote-cert-tls server, which requires the TLS \
                         server key usages",
                        d.name
                    ),
                );
            }
            "verify-x509-name" => profile.verify_x509_name = Some(tls::parse_verify_x509_name(d)?),
            "tls-version-min" => {
                profile.tls_version_min = Some(tls::parse_tls_version_min(d, &mut self.warnings)?);
            }
            "tls-version-max" => tls::check_tls_version_max(d, &mut self.warnings)?,

            "cipher" => {
                d.expect_args(1, 1, "cipher CIPHER")?;
                self.cipher = Some(directive);
            }
            "data-ciphers" | "ncp-ciphers" => {
                profile.data_ciphers = cipher::parse_data_ciphers(d, &mut self.warnings)?;
                self.data_ciphers_given = true;
            }
            "data-ciphers-fallback" => {
                profile.data_ciphers_fallback = Some(cipher::parse_data_ciphers_fallback(d)?);
            }
            "auth" => profile.auth_digest = Some(cipher::parse_auth_digest(d)?),

            "auth-user-pass" => {
                let base_dir = self.base_dir.as_deref();
                match auth::parse_auth_user_pass(d, base_dir)? {
                    Some(credentials) => self.profile.auth_user_pass = Some(credentials),
                    None => self.inline_references.push((d.name.clone(), d.line)),
                }
            }
            "auth-retry" => profile.auth_retry = auth::parse_auth_retry(d)?,
            "static-challenge" => profile.static_challenge = Some(auth::parse_static_challenge(d)?),

            "reneg-sec" => {
                d.expect_args(1, 2, "reneg-sec SECONDS [MAX_SECONDS]")?;
                profile.reneg_sec = Some(d.number(&d.args[0], "seconds")?);
            }
            "hand-window" => {
                profile.hand_window = Some(d.single_number("hand-window SECONDS", "seconds")?)
            }
            "tls-timeout" => {
                profile.tls_timeout = Some(d.single_number("tls-timeout SECONDS", "seconds")?)
            }
            "ping" => profile.ping = Some(d.single_number("ping SECONDS", "seconds")?),
            "ping-restart" => {
                profile.ping_restart = Some(d.single_number("ping-restart SECONDS", "seconds")?);
            }
            "ping-exit" => {
                profile.ping_exit = Some(d.single_number("ping-exit SECONDS", "seconds")?)
            }
            "keepalive" => {
                d.expect_args(2, 2, "keepalive PING_SECONDS RESTART_SECONDS")?;
                profile.ping = Some(d.number(&d.args[0], "seconds")?);
                profile.ping_restart = Some(d.number(&d.args[1], "seconds")?);
            }
            "explicit-exit-notify" => {
                d.expect_args(0, 1, "explicit-exit-notify [TIMES]")?;
                let times = d
                    .arg(0)
                    .map(|times| d.number(times, "a number of times"))
                    .transpose()?;
                profile.explicit_exit_notify = Some(times.unwrap_or(1));
            }

            "tun-mtu" => {
                profile.tun_mtu = Some(d.single_number("tun-mtu BYTES", "a size in bytes")?)
            }
            "mssfix" => profile.mssfix = Some(device::parse_mssfix(d, &mut self.warnings)?),

            "route" => profile.routes.push(route::parse_route(d)?),
            "route-ipv6" => profile.routes_ipv6.push(route::parse_route_ipv6(d)?),
            "dhcp-option" => profile.dhcp_options.push(route::parse_dhcp_option(d)?),
            "redirect-gateway" => {
                profile.redirect_gateway = Some(route::parse_redirect_gateway(d)?)
            }

            "comp-lzo" => profile.compression = compression::parse_comp_lzo(d)?,
            "compress" => profile.compression = compression::parse_compress(d)?,
            "allow-compression" => compression::check_allow_compression(d, &mut self.warnings)?,

            "verb" => profile.verb = Some(d.single_number("verb LEVEL", "a level from 0 to 11")?),
            "mute" => profile.mute = Some(d.single_number("mute N", "a number of messages")?),

            "setenv" => return self.apply_setenv(directive),
            "script-security" => rejected::check_script_security(d)?,
            "mode" => rejected::check_mode(d)?,
            "cd" => {
                d.expect_args(1, 1, "cd DIRECTORY")?;
                let base_dir = self.base_dir.as_deref();
                self.base_dir = Some(material::resolve_path(&d.name, &d.args[0], base_dir)?);
            }
            "pull-filter" => self.warnings.push(
                d.line,
                &d.name,
                "pull-filter is not implemented; every option the server pushes is applied"
                    .to_owned(),
            ),

            _ => self.warnings.unsupported(d.line, &d.name),
        }
        Ok(())
    }

    /// Applies `setenv NAME [VALUE]`, or the directive that `setenv opt` wraps.
    ///
    /// `setenv opt DIRECTIVE ...` marks DIRECTIVE as optional, so OpenVPN applies it when the
    /// name is known and ignores it otherwise. ferrovpn already turns unknown directives into
    /// warnings, so the wrapped directive is applied like any other.
    fn apply_setenv(&mut self, directive: Directive) -> KindResult<()> {
        if directive.arg(0) == Some("opt") {
            directive.expect_args(2, usize::MAX, "setenv opt DIRECTIVE [ARGS...]")?;
            let mut args = directive.args.into_iter().skip(1);
            let wrapped = Directive {
                name: args.next().unwrap_or_default(),
                args: args.collect(),
                line: directive.line,
                inline: None,
            };
            return self.apply_directive(wrapped);
        }

        directive.expect_args(1, 2, "setenv NAME [VALUE]")?;
        let value = directive.arg(1).unwrap_or_default().to_owned();
        self.profile.setenv.push((directive.args[0].clone(), value));
        Ok(())
    }

    /// Applies a `<connection>` block, which adds one server.
    fn apply_connection(&mut self, block: &Directive) -> Result<(), ProfileError> {
        let remote = connection::parse_connection(block, self.source, &mut self.warnings)?;
        self.remotes.push(remote);
        Ok(())
    }

    /// Runs the checks that need the whole profile and returns the result.
    pub(crate) fn finish(mut self) -> Result<Loaded, ProfileError> {
        for (name, line) in &self.inline_references {
            if !self.blocks.contains(name) {
                let kind = ProfileErrorKind::MissingInlineBlock {
                    directive: name.clone(),
                };
                return Err(self.error(Some(*line), kind));
            }
        }

        if let Some(directive) = self.cipher.take() {
            self.profile.cipher =
                cipher::resolve_cipher(&directive, self.data_ciphers_given, &mut self.warnings)
                    .map_err(|kind| self.error(Some(directive.line), kind))?;
        }

        self.profile.tls_wrap = match (self.tls_auth.take(), self.tls_crypt.take()) {
            (Some((_, auth_line)), Some((_, crypt_line))) => {
                let (first, second, line) = if auth_line < crypt_line {
                    ("tls-auth", "tls-crypt", crypt_line)
                } else {
                    ("tls-crypt", "tls-auth", auth_line)
                };
                let kind = ProfileErrorKind::Conflict { first, second };
                return Err(self.error(Some(line), kind));
            }
            (Some((key, _)), None) => Some(TlsWrapConfig::Auth {
                key,
                direction: self.key_direction,
            }),
            (None, Some((key, _))) => Some(TlsWrapConfig::Crypt { key }),
            (None, None) => None,
        };

        if let Some((dev, line)) = self.dev.take() {
            device::check_dev(&dev, self.dev_type_tun)
                .map_err(|kind| self.error(Some(line), kind))?;
            self.profile.dev = dev;
        }

        self.check_required()?;

        let (default_port, default_proto) = (self.default_port, self.default_proto);
        self.profile.remotes = self
            .remotes
            .drain(..)
            .map(|remote| remote.complete(default_port, default_proto))
            .collect();

        Ok(Loaded {
            profile: self.profile,
            warnings: self.warnings.into_vec(),
        })
    }

    /// Checks for `remote` and `ca`, and that `cert` and `key` come together.
    fn check_required(&self) -> Result<(), ProfileError> {
        if self.remotes.is_empty() {
            let kind = ProfileErrorKind::Missing {
                directive: "remote",
                fix: "add `remote HOST [PORT] [PROTO]`",
            };
            return Err(self.error(None, kind));
        }

        if self.profile.ca.is_none() {
            let kind = ProfileErrorKind::Missing {
                directive: "ca",
                fix: "add <ca>...</ca> or `ca FILE`",
            };
            return Err(self.error(None, kind));
        }

        match (self.cert_line, self.key_line) {
            (Some(line), None) => Err(self.error(
                Some(line),
                ProfileErrorKind::Missing {
                    directive: "key",
                    fix: "cert needs its private key: add <key>...</key> or `key FILE`",
                },
            )),
            (None, Some(line)) => Err(self.error(
                Some(line),
                ProfileErrorKind::Missing {
                    directive: "cert",
                    fix: "key needs its certificate: add <cert>...</cert> or `cert FILE`",
                },
            )),
            _ => Ok(()),
        }
    }
}
