//! `ferrovpn connect` against a real OpenVPN 2.6 server in network namespaces.

mod support;

use std::time::Duration;

use ferrovpn_testbed::{ping, transfer_check, OpenVpnServer, Pki, Proto, ServerConfig, Testbed};
use support::client::{ferrovpn_devices, FerrovpnClient};

/// Bytes moved through a TCP connection inside the tunnel in each test.
const TRANSFER_BYTES: usize = 10 * 1024 * 1024;

/// Time allowed from start to a connected tunnel.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(40);

/// Connects, checks ping and a 10 MB transfer, disconnects and checks the cleanup.
fn connect_and_carry_traffic(name: &str, config: impl FnOnce(ServerConfig) -> ServerConfig, expected_cipher: &str) {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = config(ServerConfig::new(&pki));
    let server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let connected = client.wait_event("connected", CONNECT_TIMEOUT);
    assert_eq!(connected["cipher"], expected_cipher, "connected event: {connected}");

    ping(testbed.client_ns(), config.server_tunnel_addr(), 3)
        .unwrap_or_else(|error| panic!("ping failed: {error}\nclient log:\n{}\nserver log:\n{}", client.log_tail(), server.log_tail()));
    let report = transfer_check(&testbed, config.server_tunnel_addr(), TRANSFER_BYTES)
        .unwrap_or_else(|error| panic!("transfer failed: {error}\nclient log:\n{}", client.log_tail()));
    assert_eq!(report.bytes, TRANSFER_BYTES, "bytes transferred");
    eprintln!("{name}: {} bytes in {:?} ({:.0} Mbit/s)", report.bytes, report.elapsed, report.mbit_per_sec());

    let status = client.stop();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM; log:\n{}", client.log_tail());
    assert!(ferrovpn_devices(testbed.client_ns()).is_empty(), "TUN device left behind");
}

#[test]
fn udp_tls_crypt_aes_256_gcm() {
    connect_and_carry_traffic(
        "udpcrypt",
        |config| config.tls_crypt().data_ciphers(&["AES-256-GCM"]),
        "AES-256-GCM",
    );
}

#[test]
fn tcp_tls_auth_aes_128_gcm() {
    connect_and_carry_traffic(
        "tcpauth",
        |config| config.proto(Proto::Tcp).tls_auth().data_ciphers(&["AES-128-GCM"]),
        "AES-128-GCM",
    );
}

#[test]
fn udp_plain_chacha20_poly1305() {
    connect_and_carry_traffic(
        "udpplain",
        |config| config.data_ciphers(&["CHACHA20-POLY1305"]),
        "CHACHA20-POLY1305",
    );
}
