//! Addresses of the test network: the veth link and the tunnel pool, all in 198.18.0.0/15.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Server end of the veth link, where the OpenVPN server listens.
pub const SERVER_LINK_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

/// Client end of the veth link.
pub const CLIENT_LINK_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);

/// Prefix length of the veth link addresses.
pub const LINK_PREFIX_LEN: u8 = 24;

/// Network of the server's IPv4 tunnel pool (`server 198.19.0.0 255.255.255.0`).
pub const TUNNEL_NETWORK: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);

/// Netmask of the IPv4 tunnel pool.
pub const TUNNEL_NETMASK: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

/// Server's own tunnel address: OpenVPN takes the first host of the pool.
pub const SERVER_TUNNEL_ADDR: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 1);

/// Network of the server's IPv6 tunnel pool (`server-ipv6 fd00:198:19::/64`).
pub const TUNNEL_NETWORK_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x198, 0x19, 0, 0, 0, 0, 0);

/// Prefix length of the IPv6 tunnel pool.
pub const TUNNEL_PREFIX_LEN_V6: u8 = 64;

/// Server's own IPv6 tunnel address: OpenVPN takes the first host of the pool.
pub const SERVER_TUNNEL_ADDR_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x198, 0x19, 0, 0, 0, 0, 1);

/// Port the OpenVPN server listens on unless a test chooses another.
pub const DEFAULT_PORT: u16 = 1194;
