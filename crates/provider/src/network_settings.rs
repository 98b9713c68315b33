//! Tunnel network settings: the interface configuration a session derives from the options in
//! the server's `PUSH_REPLY` (`ifconfig`, `ifconfig-ipv6`, `route`, `route-ipv6`, `tun-mtu`,
//! `dhcp-option DNS`, `dhcp-option DOMAIN`).
//!
//! These are plain data. [`crate::netlink::NetworkConfigurator`] applies them on Linux, and an
//! embedding platform can hand the same values to its own tunnel API.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Smallest MTU an IPv4 interface must carry (RFC 791).
pub const MIN_IPV4_MTU: u32 = 68;

/// Smallest MTU an IPv6 interface must carry (RFC 8200). Linux disables IPv6 on an interface
/// whose MTU is lower, so an IPv6 address could not be added.
pub const MIN_IPV6_MTU: u32 = 1280;

/// Interface configuration for one tunnel, filled from the server's pushed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelNetworkSettings {
    /// MTU of the TUN interface in bytes (`tun-mtu`).
    pub mtu: u32,
    /// IPv4 address of the tunnel end of this client (`ifconfig`), if the server pushed one.
    pub ipv4: Option<Ipv4Settings>,
    /// IPv6 address of the tunnel end of this client (`ifconfig-ipv6`), if the server pushed one.
    pub ipv6: Option<Ipv6Settings>,
    /// IPv4 routes to send into the tunnel (`route`).
    pub routes_v4: Vec<RouteV4>,
    /// IPv6 routes to send into the tunnel (`route-ipv6`).
    pub routes_v6: Vec<RouteV6>,
    /// DNS servers (`dhcp-option DNS` and `dhcp-option DNS6`).
    pub dns_servers: Vec<IpAddr>,
    /// DNS search domains (`dhcp-option DOMAIN` and `dhcp-option DOMAIN-SEARCH`).
    pub search_domains: Vec<String>,
}

/// IPv4 address of the tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Settings {
    /// Local address of this client.
    pub address: Ipv4Addr,
    /// Prefix length of the tunnel network (`topology subnet`), or of `peer` when one is set.
    pub prefix_len: u8,
    /// Remote end of a point-to-point link (`topology net30` or `topology p2p`), if any.
    pub peer: Option<Ipv4Addr>,
}

/// IPv6 address of the tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Settings {
    /// Local address of this client.
    pub address: Ipv6Addr,
    /// Prefix length of the tunnel network.
    pub prefix_len: u8,
}

/// IPv4 route through the tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteV4 {
    /// Network address of the destination, with all host bits zero.
    pub destination: Ipv4Addr,
    /// Prefix length of the destination.
    pub prefix_len: u8,
    /// Next hop inside the tunnel (`route-gateway`), or `None` to route on the link.
    pub gateway: Option<Ipv4Addr>,
    /// Route metric, or `None` for the kernel default.
    pub metric: Option<u32>,
}

/// IPv6 route through the tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteV6 {
    /// Network address of the destination, with all host bits zero.
    pub destination: Ipv6Addr,
    /// Prefix length of the destination.
    pub prefix_len: u8,
    /// Next hop inside the tunnel, or `None` to route on the link.
    pub gateway: Option<Ipv6Addr>,
    /// Route metric, or `None` for the kernel default.
    pub metric: Option<u32>,
}

/// Error for settings that the kernel would reject, found before any change is made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNetworkSettings {
    /// The MTU is below the minimum for an IP family the settings use.
    #[error(
        "tunnel MTU {mtu} is below the {family} minimum of {min}; push a tun-mtu of at least {min}"
    )]
    MtuTooSmall {
        /// MTU from the settings, in bytes.
        mtu: u32,
        /// IP family whose minimum is not met, "IPv4" or "IPv6".
        family: &'static str,
        /// Minimum MTU for that family, in bytes.
        min: u32,
    },
    /// A prefix length exceeds the address width.
    #[error("invalid {what} {address}/{prefix_len}: prefix length must be at most {max}")]
    PrefixTooLong {
        /// Kind of value, for example "IPv4 address" or "IPv6 route".
        what: &'static str,
        /// Address the prefix belongs to.
        address: IpAddr,
        /// Prefix length from the settings.
        prefix_len: u8,
        /// Width of the address in bits.
        max: u8,
    },
    /// A route destination has host bits set, which Linux rejects.
    #[error("invalid route {address}/{prefix_len}: host bits are set; use {network}/{prefix_len}")]
    HostBitsSet {
        /// Destination from the settings.
        address: IpAddr,
        /// Prefix length from the settings.
        prefix_len: u8,
        /// Destination with the host bits cleared.
        network: IpAddr,
    },
}

impl TunnelNetworkSettings {
    /// Returns the local tunnel addresses of this client, IPv4 first.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let ipv4 = self.ipv4.map(|ipv4| IpAddr::V4(ipv4.address));
        let ipv6 = self.ipv6.map(|ipv6| IpAddr::V6(ipv6.address));
        ipv4.into_iter().chain(ipv6).collect()
    }

    /// Checks the values that Linux would reject with a bare "Invalid argument".
    pub fn validate(&self) -> Result<(), InvalidNetworkSettings> {
        if self.ipv4.is_some() || !self.routes_v4.is_empty() {
            check_mtu(self.mtu, "IPv4", MIN_IPV4_MTU)?;
        }
        if self.ipv6.is_some() || !self.routes_v6.is_empty() {
            check_mtu(self.mtu, "IPv6", MIN_IPV6_MTU)?;
        }

        if let Some(ipv4) = &self.ipv4 {
            check_prefix("IPv4 address", ipv4.address.into(), ipv4.prefix_len)?;
        }
        if let Some(ipv6) = &self.ipv6 {
            check_prefix("IPv6 address", ipv6.address.into(), ipv6.prefix_len)?;
        }

        for route in &self.routes_v4 {
            check_prefix("IPv4 route", route.destination.into(), route.prefix_len)?;
            check_network(route.destination.into(), route.prefix_len)?;
        }
        for route in &self.routes_v6 {
            check_prefix("IPv6 route", route.destination.into(), route.prefix_len)?;
            check_network(route.destination.into(), route.prefix_len)?;
        }
        Ok(())
    }
}

fn check_mtu(mtu: u32, family: &'static str, min: u32) -> Result<(), InvalidNetworkSettings> {
    if mtu < min {
        return Err(InvalidNetworkSettings::MtuTooSmall { mtu, family, min });
    }
    Ok(())
}

fn check_prefix(
    what: &'static str,
    address: IpAddr,
    prefix_len: u8,
) -> Result<(), InvalidNetworkSettings> {
    let max = address_bits(address);
    if prefix_len > max {
        return Err(InvalidNetworkSettings::PrefixTooLong {
            what,
            address,
            prefix_len,
            max,
        });
    }
    Ok(())
}

fn check_network(address: IpAddr, prefix_len: u8) -> Result<(), InvalidNetworkSettings> {
    let network = network_address(address, prefix_len);
    if network != address {
        return Err(InvalidNetworkSettings::HostBitsSet {
            address,
            prefix_len,
            network,
        });
    }
    Ok(())
}

fn address_bits(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Clears the host bits of `address`. `prefix_len` must not exceed the address width.
fn network_address(address: IpAddr, prefix_len: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

impl fmt::Display for Ipv4Settings {
    /// Formats as `ip address` does: `198.18.0.6 peer 198.18.0.5/32` or `198.18.0.2/24`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.peer {
            Some(peer) => write!(f, "{} peer {}/{}", self.address, peer, self.prefix_len),
            None => write!(f, "{}/{}", self.address, self.prefix_len),
        }
    }
}

impl fmt::Display for Ipv6Settings {
    /// Formats as `fd00::2/64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

impl fmt::Display for RouteV4 {
    /// Formats as `ip route` does: `198.19.5.0/24 via 198.19.0.1 metric 10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_route(
            f,
            self.destination,
            self.prefix_len,
            self.gateway,
            self.metric,
        )
    }
}

impl fmt::Display for RouteV6 {
    /// Formats as `ip route` does: `fd00:5::/64 via fd00::1 metric 10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_route(
            f,
            self.destination,
            self.prefix_len,
            self.gateway,
            self.metric,
        )
    }
}

fn write_route<A: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    destination: A,
    prefix_len: u8,
    gateway: Option<A>,
    metric: Option<u32>,
) -> fmt::Result {
    write!(f, "{destination}/{prefix_len}")?;
    if let Some(gateway) = gateway {
        write!(f, " via {gateway}")?;
    }
    if let Some(metric) = metric {
        write!(f, " metric {metric}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TunnelNetworkSettings {
        TunnelNetworkSettings {
            mtu: 1500,
            ipv4: Some(Ipv4Settings {
                address: Ipv4Addr::new(198, 19, 0, 2),
                prefix_len: 24,
                peer: None,
            }),
            ipv6: Some(Ipv6Settings {
                address: "fd00::2".parse().unwrap(),
                prefix_len: 64,
            }),
            routes_v4: vec![RouteV4 {
                destination: Ipv4Addr::new(198, 19, 5, 0),
                prefix_len: 24,
                gateway: Some(Ipv4Addr::new(198, 19, 0, 1)),
                metric: None,
            }],
            routes_v6: vec![RouteV6 {
                destination: "fd00:5::".parse().unwrap(),
                prefix_len: 64,
                gateway: None,
                metric: Some(10),
            }],
            dns_servers: vec![],
            search_domains: vec![],
        }
    }

    #[test]
    fn validate_accepts_complete_settings() {
        assert_eq!(
            settings().validate(),
            Ok(()),
            "valid settings were rejected"
        );
    }

    /// Case name, change to valid settings, expected error message.
    type InvalidCase = (&'static str, fn(&mut TunnelNetworkSettings), &'static str);

    #[test]
    fn validate_rejects_invalid_values() {
        let cases: Vec<InvalidCase> = vec![
            (
                "ipv4 mtu",
                |s| {
                    s.ipv6 = None;
                    s.routes_v6.clear();
                    s.mtu = 60;
                },
                "tunnel MTU 60 is below the IPv4 minimum of 68; push a tun-mtu of at least 68",
            ),
            (
                "ipv6 mtu",
                |s| s.mtu = 1200,
                "tunnel MTU 1200 is below the IPv6 minimum of 1280; push a tun-mtu of at least 1280",
            ),
            (
                "ipv4 prefix",
                |s| s.ipv4.as_mut().unwrap().prefix_len = 33,
                "invalid IPv4 address 198.19.0.2/33: prefix length must be at most 32",
            ),
            (
                "ipv6 prefix",
                |s| s.ipv6.as_mut().unwrap().prefix_len = 129,
                "invalid IPv6 address fd00::2/129: prefix length must be at most 128",
            ),
            (
                "ipv4 route host bits",
                |s| s.routes_v4[0].destination = Ipv4Addr::new(198, 19, 5, 1),
                "invalid route 198.19.5.1/24: host bits are set; use 198.19.5.0/24",
            ),
            (
                "ipv6 route host bits",
                |s| s.routes_v6[0].destination = "fd00:5::1".parse().unwrap(),
                "invalid route fd00:5::1/64: host bits are set; use fd00:5::/64",
            ),
            (
                "ipv4 route prefix",
                |s| s.routes_v4[0].prefix_len = 40,
                "invalid IPv4 route 198.19.5.0/40: prefix length must be at most 32",
            ),
        ];

        for (case, change, expected) in cases {
            let mut settings = settings();
            change(&mut settings);
            let message = settings.validate().map_err(|error| error.to_string());
            assert_eq!(message, Err(expected.to_owned()), "case {case}");
        }
    }

    #[test]
    fn validate_accepts_default_route() {
        let mut settings = settings();
        settings.routes_v4[0].destination = Ipv4Addr::UNSPECIFIED;
        settings.routes_v4[0].prefix_len = 0;
        assert_eq!(settings.validate(), Ok(()), "0.0.0.0/0 was rejected");
    }

    #[test]
    fn addresses_lists_ipv4_then_ipv6() {
        let expected: Vec<IpAddr> = vec![
            Ipv4Addr::new(198, 19, 0, 2).into(),
            "fd00::2".parse::<Ipv6Addr>().unwrap().into(),
        ];
        assert_eq!(settings().addresses(), expected, "tunnel addresses");
    }

    #[test]
    fn display_matches_ip_command_forms() {
        let net30 = Ipv4Settings {
            address: Ipv4Addr::new(198, 18, 0, 6),
            prefix_len: 32,
            peer: Some(Ipv4Addr::new(198, 18, 0, 5)),
        };
        let route = settings().routes_v4[0];
        let route_v6 = settings().routes_v6[0];

        assert_eq!(
            net30.to_string(),
            "198.18.0.6 peer 198.18.0.5/32",
            "net30 address"
        );
        assert_eq!(
            route.to_string(),
            "198.19.5.0/24 via 198.19.0.1",
            "IPv4 route"
        );
        assert_eq!(route_v6.to_string(), "fd00:5::/64 metric 10", "IPv6 route");
    }
}
