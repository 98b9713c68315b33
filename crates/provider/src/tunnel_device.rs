//! The TUN device of a session and the network settings applied to it.
//!
//! The device is created when the first connection comes up and kept across
//! reconnects, as OpenVPN's `persist-tun` does, so routes through it stay in
//! place while the provider reconnects. Settings are re-applied only when the
//! server pushes different ones.

use std::io;
use std::net::IpAddr;

use ferrovpn_protocol::push_reply::PushedOptions;

use crate::netlink::{AppliedSettings, NetworkConfigurator};
use crate::network_settings::TunnelNetworkSettings;
use crate::pushed_settings;
use crate::tun::Tun;

/// A session's TUN device, created on first use.
#[derive(Default)]
pub struct TunnelDevice {
    /// The device, once created.
    tun: Option<Tun>,
    /// Netlink handle, once opened.
    configurator: Option<NetworkConfigurator>,
    /// What was applied, to compare on reconnect and to remove at the end.
    applied: Option<(TunnelNetworkSettings, AppliedSettings)>,
    /// `tun-mtu` from the profile, used when the server pushes none.
    default_mtu: u32,
    /// `route-nopull`: ignore pushed routes.
    route_nopull: bool,
}

impl TunnelDevice {
    /// Creates an empty device holder.
    pub fn new(default_mtu: u32, route_nopull: bool) -> TunnelDevice {
        TunnelDevice {
            default_mtu,
            route_nopull,
            ..TunnelDevice::default()
        }
    }

    /// Name of the device, once created.
    pub fn name(&self) -> Option<String> {
        self.tun.as_ref().map(|tun| tun.name().to_owned())
    }

    /// True when the device exists and carries settings.
    pub fn is_up(&self) -> bool {
        self.tun.is_some() && self.applied.is_some()
    }

    /// Creates the device if needed and applies the pushed settings; returns the addresses.
    pub async fn configure(&mut self, options: &PushedOptions) -> Result<Vec<IpAddr>, String> {
        let settings =
            pushed_settings::network_settings(options, self.default_mtu, self.route_nopull)
                .map_err(|error| error.to_string())?;

        if self.tun.is_none() {
            let tun = Tun::create(None).map_err(|error| error.to_string())?;
            tracing::info!(device = tun.name(), "created tunnel device");
            self.tun = Some(tun);
        }
        if self.configurator.is_none() {
            self.configurator =
                Some(NetworkConfigurator::new().map_err(|error| error.to_string())?);
        }

        let addresses = settings.addresses();
        if let Some((previous, _)) = &self.applied {
            if *previous == settings {
                tracing::debug!("pushed settings unchanged; keeping the device as it is");
                return Ok(addresses);
            }
        }
        self.remove_settings().await;

        let (Some(tun), Some(configurator)) = (self.tun.as_ref(), self.configurator.as_mut())
        else {
            return Err("tunnel device is missing".to_owned());
        };
        let applied = configurator
            .apply(tun, &settings)
            .await
            .map_err(|error| error.to_string())?;
        tracing::info!(device = tun.name(), addresses = ?addresses, mtu = settings.mtu, routes = settings.routes_v4.len() + settings.routes_v6.len(), "applied tunnel network settings");
        self.applied = Some((settings, applied));
        Ok(addresses)
    }

    /// Writes one IP packet to the device.
    pub async fn send(&self, packet: &[u8]) -> io::Result<usize> {
        match &self.tun {
            Some(tun) => tun.send(packet).await,
            None => Ok(0),
        }
    }

    /// Reads one IP packet from the device; waits forever when there is no device.
    pub async fn recv(&self, buffer: &mut [u8]) -> io::Result<usize> {
        match &self.tun {
            Some(tun) => tun.recv(buffer).await,
            None => std::future::pending().await,
        }
    }

    /// Removes every address and route added, then the device itself.
    pub async fn teardown(&mut self) {
        self.remove_settings().await;
        if let Some(tun) = self.tun.take() {
            tracing::info!(device = tun.name(), "removing tunnel device");
        }
    }

    async fn remove_settings(&mut self) {
        if let (Some((_, applied)), Some(configurator)) =
            (self.applied.take(), self.configurator.as_mut())
        {
            configurator.remove(applied).await;
        }
    }
}
