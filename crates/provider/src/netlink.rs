//! Applying tunnel network settings to a Linux interface over rtnetlink, and removing them.
//!
//! [`NetworkConfigurator::apply`] sets the MTU, adds the addresses, brings the link up and adds
//! the routes, in that order, because Linux rejects a route without a gateway on a link that
//! is down. It returns an [`AppliedSettings`] record of what it added, which
//! [`NetworkConfigurator::remove`] takes back when the tunnel goes down. Closing the [`Tun`]
//! removes the device itself, and the kernel removes its addresses and routes with it.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::route::RouteScope;
use rtnetlink::{AddressAddRequest, Handle, RouteAddRequest};
use tokio::task::JoinHandle;

use crate::network_settings::{
    InvalidNetworkSettings, Ipv4Settings, Ipv6Settings, RouteV4, RouteV6, TunnelNetworkSettings,
};
use crate::tun::Tun;

/// rtnetlink connection that applies and removes tunnel network settings.
///
/// The netlink socket belongs to the network namespace of the thread that calls
/// [`NetworkConfigurator::new`].
#[derive(Debug)]
pub struct NetworkConfigurator {
    /// Request handle of the rtnetlink connection.
    handle: Handle,
    /// Task that drives the rtnetlink connection, aborted on drop.
    connection: JoinHandle<()>,
}

/// Record of what [`NetworkConfigurator::apply`] added to one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "pass the applied settings to NetworkConfigurator::remove when the tunnel goes down"]
pub struct AppliedSettings {
    /// Index of the interface the settings were applied to.
    ifindex: u32,
    /// Name of that interface, for logs and error messages.
    ifname: String,
    /// IPv4 address that was added.
    ipv4: Option<Ipv4Settings>,
    /// IPv6 address that was added.
    ipv6: Option<Ipv6Settings>,
    /// IPv4 routes that were added, in the order they were added.
    routes_v4: Vec<RouteV4>,
    /// IPv6 routes that were added, in the order they were added.
    routes_v6: Vec<RouteV6>,
}

/// Error from applying tunnel network settings.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// No tokio runtime was running to drive the rtnetlink connection.
    #[error(
        "NetworkConfigurator::new was called outside a tokio runtime; call it from within one"
    )]
    NoRuntime,
    /// The rtnetlink socket could not be opened.
    #[error("opening the rtnetlink socket failed: {os_error}")]
    Connect {
        /// Error from `socket(2)` or `bind(2)`.
        os_error: io::Error,
    },
    /// The settings contain a value the kernel would reject. Nothing was changed.
    #[error(transparent)]
    InvalidSettings(#[from] InvalidNetworkSettings),
    /// The kernel rejected a request.
    #[error("{operation} on {ifname} failed: {os_error}{}", permission_hint(.os_error))]
    Request {
        /// Change that was requested.
        operation: Operation,
        /// Name of the interface the change was for.
        ifname: String,
        /// Error the kernel returned, or a description of a broken connection.
        os_error: io::Error,
    },
}

/// One change to an interface, named in errors and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Setting the interface MTU, in bytes.
    SetMtu(u32),
    /// Bringing the interface up.
    SetLinkUp,
    /// Adding an IPv4 address.
    AddAddressV4(Ipv4Settings),
    /// Adding an IPv6 address.
    AddAddressV6(Ipv6Settings),
    /// Adding an IPv4 route.
    AddRouteV4(RouteV4),
    /// Adding an IPv6 route.
    AddRouteV6(RouteV6),
    /// Deleting an IPv4 address.
    DeleteAddressV4(Ipv4Settings),
    /// Deleting an IPv6 address.
    DeleteAddressV6(Ipv6Settings),
    /// Deleting an IPv4 route.
    DeleteRouteV4(RouteV4),
    /// Deleting an IPv6 route.
    DeleteRouteV6(RouteV6),
}

impl NetworkConfigurator {
    /// Opens an rtnetlink socket and spawns the task that drives it on the current tokio
    /// runtime.
    pub fn new() -> Result<Self, NetlinkError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NetlinkError::NoRuntime)?;

        let (connection, handle, _multicast) =
            rtnetlink::new_connection().map_err(|os_error| NetlinkError::Connect { os_error })?;
        let connection = runtime.spawn(connection);

        Ok(Self { handle, connection })
    }

    /// Applies `settings` to the interface of `tun`.
    ///
    /// On failure, removes what it had added before returning the error.
    pub async fn apply(
        &mut self,
        tun: &Tun,
        settings: &TunnelNetworkSettings,
    ) -> Result<AppliedSettings, NetlinkError> {
        self.apply_to_interface(tun.index(), tun.name(), settings)
            .await
    }

    /// Applies `settings` to the interface with index `ifindex`, named `ifname` in messages.
    ///
    /// On failure, removes what it had added before returning the error.
    pub async fn apply_to_interface(
        &mut self,
        ifindex: u32,
        ifname: &str,
        settings: &TunnelNetworkSettings,
    ) -> Result<AppliedSettings, NetlinkError> {
        settings.validate()?;

        let mut applied = AppliedSettings {
            ifindex,
            ifname: ifname.to_owned(),
            ipv4: None,
            ipv6: None,
            routes_v4: Vec::new(),
            routes_v6: Vec::new(),
        };
        if let Err(error) = self.apply_steps(settings, &mut applied).await {
            tracing::warn!(
                interface = ifname,
                %error,
                "applying tunnel network settings failed; removing what was added"
            );
            self.remove(applied).await;
            return Err(error);
        }

        tracing::info!(
            interface = ifname,
            mtu = settings.mtu,
            ipv4 = ?settings.ipv4.map(|ipv4| ipv4.to_string()),
            ipv6 = ?settings.ipv6.map(|ipv6| ipv6.to_string()),
            routes_v4 = settings.routes_v4.len(),
            routes_v6 = settings.routes_v6.len(),
            "applied tunnel network settings"
        );
        log_dns(ifname, settings);
        Ok(applied)
    }

    /// Deletes the routes and addresses in `applied`, the routes first.
    ///
    /// An entry that is already gone, for example because the device was closed, is skipped.
    /// Other failures are logged and the remaining entries are still deleted.
    pub async fn remove(&mut self, applied: AppliedSettings) {
        let ifindex = applied.ifindex;
        let ifname = applied.ifname.as_str();

        for route in applied.routes_v6.iter().rev() {
            let mut request = route_v6_request(&self.handle, ifindex, route);
            let message = request.message_mut().clone();
            let result = self.handle.route().del(message).execute().await;
            log_removal(Operation::DeleteRouteV6(*route), ifname, result);
        }
        for route in applied.routes_v4.iter().rev() {
            let mut request = route_v4_request(&self.handle, ifindex, route);
            let message = request.message_mut().clone();
            let result = self.handle.route().del(message).execute().await;
            log_removal(Operation::DeleteRouteV4(*route), ifname, result);
        }

        if let Some(ipv6) = applied.ipv6 {
            let mut request = ipv6_address_request(&self.handle, ifindex, &ipv6);
            let message = request.message_mut().clone();
            let result = self.handle.address().del(message).execute().await;
            log_removal(Operation::DeleteAddressV6(ipv6), ifname, result);
        }
        if let Some(ipv4) = applied.ipv4 {
            let mut request = ipv4_address_request(&self.handle, ifindex, &ipv4);
            let message = request.message_mut().clone();
            let result = self.handle.address().del(message).execute().await;
            log_removal(Operation::DeleteAddressV4(ipv4), ifname, result);
        }

        tracing::info!(interface = ifname, "removed tunnel network settings");
    }

    /// Makes each change in turn and records it in `applied` once the kernel accepted it.
    async fn apply_steps(
        &mut self,
        settings: &TunnelNetworkSettings,
        applied: &mut AppliedSettings,
    ) -> Result<(), NetlinkError> {
        let ifindex = applied.ifindex;
        let ifname = applied.ifname.clone();
        let failed = |operation: Operation| {
            let ifname = ifname.clone();
            move |error| request_error(operation, ifname, error)
        };

        let set_mtu = self.handle.link().set(ifindex).mtu(settings.mtu);
        set_mtu
            .execute()
            .await
            .map_err(failed(Operation::SetMtu(settings.mtu)))?;

        if let Some(ipv4) = settings.ipv4 {
            let request = ipv4_address_request(&self.handle, ifindex, &ipv4);
            request
                .execute()
                .await
                .map_err(failed(Operation::AddAddressV4(ipv4)))?;
            applied.ipv4 = Some(ipv4);
        }
        if let Some(ipv6) = settings.ipv6 {
            let request = ipv6_address_request(&self.handle, ifindex, &ipv6);
            request
                .execute()
                .await
                .map_err(failed(Operation::AddAddressV6(ipv6)))?;
            applied.ipv6 = Some(ipv6);
        }

        let set_up = self.handle.link().set(ifindex).up();
        set_up
            .execute()
            .await
            .map_err(failed(Operation::SetLinkUp))?;

        for route in &settings.routes_v4 {
            let request = route_v4_request(&self.handle, ifindex, route);
            request
                .execute()
                .await
                .map_err(failed(Operation::AddRouteV4(*route)))?;
            applied.routes_v4.push(*route);
            tracing::debug!(interface = %ifname, %route, "added IPv4 route");
        }
        for route in &settings.routes_v6 {
            let request = route_v6_request(&self.handle, ifindex, route);
            request
                .execute()
                .await
                .map_err(failed(Operation::AddRouteV6(*route)))?;
            applied.routes_v6.push(*route);
            tracing::debug!(interface = %ifname, %route, "added IPv6 route");
        }
        Ok(())
    }
}

impl Drop for NetworkConfigurator {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

impl AppliedSettings {
    /// Returns the index of the interface the settings were applied to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Returns the name of the interface the settings were applied to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Returns the IPv4 address that was added.
    pub fn ipv4(&self) -> Option<&Ipv4Settings> {
        self.ipv4.as_ref()
    }

    /// Returns the IPv6 address that was added.
    pub fn ipv6(&self) -> Option<&Ipv6Settings> {
        self.ipv6.as_ref()
    }

    /// Returns the IPv4 routes that were added.
    pub fn routes_v4(&self) -> &[RouteV4] {
        &self.routes_v4
    }

    /// Returns the IPv6 routes that were added.
    pub fn routes_v6(&self) -> &[RouteV6] {
        &self.routes_v6
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::SetMtu(mtu) => write!(f, "setting MTU {mtu}"),
            Operation::SetLinkUp => write!(f, "setting link up"),
            Operation::AddAddressV4(address) => write!(f, "adding address {address}"),
            Operation::AddAddressV6(address) => write!(f, "adding address {address}"),
            Operation::AddRouteV4(route) => write!(f, "adding route {route}"),
            Operation::AddRouteV6(route) => write!(f, "adding route {route}"),
            Operation::DeleteAddressV4(address) => write!(f, "deleting address {address}"),
            Operation::DeleteAddressV6(address) => write!(f, "deleting address {address}"),
            Operation::DeleteRouteV4(route) => write!(f, "deleting route {route}"),
            Operation::DeleteRouteV6(route) => write!(f, "deleting route {route}"),
        }
    }
}

/// Builds the request to add `ipv4`. Its message also serves to delete the address.
fn ipv4_address_request(handle: &Handle, ifindex: u32, ipv4: &Ipv4Settings) -> AddressAddRequest {
    let local = IpAddr::V4(ipv4.address);
    let mut request = handle.address().add(ifindex, local, ipv4.prefix_len);

    // On a point-to-point address IFA_LOCAL is this end and IFA_ADDRESS the remote end, as
    // `ip address add LOCAL peer PEER` sends it, and no broadcast address applies.
    if let Some(peer) = ipv4.peer {
        let attributes = &mut request.message_mut().attributes;
        attributes.retain(|attribute| matches!(attribute, AddressAttribute::Local(_)));
        attributes.push(AddressAttribute::Address(IpAddr::V4(peer)));
    }
    request
}

/// Builds the request to add `ipv6`. Its message also serves to delete the address.
fn ipv6_address_request(handle: &Handle, ifindex: u32, ipv6: &Ipv6Settings) -> AddressAddRequest {
    handle
        .address()
        .add(ifindex, IpAddr::V6(ipv6.address), ipv6.prefix_len)
}

/// Builds the request to add `route` through `ifindex`. Its message also serves to delete it.
fn route_v4_request(handle: &Handle, ifindex: u32, route: &RouteV4) -> RouteAddRequest<Ipv4Addr> {
    let mut request = handle
        .route()
        .add()
        .v4()
        .destination_prefix(route.destination, route.prefix_len)
        .output_interface(ifindex);

    // A route without a next hop reaches its destination directly on the link, which is the
    // scope `ip route add PREFIX dev DEV` gives it.
    request = match route.gateway {
        Some(gateway) => request.gateway(gateway),
        None => request.scope(RouteScope::Link),
    };
    if let Some(metric) = route.metric {
        request = request.priority(metric);
    }
    request
}

/// Builds the request to add `route` through `ifindex`. Its message also serves to delete it.
fn route_v6_request(handle: &Handle, ifindex: u32, route: &RouteV6) -> RouteAddRequest<Ipv6Addr> {
    let mut request = handle
        .route()
        .add()
        .v6()
        .destination_prefix(route.destination, route.prefix_len)
        .output_interface(ifindex);

    if let Some(gateway) = route.gateway {
        request = request.gateway(gateway);
    }
    if let Some(metric) = route.metric {
        request = request.priority(metric);
    }
    request
}

fn request_error(operation: Operation, ifname: String, error: rtnetlink::Error) -> NetlinkError {
    NetlinkError::Request {
        operation,
        ifname,
        os_error: io_error(error),
    }
}

/// Converts a kernel NACK to the matching OS error, and any other failure to an `Other` error.
fn io_error(error: rtnetlink::Error) -> io::Error {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// Returns whether a delete failed only because the entry or the whole interface is gone.
fn is_not_found(os_error: &io::Error) -> bool {
    matches!(
        os_error.raw_os_error(),
        Some(libc::ESRCH | libc::ENOENT | libc::EADDRNOTAVAIL | libc::ENODEV)
    )
}

fn log_removal(operation: Operation, ifname: &str, result: Result<(), rtnetlink::Error>) {
    let Err(error) = result else {
        tracing::debug!(interface = ifname, %operation, "deleted tunnel network setting");
        return;
    };

    let os_error = io_error(error);
    if is_not_found(&os_error) {
        tracing::debug!(interface = ifname, %operation, "tunnel network setting already gone");
    } else {
        tracing::warn!(
            interface = ifname,
            %operation,
            error = %os_error,
            "deleting tunnel network setting failed"
        );
    }
}

fn log_dns(ifname: &str, settings: &TunnelNetworkSettings) {
    if settings.dns_servers.is_empty() && settings.search_domains.is_empty() {
        return;
    }

    // NOTE: pushed DNS servers and search domains are only logged. Nothing configures the
    // system resolver yet, neither systemd-resolved over D-Bus nor resolvconf.
    tracing::info!(
        interface = ifname,
        dns_servers = ?settings.dns_servers,
        search_domains = ?settings.search_domains,
        "DNS settings pushed but not applied"
    );
}

fn permission_hint(os_error: &io::Error) -> &'static str {
    match os_error.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => "; run as root or grant CAP_NET_ADMIN",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_error_names_route_and_interface() {
        let route = RouteV4 {
            destination: Ipv4Addr::new(198, 19, 5, 0),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(198, 19, 0, 1)),
            metric: None,
        };
        let error = NetlinkError::Request {
            operation: Operation::AddRouteV4(route),
            ifname: "ferrovpn0".to_owned(),
            os_error: io::Error::from_raw_os_error(libc::EEXIST),
        };
        assert_eq!(
            error.to_string(),
            "adding route 198.19.5.0/24 via 198.19.0.1 on ferrovpn0 failed: File exists (os error 17)"
        );
    }

    #[test]
    fn permission_error_hints_capability() {
        let error = NetlinkError::Request {
            operation: Operation::SetMtu(1400),
            ifname: "ferrovpn0".to_owned(),
            os_error: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(
            error.to_string(),
            "setting MTU 1400 on ferrovpn0 failed: Operation not permitted (os error 1); \
             run as root or grant CAP_NET_ADMIN"
        );
    }

    #[test]
    fn not_found_errors_are_recognised() {
        let cases = [
            (libc::ESRCH, true),
            (libc::EADDRNOTAVAIL, true),
            (libc::ENODEV, true),
            (libc::EPERM, false),
            (libc::EEXIST, false),
        ];
        for (errno, expected) in cases {
            let os_error = io::Error::from_raw_os_error(errno);
            assert_eq!(is_not_found(&os_error), expected, "errno {errno}");
        }
    }
}
