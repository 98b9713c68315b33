//! Address of the OpenVPN management interface: a Unix socket or a loopback TCP port.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use thiserror::Error;

/// Address of an OpenVPN management interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagementAddress {
    /// A Unix socket, from `management <path> unix` in the server configuration.
    Unix(PathBuf),
    /// A TCP port on a loopback address, from `management 127.0.0.1 <port> <pw-file>`.
    Tcp(SocketAddr),
}

/// A `--management` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// The value is empty.
    #[error("the management address is empty; pass a socket path or 127.0.0.1:PORT")]
    Empty,
    /// A TCP address that is not on loopback.
    #[error(
        "management address {0} is not a loopback address; the management interface \
         carries passwords in clear text, so run ferrovpn-authd on the OpenVPN host and \
         use 127.0.0.1:PORT or a Unix socket"
    )]
    NotLoopback(SocketAddr),
}

impl FromStr for ManagementAddress {
    type Err = AddressError;

    /// Reads `IP:PORT` (IPv6 in brackets) as TCP and anything else as a socket path.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.is_empty() {
            return Err(AddressError::Empty);
        }
        match value.parse::<SocketAddr>() {
            Ok(address) if address.ip().is_loopback() => Ok(ManagementAddress::Tcp(address)),
            Ok(address) => Err(AddressError::NotLoopback(address)),
            Err(_) => Ok(ManagementAddress::Unix(PathBuf::from(value))),
        }
    }
}

impl fmt::Display for ManagementAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagementAddress::Unix(path) => write!(f, "{}", path.display()),
            ManagementAddress::Tcp(address) => write!(f, "{address}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_address_table() {
        let cases = [
            (
                "/run/openvpn/server.sock",
                Ok(ManagementAddress::Unix(PathBuf::from(
                    "/run/openvpn/server.sock",
                ))),
            ),
            (
                "mgmt.sock",
                Ok(ManagementAddress::Unix(PathBuf::from("mgmt.sock"))),
            ),
            (
                "127.0.0.1:7505",
                Ok(ManagementAddress::Tcp(
                    "127.0.0.1:7505".parse().expect("address"),
                )),
            ),
            (
                "[::1]:7505",
                Ok(ManagementAddress::Tcp(
                    "[::1]:7505".parse().expect("address"),
                )),
            ),
            (
                "198.18.0.1:7505",
                Err(AddressError::NotLoopback(
                    "198.18.0.1:7505".parse().expect("address"),
                )),
            ),
            ("", Err(AddressError::Empty)),
        ];
        for (value, expected) in cases {
            assert_eq!(
                value.parse::<ManagementAddress>(),
                expected,
                "parsing {value:?}"
            );
        }
    }
}
