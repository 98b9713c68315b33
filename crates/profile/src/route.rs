//! Tunnel network settings a profile may set: `route`, `route-ipv6`, `dhcp-option` and
//! `redirect-gateway`.

use std::net::Ipv4Addr;

use crate::directive::{Directive, KindResult};

/// An IPv4 route through the tunnel (`route`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination address, host name, or one of OpenVPN's keywords such as `vpn_gateway`.
    pub network: String,
    /// Destination netmask; `None` means a host route (255.255.255.255).
    pub netmask: Option<String>,
    /// Next hop; `None` means the tunnel's gateway.
    pub gateway: Option<String>,
    /// Route metric; `None` means the system default.
    pub metric: Option<u32>,
}

/// An IPv6 route through the tunnel (`route-ipv6`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteIpv6 {
    /// Destination as `ADDRESS/BITS`.
    pub network: String,
    /// Next hop; `None` means the tunnel's gateway.
    pub gateway: Option<String>,
    /// Route metric; `None` means the system default.
    pub metric: Option<u32>,
}

/// Flags `redirect-gateway` accepts in OpenVPN 2.6.
const REDIRECT_GATEWAY_FLAGS: [&str; 8] = [
    "local",
    "autolocal",
    "def1",
    "bypass-dhcp",
    "bypass-dns",
    "block-local",
    "ipv6",
    "!ipv4",
];

/// Returns the argument, or `None` when it is missing or OpenVPN's placeholder `default`.
fn optional(directive: &Directive, index: usize) -> Option<&str> {
    directive.arg(index).filter(|value| *value != "default")
}

fn parse_metric(directive: &Directive, index: usize) -> KindResult<Option<u32>> {
    optional(directive, index)
        .map(|metric| directive.number(metric, "a metric from 0 to 4294967295"))
        .transpose()
}

/// Parses `route NETWORK [NETMASK] [GATEWAY] [METRIC]`.
pub(crate) fn parse_route(directive: &Directive) -> KindResult<Route> {
    directive.expect_args(1, 4, "route NETWORK [NETMASK] [GATEWAY] [METRIC]")?;

    let netmask = optional(directive, 1).map(str::to_owned);
    if let Some(netmask) = &netmask {
        if netmask.parse::<Ipv4Addr>().is_err() {
            return Err(directive.invalid(netmask, "a netmask such as 255.255.255.0"));
        }
    }

    Ok(Route {
        network: directive.args[0].clone(),
        netmask,
        gateway: optional(directive, 2).map(str::to_owned),
        metric: parse_metric(directive, 3)?,
    })
}

/// Parses `route-ipv6 NETWORK/BITS [GATEWAY] [METRIC]`.
pub(crate) fn parse_route_ipv6(directive: &Directive) -> KindResult<RouteIpv6> {
    directive.expect_args(1, 3, "route-ipv6 NETWORK/BITS [GATEWAY] [METRIC]")?;

    Ok(RouteIpv6 {
        network: directive.args[0].clone(),
        gateway: optional(directive, 1).map(str::to_owned),
        metric: parse_metric(directive, 2)?,
    })
}

/// Parses `dhcp-option TYPE [VALUE]`; a missing value, as in `DISABLE-NBT`, becomes `""`.
pub(crate) fn parse_dhcp_option(directive: &Directive) -> KindResult<(String, String)> {
    directive.expect_args(1, 2, "dhcp-option TYPE [VALUE]")?;

    let value = directive.arg(1).unwrap_or_default().to_owned();
    Ok((directive.args[0].clone(), value))
}

/// Parses `redirect-gateway [FLAG...]`.
pub(crate) fn parse_redirect_gateway(directive: &Directive) -> KindResult<Vec<String>> {
    directive.expect_args(
        0,
        REDIRECT_GATEWAY_FLAGS.len(),
        "redirect-gateway [FLAG...]",
    )?;

    for flag in &directive.args {
        if !REDIRECT_GATEWAY_FLAGS.contains(&flag.as_str()) {
            return Err(directive.invalid(flag, &REDIRECT_GATEWAY_FLAGS.join(", ")));
        }
    }
    Ok(directive.args.clone())
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
    fn route_all_fields() {
        let route = parse_route(&directive(
            "route",
            &["10.8.0.0", "255.255.0.0", "10.8.0.1", "5"],
        ))
        .expect("valid route");

        let expected = Route {
            network: "10.8.0.0".to_owned(),
            netmask: Some("255.255.0.0".to_owned()),
            gateway: Some("10.8.0.1".to_owned()),
            metric: Some(5),
        };
        assert_eq!(route, expected);
    }

    #[test]
    fn route_default_placeholders() {
        let route = parse_route(&directive(
            "route",
            &["10.8.0.0", "255.255.0.0", "default", "default"],
        ))
        .expect("valid route");

        assert_eq!(route.gateway, None, "default gateway placeholder");
        assert_eq!(route.metric, None, "default metric placeholder");
    }

    #[test]
    fn route_bad_netmask() {
        let result = parse_route(&directive("route", &["10.8.0.0", "/16"]));

        assert!(result.is_err(), "netmask \"/16\" was accepted");
    }

    #[test]
    fn route_ipv6_fields() {
        let route = parse_route_ipv6(&directive("route-ipv6", &["fd00:1::/64", "fd00::1", "10"]))
            .expect("valid route");

        assert_eq!(route.gateway.as_deref(), Some("fd00::1"));
        assert_eq!(route.metric, Some(10));
    }

    #[test]
    fn dhcp_option_without_value() {
        let option = parse_dhcp_option(&directive("dhcp-option", &["DISABLE-NBT"])).expect("valid");

        assert_eq!(option, ("DISABLE-NBT".to_owned(), String::new()));
    }

    #[test]
    fn redirect_gateway_unknown_flag() {
        let result = parse_redirect_gateway(&directive("redirect-gateway", &["def2"]));

        assert!(result.is_err(), "flag def2 was accepted");
    }
}
