//! ferrovpn tunnel provider: OpenVPN sessions on tokio.
