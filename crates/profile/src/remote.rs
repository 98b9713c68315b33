//! Servers to connect to: `remote`, `proto`, `port` and `resolv-retry`.

use std::fmt;

use crate::directive::{Directive, KindResult};

/// Server port when neither `remote`, `port` nor `rport` gives one; the IANA port of OpenVPN.
pub(crate) const DEFAULT_PORT: u16 = 1194;

/// Transport to a server, as `proto` or the third argument of `remote` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `udp`: UDP over IPv4 or IPv6, whichever the host name resolves to.
    #[default]
    Udp,
    /// `udp4`: UDP over IPv4 only.
    Udp4,
    /// `udp6`: UDP over IPv6 only.
    Udp6,
    /// `tcp` or `tcp-client`: TCP over IPv4 or IPv6.
    Tcp,
    /// `tcp4` or `tcp4-client`: TCP over IPv4 only.
    Tcp4,
    /// `tcp6` or `tcp6-client`: TCP over IPv6 only.
    Tcp6,
}

impl Proto {
    /// Returns whether the transport is TCP, which frames each packet with a length.
    pub fn is_tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Tcp4 | Proto::Tcp6)
    }

    /// Returns the name OpenVPN uses, such as `udp` or `tcp4`.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Udp4 => "udp4",
            Proto::Udp6 => "udp6",
            Proto::Tcp => "tcp",
            Proto::Tcp4 => "tcp4",
            Proto::Tcp6 => "tcp6",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One server to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    /// Host name or IP address as written in the profile.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport to the server.
    pub proto: Proto,
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.host, self.port, self.proto)
    }
}

/// How long to keep retrying a failed host name lookup (`resolv-retry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolvRetry {
    /// `resolv-retry infinite`: retry until the lookup succeeds.
    Infinite,
    /// `resolv-retry N`: give up after this many seconds.
    Seconds(u32),
}

/// A `remote` whose port and transport may still come from `port` and `proto` later in the
/// profile, since OpenVPN applies those defaults after reading every line.
pub(crate) struct PendingRemote {
    pub host: String,
    pub port: Option<u16>,
    pub proto: Option<Proto>,
}

impl PendingRemote {
    /// Fills the port and transport that the `remote` line left out.
    pub(crate) fn complete(
        self,
        default_port: Option<u16>,
        default_proto: Option<Proto>,
    ) -> Remote {
        Remote {
            host: self.host,
            port: self.port.or(default_port).unwrap_or(DEFAULT_PORT),
            proto: self.proto.or(default_proto).unwrap_or_default(),
        }
    }
}

/// Parses `remote HOST [PORT] [PROTO]`.
pub(crate) fn parse_remote(directive: &Directive) -> KindResult<PendingRemote> {
    directive.expect_args(1, 3, "remote HOST [PORT] [PROTO]")?;

    let host = directive.args[0].clone();
    if host.is_empty() {
        return Err(directive.invalid(&host, "a host name or IP address"));
    }
    let port = directive
        .arg(1)
        .map(|port| parse_port(directive, port))
        .transpose()?;
    let proto = directive
        .arg(2)
        .map(|proto| parse_proto(directive, proto))
        .transpose()?;

    Ok(PendingRemote { host, port, proto })
}

/// Parses a port argument of `remote`, `port` or `rport`.
pub(crate) fn parse_port(directive: &Directive, value: &str) -> KindResult<u16> {
    match value.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(directive.invalid(value, "a port number from 1 to 65535")),
    }
}

/// Parses a transport name as `proto` and `remote` write it.
pub(crate) fn parse_proto(directive: &Directive, value: &str) -> KindResult<Proto> {
    let proto = match value.to_ascii_lowercase().as_str() {
        "udp" => Proto::Udp,
        "udp4" => Proto::Udp4,
        "udp6" => Proto::Udp6,
        "tcp" | "tcp-client" => Proto::Tcp,
        "tcp4" | "tcp4-client" => Proto::Tcp4,
        "tcp6" | "tcp6-client" => Proto::Tcp6,
        "tcp-server" | "tcp4-server" | "tcp6-server" => {
            return Err(directive.unsupported(format!(
                "{} {value} makes OpenVPN wait for connections as a server; a client profile \
                 uses tcp or tcp-client",
                directive.name
            )));
        }
        _ => {
            return Err(directive.invalid(
                value,
                "udp, udp4, udp6, tcp, tcp4, tcp6, tcp-client, tcp4-client or tcp6-client",
            ));
        }
    };
    Ok(proto)
}

/// Parses `resolv-retry infinite|SECONDS`.
pub(crate) fn parse_resolv_retry(directive: &Directive) -> KindResult<ResolvRetry> {
    directive.expect_args(1, 1, "resolv-retry infinite|SECONDS")?;

    let value = &directive.args[0];
    if value == "infinite" {
        return Ok(ResolvRetry::Infinite);
    }
    let seconds = directive.number(value, "infinite or a number of seconds")?;
    Ok(ResolvRetry::Seconds(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            line: 1,
            inline: None,
        }
    }

    #[test]
    fn proto_names() {
        let cases = [
            ("udp", Proto::Udp),
            ("udp4", Proto::Udp4),
            ("udp6", Proto::Udp6),
            ("tcp", Proto::Tcp),
            ("tcp4", Proto::Tcp4),
            ("tcp6", Proto::Tcp6),
            ("tcp-client", Proto::Tcp),
            ("tcp4-client", Proto::Tcp4),
            ("tcp6-client", Proto::Tcp6),
            ("UDP", Proto::Udp),
        ];

        for (name, expected) in cases {
            let proto = parse_proto(&directive("proto", &[name]), name);
            assert_eq!(proto.ok(), Some(expected), "proto {name}");
        }
    }

    #[test]
    fn proto_is_tcp() {
        assert!(Proto::Tcp6.is_tcp(), "tcp6 is TCP");
        assert!(!Proto::Udp4.is_tcp(), "udp4 is not TCP");
    }

    #[test]
    fn proto_tcp_server_rejected() {
        let result = parse_proto(&directive("proto", &["tcp-server"]), "tcp-server");

        assert!(result.is_err(), "tcp-server was accepted");
    }

    #[test]
    fn remote_defaults_filled_later() {
        let pending = parse_remote(&directive("remote", &["vpn.example.net"])).expect("valid");

        let remote = pending.complete(Some(443), Some(Proto::Tcp));

        assert_eq!(remote.port, 443, "port from the port directive");
        assert_eq!(remote.proto, Proto::Tcp, "proto from the proto directive");
    }

    #[test]
    fn remote_own_values_win() {
        let pending = parse_remote(&directive("remote", &["vpn.example.net", "1195", "udp6"]))
            .expect("valid");

        let remote = pending.complete(Some(443), Some(Proto::Tcp));

        assert_eq!(remote.to_string(), "vpn.example.net:1195/udp6");
    }

    #[test]
    fn remote_builtin_defaults() {
        let pending = parse_remote(&directive("remote", &["vpn.example.net"])).expect("valid");

        let remote = pending.complete(None, None);

        assert_eq!(remote.to_string(), "vpn.example.net:1194/udp");
    }

    #[test]
    fn port_zero_rejected() {
        let result = parse_port(&directive("port", &["0"]), "0");

        assert!(result.is_err(), "port 0 was accepted");
    }

    #[test]
    fn resolv_retry_values() {
        let infinite = parse_resolv_retry(&directive("resolv-retry", &["infinite"]));
        let seconds = parse_resolv_retry(&directive("resolv-retry", &["30"]));

        assert_eq!(infinite.ok(), Some(ResolvRetry::Infinite));
        assert_eq!(seconds.ok(), Some(ResolvRetry::Seconds(30)));
    }
}
