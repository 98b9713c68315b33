//! Turns the options a server pushed into the network settings of the TUN device.

use std::net::Ipv4Addr;

use ferrovpn_protocol::push_reply::{PushedOptions, RouteVia, Topology};

use crate::network_settings::{
    Ipv4Settings, Ipv6Settings, RouteV4, RouteV6, TunnelNetworkSettings,
};

/// Error turning pushed options into network settings.
#[derive(Debug, thiserror::Error)]
pub enum PushedSettingsError {
    /// A pushed netmask has holes, such as 255.0.255.0.
    #[error("the server pushed netmask {netmask} for {what}, which is not contiguous")]
    InvalidNetmask {
        /// The netmask as pushed.
        netmask: Ipv4Addr,
        /// The option that carried it.
        what: String,
    },
    /// The server pushed no address for the tunnel.
    #[error("the server pushed no ifconfig or ifconfig-ipv6, so the tunnel has no address; check the server's `server` or `ifconfig-push` settings")]
    NoAddress,
}

/// Builds the device settings from a `PUSH_REPLY`.
///
/// `default_mtu` is the profile's `tun-mtu`; `route_nopull` drops pushed routes.
pub fn network_settings(
    options: &PushedOptions,
    default_mtu: u32,
    route_nopull: bool,
) -> Result<TunnelNetworkSettings, PushedSettingsError> {
    let ipv4 = match &options.ifconfig {
        None => None,
        Some(ifconfig) => Some(match options.topology {
            Topology::Subnet => Ipv4Settings {
                address: ifconfig.local,
                prefix_len: prefix_len(ifconfig.netmask_or_remote, "ifconfig")?,
                peer: None,
            },
            Topology::Net30 | Topology::P2p => Ipv4Settings {
                address: ifconfig.local,
                prefix_len: 32,
                peer: Some(ifconfig.netmask_or_remote),
            },
        }),
    };
    let ipv6 = options.ifconfig_ipv6.as_ref().map(|ifconfig| Ipv6Settings {
        address: ifconfig.local,
        prefix_len: ifconfig.prefix_len,
    });
    if ipv4.is_none() && ipv6.is_none() {
        return Err(PushedSettingsError::NoAddress);
    }

    let mut routes_v4 = Vec::new();
    let mut routes_v6 = Vec::new();
    if route_nopull {
        tracing::info!(
            routes = options.routes.len() + options.routes_ipv6.len(),
            "route-nopull: ignoring pushed routes"
        );
    } else {
        for route in &options.routes {
            let gateway = match route.gateway {
                // Routes through a TUN device need no next hop: the device is point-to-point.
                None | Some(RouteVia::VpnGateway) => None,
                Some(RouteVia::Address(address)) => Some(address),
                Some(RouteVia::NetGateway) | Some(RouteVia::RemoteHost) => {
                    // NOTE: routes around the tunnel (net_gateway, remote_host) need the
                    // host's default gateway, which is not looked up yet; they are skipped.
                    tracing::warn!(network = %route.network, "skipping pushed route that bypasses the tunnel: not supported yet");
                    continue;
                }
            };
            routes_v4.push(RouteV4 {
                destination: route.network,
                prefix_len: prefix_len(route.netmask, &format!("route {}", route.network))?,
                gateway,
                metric: route.metric,
            });
        }
        for route in &options.routes_ipv6 {
            routes_v6.push(RouteV6 {
                destination: route.network,
                prefix_len: route.prefix_len,
                gateway: None,
                metric: route.metric,
            });
        }
    }

    if options.redirect_gateway.is_some() {
        // NOTE: redirect-gateway is not applied. It needs a host route to the server through
        // the original default gateway before the default route can move into the tunnel.
        tracing::warn!("the server pushed redirect-gateway, which ferrovpn does not apply yet; only the pushed routes go through the tunnel");
    }
    for unknown in &options.unknown {
        tracing::debug!(option = %unknown, "ignoring pushed option ferrovpn does not use");
    }

    let mut search_domains = options.dhcp_options.domain.clone();
    search_domains.extend(options.dhcp_options.domain_search.iter().cloned());

    Ok(TunnelNetworkSettings {
        mtu: options.tun_mtu.unwrap_or(default_mtu),
        ipv4,
        ipv6,
        routes_v4,
        routes_v6,
        dns_servers: options.dhcp_options.dns.clone(),
        search_domains,
    })
}

fn prefix_len(netmask: Ipv4Addr, what: &str) -> Result<u8, PushedSettingsError> {
    let bits = u32::from(netmask);
    let ones = bits.leading_ones();
    if bits.checked_shl(ones).unwrap_or(0) != 0 {
        return Err(PushedSettingsError::InvalidNetmask {
            netmask,
            what: what.to_owned(),
        });
    }
    Ok(ones as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrovpn_protocol::push_reply::PushReplyBuilder;

    fn parse(body: &str) -> PushedOptions {
        PushReplyBuilder::new()
            .add(body)
            .expect("valid PUSH_REPLY")
            .expect("complete PUSH_REPLY")
    }

    #[test]
    fn subnet_topology_uses_netmask() {
        let options =
            parse("PUSH_REPLY,topology subnet,ifconfig 198.19.0.2 255.255.255.0,peer-id 0");
        let settings = network_settings(&options, 1500, false).unwrap();
        let ipv4 = settings.ipv4.unwrap();
        assert_eq!(
            (ipv4.address, ipv4.prefix_len, ipv4.peer),
            ("198.19.0.2".parse().unwrap(), 24, None)
        );
    }

    #[test]
    fn net30_topology_uses_peer() {
        let options = parse("PUSH_REPLY,topology net30,ifconfig 198.19.0.6 198.19.0.5");
        let settings = network_settings(&options, 1500, false).unwrap();
        let ipv4 = settings.ipv4.unwrap();
        assert_eq!(ipv4.peer, Some("198.19.0.5".parse().unwrap()));
    }

    #[test]
    fn pushed_route_becomes_device_route() {
        let options = parse("PUSH_REPLY,topology subnet,ifconfig 198.19.0.2 255.255.255.0,route 198.19.8.0 255.255.252.0");
        let settings = network_settings(&options, 1500, false).unwrap();
        assert_eq!(
            settings.routes_v4[0].prefix_len, 22,
            "routes: {:?}",
            settings.routes_v4
        );
    }

    #[test]
    fn route_nopull_drops_routes() {
        let options = parse("PUSH_REPLY,topology subnet,ifconfig 198.19.0.2 255.255.255.0,route 198.19.8.0 255.255.255.0");
        let settings = network_settings(&options, 1500, true).unwrap();
        assert!(
            settings.routes_v4.is_empty(),
            "routes: {:?}",
            settings.routes_v4
        );
    }

    #[test]
    fn holey_netmask_rejected() {
        let options = parse("PUSH_REPLY,topology subnet,ifconfig 198.19.0.2 255.0.255.0");
        let error = network_settings(&options, 1500, false).unwrap_err();
        assert!(error.to_string().contains("255.0.255.0"), "error: {error}");
    }

    #[test]
    fn missing_address_rejected() {
        let options = parse("PUSH_REPLY,ping 10");
        assert!(matches!(
            network_settings(&options, 1500, false),
            Err(PushedSettingsError::NoAddress)
        ));
    }

    #[test]
    fn pushed_mtu_wins() {
        let options =
            parse("PUSH_REPLY,topology subnet,ifconfig 198.19.0.2 255.255.255.0,tun-mtu 1400");
        assert_eq!(network_settings(&options, 1500, false).unwrap().mtu, 1400);
    }
}
