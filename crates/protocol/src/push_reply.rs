//! `PUSH_REPLY` parsing: the configuration the server pushes to the client.
//!
//! A reply is a comma-separated list of options, each tokenized like a line of a
//! configuration file. A server splits a long list over several `PUSH_REPLY` messages,
//! ending each message except the last with `push-continuation 2` and the last with
//! `push-continuation 1` (OpenVPN 2.6 `push.c` `send_push_options`). [`PushReplyBuilder`]
//! collects them and parses the whole list at once, so that an option such as `topology`
//! may come after the `ifconfig` it changes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::cipher::DataCipher;
use crate::compression::Compression;

/// Maximum number of `PUSH_REPLY` messages in one reply.
///
/// This is a ferrovpn bound, not an OpenVPN one. An OpenVPN 2.6 server fills each message up
/// to about 1 KiB, so 64 messages allow about 64 KiB of options.
pub const MAX_PUSH_REPLY_MESSAGES: usize = 64;

/// Largest `peer-id`: the field is 24 bits wide, and 0xFFFFFF marks an undefined id.
pub const MAX_PEER_ID: u32 = 0xFF_FFFF;

/// A `PUSH_REPLY` that the client cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushReplyError {
    /// An option is not a valid configuration line.
    #[error("pushed option {option:?} is malformed: {problem}")]
    Tokenize {
        /// The first word of the option.
        option: String,
        /// The quoting problem.
        problem: &'static str,
    },
    /// An option lacks an argument it needs.
    #[error("pushed option {option:?} is missing its {argument}")]
    MissingArgument {
        /// The option name.
        option: String,
        /// The missing argument.
        argument: &'static str,
    },
    /// An option has more arguments than it takes.
    #[error("pushed option {option:?} has {count} arguments, but takes at most {max}")]
    TooManyArguments {
        /// The option name.
        option: String,
        /// The number of arguments received.
        count: usize,
        /// The number of arguments the option takes.
        max: usize,
    },
    /// An argument is not valid for its option.
    #[error("pushed option {option:?} has invalid {argument} {value:?}: expected {expected}")]
    InvalidValue {
        /// The option name.
        option: String,
        /// The argument that is wrong.
        argument: &'static str,
        /// The value received.
        value: String,
        /// A description of the valid values.
        expected: &'static str,
    },
    /// The server pushed a `cipher` that ferrovpn does not implement.
    #[error(
        "server pushed cipher {name:?}, which ferrovpn does not support; supported: {supported}"
    )]
    UnknownCipher {
        /// The cipher name received.
        name: String,
        /// The ciphers ferrovpn implements.
        supported: String,
    },
    /// The server pushed real compression, not one of the framing stubs.
    #[error(
        "server pushed compression `{option}`, which ferrovpn does not support; remove it \
         from the server's push options"
    )]
    UnsupportedCompression {
        /// The option as received.
        option: String,
    },
    /// `push-continuation` has a value other than 1 or 2.
    #[error("pushed push-continuation {value:?} is invalid: expected 1 or 2")]
    InvalidContinuation {
        /// The value received.
        value: String,
    },
    /// The server sent too many continued messages.
    #[error(
        "server sent more than {MAX_PUSH_REPLY_MESSAGES} PUSH_REPLY messages without \
         push-continuation 1"
    )]
    TooManyMessages,
}

/// The configuration pushed by the server.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PushedOptions {
    /// `ifconfig`: the tunnel's IPv4 address.
    pub ifconfig: Option<Ifconfig>,
    /// `ifconfig-ipv6`: the tunnel's IPv6 address.
    pub ifconfig_ipv6: Option<IfconfigIpv6>,
    /// `topology`, `net30` when the server pushes none, as in OpenVPN.
    pub topology: Topology,
    /// `route-gateway`: the default gateway of pushed IPv4 routes.
    pub route_gateway: Option<RouteGateway>,
    /// `route` options, in the order received.
    pub routes: Vec<Route>,
    /// `route-ipv6` options, in the order received.
    pub routes_ipv6: Vec<RouteIpv6>,
    /// `redirect-gateway`: send all traffic through the tunnel.
    pub redirect_gateway: Option<RedirectGateway>,
    /// `dhcp-option` values.
    pub dhcp_options: DhcpOptions,
    /// `dns` options (OpenVPN 2.6 format), each kept whole without the `dns` word.
    pub dns: Vec<String>,
    /// `peer-id`: the id for `P_DATA_V2` packets, at most [`MAX_PEER_ID`].
    pub peer_id: Option<u32>,
    /// `cipher`: the data channel cipher the server chose.
    pub cipher: Option<DataCipher>,
    /// `ping`: seconds of silence after which the client sends a ping.
    pub ping: Option<u32>,
    /// `ping-restart`: seconds without any packet from the server before a reconnect.
    pub ping_restart: Option<u32>,
    /// `auth-token`: the secret to send as password from now on.
    pub auth_token: Option<AuthToken>,
    /// `auth-token-user`: the username to send with the token, base64-decoded.
    pub auth_token_user: Option<String>,
    /// `tun-mtu`: the MTU of the tunnel device.
    pub tun_mtu: Option<u32>,
    /// `key-derivation tls-ekm`: derive data channel keys with the TLS keying material exporter.
    pub key_derivation_tls_ekm: bool,
    /// `protocol-flags`.
    pub protocol_flags: ProtocolFlags,
    /// `comp-lzo no` or `compress [stub|stub-v2]`: compression framing without compression.
    pub compression: Option<Compression>,
    /// `explicit-exit-notify [n]`: the server expects an exit notification when the client
    /// leaves.
    pub explicit_exit_notify: Option<u32>,
    /// Options ferrovpn does not use, as received, for the caller to log.
    pub unknown: Vec<String>,
    /// Number of options other than `auth-token`, `auth-token-user` and `push-continuation`,
    /// unknown options included.
    configuration_options: usize,
}

impl PushedOptions {
    /// True when the reply carries only `auth-token` or `auth-token-user`.
    ///
    /// An OpenVPN 2.6 server sends such a reply after each renegotiation to renew the
    /// token. It changes no network setting.
    pub fn is_token_only(&self) -> bool {
        let has_token = self.auth_token.is_some() || self.auth_token_user.is_some();
        has_token && self.configuration_options == 0
    }
}

/// The `ifconfig` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ifconfig {
    /// The client's tunnel address.
    pub local: Ipv4Addr,
    /// The netmask with `topology subnet`, the remote peer address with `net30` or `p2p`.
    pub netmask_or_remote: Ipv4Addr,
}

/// The `ifconfig-ipv6` option: `addr/bits [remote]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfconfigIpv6 {
    /// The client's tunnel address.
    pub local: Ipv6Addr,
    /// The prefix length of the tunnel network, 0 to 128.
    pub prefix_len: u8,
    /// The server's tunnel address, the default gateway of IPv6 routes.
    pub remote: Option<Ipv6Addr>,
}

/// The `topology` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Topology {
    /// `net30`: a /30 per client, OpenVPN's default.
    #[default]
    Net30,
    /// `p2p`: a point-to-point link.
    P2p,
    /// `subnet`: one subnet with a netmask, the usual choice of 2.6 servers.
    Subnet,
}

/// The `route-gateway` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteGateway {
    /// An IPv4 address.
    Address(Ipv4Addr),
    /// `dhcp`: learn the gateway with DHCP, used with TAP devices.
    Dhcp,
}

/// One `route` option: `route network [netmask [gateway [metric]]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The destination network.
    pub network: Ipv4Addr,
    /// The destination netmask, 255.255.255.255 when absent.
    pub netmask: Ipv4Addr,
    /// The gateway, `None` for the default: `route-gateway`, or the `ifconfig` remote with
    /// `net30` and `p2p`.
    pub gateway: Option<RouteVia>,
    /// The route metric.
    pub metric: Option<u32>,
}

/// The gateway of a `route`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteVia {
    /// An IPv4 address.
    Address(Ipv4Addr),
    /// `vpn_gateway`: the VPN's gateway.
    VpnGateway,
    /// `net_gateway`: the client's gateway before the VPN, to bypass the tunnel.
    NetGateway,
    /// `remote_host`: the address of the VPN server.
    RemoteHost,
}

/// One `route-ipv6` option: `route-ipv6 network/bits [gateway [metric]]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteIpv6 {
    /// The destination network.
    pub network: Ipv6Addr,
    /// The prefix length, 0 to 128.
    pub prefix_len: u8,
    /// The gateway, `None` for the `ifconfig-ipv6` remote.
    pub gateway: Option<Ipv6Addr>,
    /// The route metric.
    pub metric: Option<u32>,
}

/// The flags of `redirect-gateway`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectGateway {
    /// `def1`: add 0.0.0.0/1 and 128.0.0.0/1 instead of replacing the default route.
    pub def1: bool,
    /// `local`: the server is on the local network, so add no route to it.
    pub local: bool,
    /// `autolocal`: detect `local` automatically.
    pub autolocal: bool,
    /// `bypass-dhcp`: route the DHCP server outside the tunnel.
    pub bypass_dhcp: bool,
    /// `bypass-dns`: route the DNS servers outside the tunnel.
    pub bypass_dns: bool,
    /// `block-local`: block access to the local network.
    pub block_local: bool,
    /// IPv4 redirection, on unless `!ipv4` is given.
    pub ipv4: bool,
    /// `ipv6`: redirect IPv6 as well (2000::/4 and 3000::/4).
    pub ipv6: bool,
}

impl Default for RedirectGateway {
    fn default() -> Self {
        RedirectGateway {
            def1: false,
            local: false,
            autolocal: false,
            bypass_dhcp: false,
            bypass_dns: false,
            block_local: false,
            ipv4: true,
            ipv6: false,
        }
    }
}

/// The `dhcp-option` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DhcpOptions {
    /// `DNS` (IPv4 or IPv6) and `DNS6` servers, in the order received.
    pub dns: Vec<IpAddr>,
    /// `DOMAIN`: the connection's DNS domain names.
    pub domain: Vec<String>,
    /// `DOMAIN-SEARCH`: DNS search domains.
    pub domain_search: Vec<String>,
    /// Every other `dhcp-option`, such as `WINS` or `NTP`, without the `dhcp-option` word.
    pub other: Vec<String>,
}

/// The flags of `protocol-flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProtocolFlags {
    /// `cc-exit`: announce leaving with the `EXIT` control message.
    pub cc_exit: bool,
    /// `tls-ekm`: derive data channel keys with the TLS keying material exporter.
    pub tls_ekm: bool,
    /// `dyn-tls-crypt`: renegotiations use a tls-crypt key derived from the session.
    pub dyn_tls_crypt: bool,
}

/// An `auth-token`, wiped from memory on drop and redacted in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken(Zeroizing<String>);

impl AuthToken {
    /// Wraps a token.
    pub fn new(token: String) -> AuthToken {
        AuthToken(Zeroizing::new(token))
    }

    /// Returns the token, to send as password in the next key method 2 message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthToken(<redacted>)")
    }
}

/// One option of a `PUSH_REPLY`, kept until the reply is complete.
struct PendingOption {
    /// The option as received, for [`PushedOptions::unknown`].
    raw: Zeroizing<String>,
    /// The option's words after tokenizing.
    words: Zeroizing<Vec<String>>,
}

/// Collects `PUSH_REPLY` messages until the reply is complete.
#[derive(Default)]
pub struct PushReplyBuilder {
    /// Options of the messages received so far.
    options: Vec<PendingOption>,
    /// Number of messages received so far.
    messages: usize,
}

impl fmt::Debug for PushReplyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushReplyBuilder")
            .field("options", &self.options.len())
            .field("messages", &self.messages)
            .finish()
    }
}

impl PushReplyBuilder {
    /// Creates a builder that waits for the first message.
    pub fn new() -> PushReplyBuilder {
        PushReplyBuilder::default()
    }

    /// Adds the body of one `PUSH_REPLY` message, the text after `PUSH_REPLY,`.
    ///
    /// Returns the options once the reply is complete: at `push-continuation 1` or at a
    /// message without `push-continuation`. After a complete reply or an error the builder is
    /// empty again, ready for the next reply.
    pub fn add(&mut self, body: &str) -> Result<Option<PushedOptions>, PushReplyError> {
        let result = self.add_message(body);
        if !matches!(result, Ok(None)) {
            self.options.clear();
            self.messages = 0;
        }
        result
    }

    fn add_message(&mut self, body: &str) -> Result<Option<PushedOptions>, PushReplyError> {
        self.messages += 1;
        if self.messages > MAX_PUSH_REPLY_MESSAGES {
            return Err(PushReplyError::TooManyMessages);
        }

        let mut more_follow = false;
        for raw in body.split(',').map(str::trim).filter(|raw| !raw.is_empty()) {
            let words = tokenize(raw)?;

            if words[0] == "push-continuation" {
                more_follow = parse_continuation(&words)?;
            }

            self.options.push(PendingOption {
                raw: Zeroizing::new(raw.to_owned()),
                words,
            });
        }

        if more_follow {
            tracing::debug!(messages = self.messages, "PUSH_REPLY continues");
            return Ok(None);
        }

        let mut pushed = PushedOptions::default();
        for option in &self.options {
            apply_option(&mut pushed, &option.words, &option.raw)?;
        }
        Ok(Some(pushed))
    }
}

/// Returns true for `push-continuation 2` (more messages follow) and false for 1.
fn parse_continuation(words: &[String]) -> Result<bool, PushReplyError> {
    let option = OptionWords::new(words);
    option.at_most(1)?;
    match option.required(0, "value")? {
        "2" => Ok(true),
        "1" => Ok(false),
        other => Err(PushReplyError::InvalidContinuation {
            value: other.to_owned(),
        }),
    }
}

/// Splits one option into words like a line of an OpenVPN configuration file.
///
/// Words are separated by whitespace. Double quotes group words and allow backslash
/// escapes inside, single quotes group words literally, and a backslash outside quotes
/// escapes the next character. The result always has at least one word.
fn tokenize(option: &str) -> Result<Zeroizing<Vec<String>>, PushReplyError> {
    let malformed = |problem| PushReplyError::Tokenize {
        option: option
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
        problem,
    };

    let mut words = Zeroizing::new(Vec::new());
    let mut word = Zeroizing::new(String::new());
    let mut in_word = false;
    let mut characters = option.chars();

    while let Some(character) = characters.next() {
        match character {
            '"' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some('\\') => match characters.next() {
                            Some(escaped) => word.push(escaped),
                            None => return Err(malformed("it ends with a lone backslash")),
                        },
                        Some(other) => word.push(other),
                        None => return Err(malformed("a double quote is not closed")),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some('\'') => break,
                        Some(other) => word.push(other),
                        None => return Err(malformed("a single quote is not closed")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match characters.next() {
                    Some(escaped) => word.push(escaped),
                    None => return Err(malformed("it ends with a lone backslash")),
                }
            }
            space if space.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut *word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }

    if in_word {
        words.push(std::mem::take(&mut *word));
    }
    if words.is_empty() {
        return Err(malformed("it has no words"));
    }
    Ok(words)
}

/// The words of one option, with helpers that name the option in errors.
struct OptionWords<'a> {
    name: &'a str,
    args: &'a [String],
}

impl<'a> OptionWords<'a> {
    fn new(words: &'a [String]) -> OptionWords<'a> {
        OptionWords {
            name: &words[0],
            args: &words[1..],
        }
    }

    fn required(&self, index: usize, argument: &'static str) -> Result<&'a str, PushReplyError> {
        self.args
            .get(index)
            .map(String::as_str)
            .ok_or_else(|| PushReplyError::MissingArgument {
                option: self.name.to_owned(),
                argument,
            })
    }

    fn optional(&self, index: usize) -> Option<&'a str> {
        self.args.get(index).map(String::as_str)
    }

    fn at_most(&self, max: usize) -> Result<(), PushReplyError> {
        if self.args.len() > max {
            return Err(PushReplyError::TooManyArguments {
                option: self.name.to_owned(),
                count: self.args.len(),
                max,
            });
        }
        Ok(())
    }

    fn invalid(
        &self,
        argument: &'static str,
        value: &str,
        expected: &'static str,
    ) -> PushReplyError {
        PushReplyError::InvalidValue {
            option: self.name.to_owned(),
            argument,
            value: value.to_owned(),
            expected,
        }
    }

    fn ipv4(&self, index: usize, argument: &'static str) -> Result<Ipv4Addr, PushReplyError> {
        let value = self.required(index, argument)?;
        value
            .parse()
            .map_err(|_| self.invalid(argument, value, "an IPv4 address"))
    }

    fn number(&self, index: usize, argument: &'static str) -> Result<u32, PushReplyError> {
        let value = self.required(index, argument)?;
        value
            .parse()
            .map_err(|_| self.invalid(argument, value, "a decimal number"))
    }

    fn optional_number(
        &self,
        index: usize,
        argument: &'static str,
    ) -> Result<Option<u32>, PushReplyError> {
        match self.optional(index) {
            Some(_) => self.number(index, argument).map(Some),
            None => Ok(None),
        }
    }

    /// Parses `address/bits`.
    fn ipv6_prefix(
        &self,
        index: usize,
        argument: &'static str,
    ) -> Result<(Ipv6Addr, u8), PushReplyError> {
        const EXPECTED: &str = "an IPv6 address with a /prefix length of 0 to 128";
        let value = self.required(index, argument)?;

        let (address, bits) = value
            .split_once('/')
            .ok_or_else(|| self.invalid(argument, value, EXPECTED))?;
        let address = address
            .parse()
            .map_err(|_| self.invalid(argument, value, EXPECTED))?;
        let bits = bits
            .parse::<u8>()
            .ok()
            .filter(|bits| *bits <= 128)
            .ok_or_else(|| self.invalid(argument, value, EXPECTED))?;
        Ok((address, bits))
    }
}

/// Applies one option to `pushed`. `raw` is the option as received, for `unknown`.
fn apply_option(
    pushed: &mut PushedOptions,
    words: &[String],
    raw: &str,
) -> Result<(), PushReplyError> {
    let option = OptionWords::new(words);

    match option.name {
        "push-continuation" => return Ok(()),
        "auth-token" => {
            option.at_most(1)?;
            let token = option.required(0, "token")?;
            pushed.auth_token = Some(AuthToken::new(token.to_owned()));
            return Ok(());
        }
        "auth-token-user" => {
            option.at_most(1)?;
            pushed.auth_token_user = Some(parse_auth_token_user(&option)?);
            return Ok(());
        }
        _ => {}
    }

    pushed.configuration_options += 1;
    match option.name {
        "ifconfig" => {
            option.at_most(2)?;
            pushed.ifconfig = Some(Ifconfig {
                local: option.ipv4(0, "local address")?,
                netmask_or_remote: option.ipv4(1, "netmask or remote address")?,
            });
        }
        "ifconfig-ipv6" => {
            option.at_most(2)?;
            let (local, prefix_len) = option.ipv6_prefix(0, "local address")?;
            let remote = match option.optional(1) {
                Some(value) => Some(
                    value
                        .parse()
                        .map_err(|_| option.invalid("remote address", value, "an IPv6 address"))?,
                ),
                None => None,
            };
            pushed.ifconfig_ipv6 = Some(IfconfigIpv6 {
                local,
                prefix_len,
                remote,
            });
        }
        "topology" => {
            option.at_most(1)?;
            let value = option.required(0, "type")?;
            pushed.topology = match value {
                "subnet" => Topology::Subnet,
                "net30" => Topology::Net30,
                "p2p" => Topology::P2p,
                _ => return Err(option.invalid("type", value, "subnet, net30 or p2p")),
            };
        }
        "route-gateway" => {
            option.at_most(1)?;
            pushed.route_gateway = match option.required(0, "gateway")? {
                "dhcp" => Some(RouteGateway::Dhcp),
                _ => Some(RouteGateway::Address(option.ipv4(0, "gateway")?)),
            };
        }
        "route" => pushed.routes.push(parse_route(&option)?),
        "route-ipv6" => pushed.routes_ipv6.push(parse_route_ipv6(&option)?),
        "redirect-gateway" => pushed.redirect_gateway = Some(parse_redirect_gateway(&option)?),
        "dhcp-option" => parse_dhcp_option(&option, &mut pushed.dhcp_options)?,
        "dns" => pushed.dns.push(option.args.join(" ")),
        "peer-id" => {
            option.at_most(1)?;
            let value = option.required(0, "id")?;
            let peer_id = value
                .parse::<u32>()
                .ok()
                .filter(|id| *id <= MAX_PEER_ID)
                .ok_or_else(|| option.invalid("id", value, "a number from 0 to 16777215"))?;
            pushed.peer_id = Some(peer_id);
        }
        "cipher" => {
            option.at_most(1)?;
            let name = option.required(0, "name")?;
            let cipher =
                DataCipher::from_name(name).ok_or_else(|| PushReplyError::UnknownCipher {
                    name: name.to_owned(),
                    supported: DataCipher::ALL.map(DataCipher::name).join(", "),
                })?;
            pushed.cipher = Some(cipher);
        }
        "ping" => {
            option.at_most(1)?;
            pushed.ping = Some(option.number(0, "seconds")?);
        }
        "ping-restart" => {
            option.at_most(1)?;
            pushed.ping_restart = Some(option.number(0, "seconds")?);
        }
        "tun-mtu" => {
            option.at_most(1)?;
            pushed.tun_mtu = Some(option.number(0, "MTU")?);
        }
        "key-derivation" => {
            option.at_most(1)?;
            match option.required(0, "method")? {
                "tls-ekm" => pushed.key_derivation_tls_ekm = true,
                _ => pushed.unknown.push(raw.to_owned()),
            }
        }
        "protocol-flags" => parse_protocol_flags(&option, pushed),
        "comp-lzo" | "compress" => pushed.compression = Some(parse_compression(&option, raw)?),
        "explicit-exit-notify" => {
            option.at_most(1)?;
            pushed.explicit_exit_notify = Some(option.optional_number(0, "count")?.unwrap_or(1));
        }
        _ => pushed.unknown.push(raw.to_owned()),
    }
    Ok(())
}

fn parse_auth_token_user(option: &OptionWords<'_>) -> Result<String, PushReplyError> {
    const EXPECTED: &str = "a base64-encoded UTF-8 username";
    let value = option.required(0, "username")?;

    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| option.invalid("username", value, EXPECTED))?;
    String::from_utf8(decoded).map_err(|_| option.invalid("username", value, EXPECTED))
}

fn parse_route(option: &OptionWords<'_>) -> Result<Route, PushReplyError> {
    const EXPECTED_NETWORK: &str =
        "an IPv4 address (ferrovpn does not resolve host names in pushed routes)";
    option.at_most(4)?;

    let network = option.required(0, "network")?;
    let network = network
        .parse()
        .map_err(|_| option.invalid("network", network, EXPECTED_NETWORK))?;

    let netmask = match option.optional(1) {
        None | Some("default") => Ipv4Addr::BROADCAST,
        Some(_) => option.ipv4(1, "netmask")?,
    };

    let gateway = match option.optional(2) {
        None | Some("default") => None,
        Some("vpn_gateway") => Some(RouteVia::VpnGateway),
        Some("net_gateway") => Some(RouteVia::NetGateway),
        Some("remote_host") => Some(RouteVia::RemoteHost),
        Some(_) => Some(RouteVia::Address(option.ipv4(2, "gateway")?)),
    };

    Ok(Route {
        network,
        netmask,
        gateway,
        metric: option.optional_number(3, "metric")?,
    })
}

fn parse_route_ipv6(option: &OptionWords<'_>) -> Result<RouteIpv6, PushReplyError> {
    option.at_most(3)?;
    let (network, prefix_len) = option.ipv6_prefix(0, "network")?;

    let gateway = match option.optional(1) {
        None | Some("default") => None,
        Some(value) => Some(
            value
                .parse()
                .map_err(|_| option.invalid("gateway", value, "an IPv6 address"))?,
        ),
    };

    Ok(RouteIpv6 {
        network,
        prefix_len,
        gateway,
        metric: option.optional_number(2, "metric")?,
    })
}

fn parse_redirect_gateway(option: &OptionWords<'_>) -> Result<RedirectGateway, PushReplyError> {
    let mut redirect = RedirectGateway::default();

    for flag in option.args {
        match flag.as_str() {
            "def1" => redirect.def1 = true,
            "local" => redirect.local = true,
            "autolocal" => redirect.autolocal = true,
            "bypass-dhcp" => redirect.bypass_dhcp = true,
            "bypass-dns" => redirect.bypass_dns = true,
            "block-local" => redirect.block_local = true,
            "ipv6" => redirect.ipv6 = true,
            "!ipv4" => redirect.ipv4 = false,
            _ => {
                return Err(option.invalid(
                    "flag",
                    flag,
                    "def1, local, autolocal, bypass-dhcp, bypass-dns, block-local, ipv6 or !ipv4",
                ))
            }
        }
    }
    Ok(redirect)
}

fn parse_dhcp_option(
    option: &OptionWords<'_>,
    dhcp_options: &mut DhcpOptions,
) -> Result<(), PushReplyError> {
    let kind = option.required(0, "type")?;

    match kind {
        "DNS" | "DNS6" => {
            option.at_most(2)?;
            let value = option.required(1, "address")?;
            let address: IpAddr = value
                .parse()
                .map_err(|_| option.invalid("address", value, "an IP address"))?;
            if kind == "DNS6" && address.is_ipv4() {
                return Err(option.invalid("address", value, "an IPv6 address"));
            }
            dhcp_options.dns.push(address);
        }
        "DOMAIN" => {
            option.at_most(2)?;
            let domain = option.required(1, "domain")?;
            dhcp_options.domain.push(domain.to_owned());
        }
        "DOMAIN-SEARCH" => {
            option.at_most(2)?;
            let domain = option.required(1, "domain")?;
            dhcp_options.domain_search.push(domain.to_owned());
        }
        _ => dhcp_options.other.push(option.args.join(" ")),
    }
    Ok(())
}

/// Applies `protocol-flags`. Flags this client does not know, such as `aead-epoch` from
/// OpenVPN 2.7, go to `unknown` as `protocol-flags <flag>`.
fn parse_protocol_flags(option: &OptionWords<'_>, pushed: &mut PushedOptions) {
    for flag in option.args {
        match flag.as_str() {
            "cc-exit" => pushed.protocol_flags.cc_exit = true,
            "tls-ekm" => pushed.protocol_flags.tls_ekm = true,
            "dyn-tls-crypt" => pushed.protocol_flags.dyn_tls_crypt = true,
            _ => pushed.unknown.push(format!("protocol-flags {flag}")),
        }
    }
}

/// Parses `comp-lzo` and `compress`, accepting only the framing stubs.
///
/// OpenVPN 2.6 clients default to `allow-compression no`, which accepts the same stubs and
/// treats any real compression as a fatal push error (`comp.c`
/// `check_compression_settings_valid`).
fn parse_compression(option: &OptionWords<'_>, raw: &str) -> Result<Compression, PushReplyError> {
    let unsupported = || PushReplyError::UnsupportedCompression {
        option: raw.to_owned(),
    };
    option.at_most(1)?;

    match (option.name, option.optional(0)) {
        ("comp-lzo", Some("no")) => Ok(Compression::LzoStub),
        ("compress", None | Some("stub")) => Ok(Compression::Stub),
        ("compress", Some("stub-v2")) => Ok(Compression::StubV2),
        _ => Err(unsupported()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a single complete `PUSH_REPLY` message, as it arrives after the comma.
    fn parse(body: &str) -> PushedOptions {
        match PushReplyBuilder::new().add(body) {
            Ok(Some(options)) => options,
            Ok(None) => panic!("reply {body:?} asks for a continuation"),
            Err(error) => panic!("reply {body:?} failed: {error}"),
        }
    }

    fn parse_error(body: &str) -> PushReplyError {
        match PushReplyBuilder::new().add(body) {
            Err(error) => error,
            Ok(result) => panic!("reply {body:?} parsed: {result:?}"),
        }
    }

    fn words(option: &str) -> Vec<String> {
        match tokenize(option) {
            Ok(words) => words.to_vec(),
            Err(error) => panic!("option {option:?} failed: {error}"),
        }
    }

    const TYPICAL_REPLY: &str = "route-gateway 198.19.0.1,topology subnet,ping 10,\
        ping-restart 60,ifconfig 198.19.0.2 255.255.255.0,peer-id 0,\
        auth-token SESS_ID_AT_abc,cipher AES-256-GCM,protocol-flags cc-exit tls-ekm,\
        tun-mtu 1500";

    #[test]
    fn typical_reply_fields() {
        let options = parse(TYPICAL_REPLY);

        assert_eq!(
            options.route_gateway,
            Some(RouteGateway::Address(Ipv4Addr::new(198, 19, 0, 1)))
        );
        assert_eq!(options.topology, Topology::Subnet);
        assert_eq!(options.ping, Some(10));
        assert_eq!(options.ping_restart, Some(60));
        assert_eq!(
            options.ifconfig,
            Some(Ifconfig {
                local: Ipv4Addr::new(198, 19, 0, 2),
                netmask_or_remote: Ipv4Addr::new(255, 255, 255, 0),
            })
        );
        assert_eq!(options.peer_id, Some(0));
        assert_eq!(
            options.auth_token.as_ref().map(AuthToken::expose),
            Some("SESS_ID_AT_abc")
        );
        assert_eq!(options.cipher, Some(DataCipher::Aes256Gcm));
        assert_eq!(
            options.protocol_flags,
            ProtocolFlags {
                cc_exit: true,
                tls_ekm: true,
                dyn_tls_crypt: false,
            }
        );
        assert_eq!(options.tun_mtu, Some(1500));
        assert!(options.unknown.is_empty(), "unknown: {:?}", options.unknown);
        assert!(!options.is_token_only(), "full reply taken as token-only");
    }

    #[test]
    fn debug_redacts_auth_token() {
        let options = parse(TYPICAL_REPLY);
        let debug = format!("{options:?}");
        assert!(!debug.contains("SESS_ID_AT_abc"), "debug output: {debug}");
    }

    #[test]
    fn token_only_reply_detected() {
        let options = parse("auth-token SESS_ID_AT_new,auth-token-user dGVzdHVzZXI=");
        assert!(options.is_token_only(), "options: {options:?}");
        assert_eq!(options.auth_token_user.as_deref(), Some("testuser"));
    }

    #[test]
    fn token_only_ignores_continuation() {
        let options = parse("auth-token SESS_ID_AT_new,push-continuation 1");
        assert!(options.is_token_only(), "options: {options:?}");
    }

    #[test]
    fn unknown_option_not_token_only() {
        let options = parse("auth-token SESS_ID_AT_new,block-outside-dns");
        assert!(!options.is_token_only(), "options: {options:?}");
        assert_eq!(options.unknown, vec!["block-outside-dns".to_owned()]);
    }

    #[test]
    fn continuation_collects_messages() {
        let mut builder = PushReplyBuilder::new();

        let first = builder.add("route 198.18.1.0 255.255.255.0,push-continuation 2");
        assert_eq!(first, Ok(None), "first message");

        let second =
            builder.add("topology subnet,ifconfig 198.18.0.2 255.255.255.0,push-continuation 1");
        let Ok(Some(options)) = second else {
            panic!("second message: {second:?}");
        };
        assert_eq!(options.routes.len(), 1, "routes: {:?}", options.routes);
        assert_eq!(options.topology, Topology::Subnet);
    }

    #[test]
    fn builder_resets_after_reply() {
        let mut builder = PushReplyBuilder::new();
        let _ = builder.add("route 198.18.1.0,push-continuation 2");
        let _ = builder.add("ping 10");

        let next = builder.add("ping 20");
        let Ok(Some(options)) = next else {
            panic!("next reply: {next:?}");
        };
        assert!(options.routes.is_empty(), "routes: {:?}", options.routes);
    }

    #[test]
    fn builder_limits_message_count() {
        let mut builder = PushReplyBuilder::new();
        let mut last = Ok(None);
        for _ in 0..=MAX_PUSH_REPLY_MESSAGES {
            last = builder.add("push-continuation 2");
        }
        assert_eq!(last, Err(PushReplyError::TooManyMessages));
    }

    #[test]
    fn empty_reply_is_complete() {
        let options = parse("");
        assert_eq!(options, PushedOptions::default());
    }

    #[test]
    fn routes_table() {
        let cases: Vec<(&str, Route)> = vec![
            (
                "route 198.18.1.0",
                Route {
                    network: Ipv4Addr::new(198, 18, 1, 0),
                    netmask: Ipv4Addr::BROADCAST,
                    gateway: None,
                    metric: None,
                },
            ),
            (
                "route 198.18.1.0 255.255.255.0",
                Route {
                    network: Ipv4Addr::new(198, 18, 1, 0),
                    netmask: Ipv4Addr::new(255, 255, 255, 0),
                    gateway: None,
                    metric: None,
                },
            ),
            (
                "route 198.18.1.0 255.255.255.0 vpn_gateway 5",
                Route {
                    network: Ipv4Addr::new(198, 18, 1, 0),
                    netmask: Ipv4Addr::new(255, 255, 255, 0),
                    gateway: Some(RouteVia::VpnGateway),
                    metric: Some(5),
                },
            ),
            (
                "route 198.18.2.0 255.255.254.0 net_gateway",
                Route {
                    network: Ipv4Addr::new(198, 18, 2, 0),
                    netmask: Ipv4Addr::new(255, 255, 254, 0),
                    gateway: Some(RouteVia::NetGateway),
                    metric: None,
                },
            ),
            (
                "route 198.18.3.1 default 198.19.0.1",
                Route {
                    network: Ipv4Addr::new(198, 18, 3, 1),
                    netmask: Ipv4Addr::BROADCAST,
                    gateway: Some(RouteVia::Address(Ipv4Addr::new(198, 19, 0, 1))),
                    metric: None,
                },
            ),
            (
                "route 198.18.4.0 255.255.255.0 remote_host",
                Route {
                    network: Ipv4Addr::new(198, 18, 4, 0),
                    netmask: Ipv4Addr::new(255, 255, 255, 0),
                    gateway: Some(RouteVia::RemoteHost),
                    metric: None,
                },
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(parse(body).routes, vec![expected], "reply {body:?}");
        }
    }

    #[test]
    fn ipv6_options() {
        let options = parse(
            "ifconfig-ipv6 fd00:1::1000/64 fd00:1::1,route-ipv6 fd00:2::/48,\
             route-ipv6 ::/0 fd00:1::2 10",
        );

        assert_eq!(
            options.ifconfig_ipv6,
            Some(IfconfigIpv6 {
                local: "fd00:1::1000".parse().unwrap(),
                prefix_len: 64,
                remote: Some("fd00:1::1".parse().unwrap()),
            })
        );
        let expected_routes = vec![
            RouteIpv6 {
                network: "fd00:2::".parse().unwrap(),
                prefix_len: 48,
                gateway: None,
                metric: None,
            },
            RouteIpv6 {
                network: Ipv6Addr::UNSPECIFIED,
                prefix_len: 0,
                gateway: Some("fd00:1::2".parse().unwrap()),
                metric: Some(10),
            },
        ];
        assert_eq!(options.routes_ipv6, expected_routes);
    }

    #[test]
    fn redirect_gateway_flags() {
        let options = parse("redirect-gateway def1 ipv6 !ipv4 bypass-dhcp");
        let expected = RedirectGateway {
            def1: true,
            ipv6: true,
            ipv4: false,
            bypass_dhcp: true,
            ..RedirectGateway::default()
        };
        assert_eq!(options.redirect_gateway, Some(expected));
    }

    #[test]
    fn dhcp_options_sorted_by_type() {
        let options = parse(
            "dhcp-option DNS 198.18.0.53,dhcp-option DNS fd00::53,dhcp-option DNS6 fd00::54,\
             dhcp-option DOMAIN corp.example,dhcp-option DOMAIN-SEARCH lab.example,\
             dhcp-option WINS 198.18.0.2",
        );
        let expected = DhcpOptions {
            dns: vec![
                "198.18.0.53".parse().unwrap(),
                "fd00::53".parse().unwrap(),
                "fd00::54".parse().unwrap(),
            ],
            domain: vec!["corp.example".to_owned()],
            domain_search: vec!["lab.example".to_owned()],
            other: vec!["WINS 198.18.0.2".to_owned()],
        };
        assert_eq!(options.dhcp_options, expected);
    }

    #[test]
    fn dns_option_kept_raw() {
        let options = parse("dns server 0 address 198.18.0.53,dns search-domains corp.example");
        let expected = vec![
            "server 0 address 198.18.0.53".to_owned(),
            "search-domains corp.example".to_owned(),
        ];
        assert_eq!(options.dns, expected);
    }

    #[test]
    fn compression_stubs_table() {
        let cases = [
            ("comp-lzo no", Compression::LzoStub),
            ("compress", Compression::Stub),
            ("compress stub", Compression::Stub),
            ("compress stub-v2", Compression::StubV2),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(body).compression, Some(expected), "reply {body:?}");
        }
    }

    #[test]
    fn real_compression_rejected() {
        for body in [
            "comp-lzo",
            "comp-lzo yes",
            "comp-lzo adaptive",
            "compress lzo",
            "compress lz4",
            "compress lz4-v2",
        ] {
            let expected = PushReplyError::UnsupportedCompression {
                option: body.to_owned(),
            };
            assert_eq!(parse_error(body), expected, "reply {body:?}");
        }
    }

    #[test]
    fn compression_error_names_fix() {
        let message = parse_error("compress lz4-v2").to_string();
        assert!(
            message.contains("remove it from the server's push options"),
            "message: {message}"
        );
    }

    #[test]
    fn scalar_options_table() {
        let options = parse(
            "key-derivation tls-ekm,explicit-exit-notify,protocol-flags dyn-tls-crypt aead-epoch,\
             peer-id 16777215",
        );
        assert!(options.key_derivation_tls_ekm, "key-derivation tls-ekm");
        assert_eq!(options.explicit_exit_notify, Some(1));
        assert!(options.protocol_flags.dyn_tls_crypt, "dyn-tls-crypt flag");
        assert_eq!(
            options.unknown,
            vec!["protocol-flags aead-epoch".to_owned()]
        );
        assert_eq!(options.peer_id, Some(MAX_PEER_ID));
    }

    #[test]
    fn explicit_exit_notify_count() {
        assert_eq!(
            parse("explicit-exit-notify 3").explicit_exit_notify,
            Some(3)
        );
    }

    #[test]
    fn unknown_options_kept_in_order() {
        let options = parse("block-outside-dns,setenv opt foo bar,route-metric 5");
        let expected = vec![
            "block-outside-dns".to_owned(),
            "setenv opt foo bar".to_owned(),
            "route-metric 5".to_owned(),
        ];
        assert_eq!(options.unknown, expected);
    }

    #[test]
    fn malformed_options_table() {
        let cases: Vec<(&str, PushReplyError)> = vec![
            (
                "cipher AES-256-CBC",
                PushReplyError::UnknownCipher {
                    name: "AES-256-CBC".to_owned(),
                    supported: "AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305".to_owned(),
                },
            ),
            (
                "peer-id 16777216",
                PushReplyError::InvalidValue {
                    option: "peer-id".to_owned(),
                    argument: "id",
                    value: "16777216".to_owned(),
                    expected: "a number from 0 to 16777215",
                },
            ),
            (
                "ifconfig 198.18.0.2",
                PushReplyError::MissingArgument {
                    option: "ifconfig".to_owned(),
                    argument: "netmask or remote address",
                },
            ),
            (
                "ifconfig 198.18.0.300 255.255.255.0",
                PushReplyError::InvalidValue {
                    option: "ifconfig".to_owned(),
                    argument: "local address",
                    value: "198.18.0.300".to_owned(),
                    expected: "an IPv4 address",
                },
            ),
            (
                "ping 10 20",
                PushReplyError::TooManyArguments {
                    option: "ping".to_owned(),
                    count: 2,
                    max: 1,
                },
            ),
            (
                "topology star",
                PushReplyError::InvalidValue {
                    option: "topology".to_owned(),
                    argument: "type",
                    value: "star".to_owned(),
                    expected: "subnet, net30 or p2p",
                },
            ),
            (
                "route vpn.example",
                PushReplyError::InvalidValue {
                    option: "route".to_owned(),
                    argument: "network",
                    value: "vpn.example".to_owned(),
                    expected:
                        "an IPv4 address (ferrovpn does not resolve host names in pushed routes)",
                },
            ),
            (
                "route-ipv6 fd00::/129",
                PushReplyError::InvalidValue {
                    option: "route-ipv6".to_owned(),
                    argument: "network",
                    value: "fd00::/129".to_owned(),
                    expected: "an IPv6 address with a /prefix length of 0 to 128",
                },
            ),
            (
                "redirect-gateway def2",
                PushReplyError::InvalidValue {
                    option: "redirect-gateway".to_owned(),
                    argument: "flag",
                    value: "def2".to_owned(),
                    expected:
                        "def1, local, autolocal, bypass-dhcp, bypass-dns, block-local, ipv6 or !ipv4",
                },
            ),
            (
                "dhcp-option DNS6 198.18.0.53",
                PushReplyError::InvalidValue {
                    option: "dhcp-option".to_owned(),
                    argument: "address",
                    value: "198.18.0.53".to_owned(),
                    expected: "an IPv6 address",
                },
            ),
            (
                "auth-token-user not*base64",
                PushReplyError::InvalidValue {
                    option: "auth-token-user".to_owned(),
                    argument: "username",
                    value: "not*base64".to_owned(),
                    expected: "a base64-encoded UTF-8 username",
                },
            ),
            (
                "push-continuation 3",
                PushReplyError::InvalidContinuation {
                    value: "3".to_owned(),
                },
            ),
            (
                "echo \"unterminated",
                PushReplyError::Tokenize {
                    option: "echo".to_owned(),
                    problem: "a double quote is not closed",
                },
            ),
        ];

        for (body, expected) in cases {
            assert_eq!(parse_error(body), expected, "reply {body:?}");
        }
    }

    #[test]
    fn tokenize_error_hides_token() {
        let error = parse_error("auth-token 'SESS_ID_AT_secret");
        assert!(
            !error.to_string().contains("SESS_ID_AT_secret"),
            "error: {error}"
        );
    }

    #[test]
    fn tokenize_quoting_table() {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("ping   10", vec!["ping", "10"]),
            (
                "setenv NAME \"two words\"",
                vec!["setenv", "NAME", "two words"],
            ),
            ("setenv NAME 'a \\ b'", vec!["setenv", "NAME", "a \\ b"]),
            (
                "setenv NAME \"say \\\"hi\\\"\"",
                vec!["setenv", "NAME", "say \"hi\""],
            ),
            ("setenv NAME a\\ b", vec!["setenv", "NAME", "a b"]),
            ("setenv NAME \"\"", vec!["setenv", "NAME", ""]),
            ("echo\tx", vec!["echo", "x"]),
        ];

        for (option, expected) in cases {
            assert_eq!(words(option), expected, "option {option:?}");
        }
    }

    #[test]
    fn quoted_auth_token_unquoted() {
        let options = parse("auth-token \"SESS_ID_AT_a b\"");
        assert_eq!(
            options.auth_token.as_ref().map(AuthToken::expose),
            Some("SESS_ID_AT_a b")
        );
    }
}
