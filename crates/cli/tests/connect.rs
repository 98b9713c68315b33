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
fn connect_and_carry_traffic(
    name: &str,
    config: impl FnOnce(ServerConfig) -> ServerConfig,
    expected_cipher: &str,
) {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = config(ServerConfig::new(&pki));
    let server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let connected = client.wait_event("connected", CONNECT_TIMEOUT);
    assert_eq!(
        connected["cipher"], expected_cipher,
        "connected event: {connected}"
    );

    ping(testbed.client_ns(), config.server_tunnel_addr(), 3).unwrap_or_else(|error| {
        panic!(
            "ping failed: {error}\nclient log:\n{}\nserver log:\n{}",
            client.log_tail(),
            server.log_tail()
        )
    });
    let report = transfer_check(&testbed, config.server_tunnel_addr(), TRANSFER_BYTES)
        .unwrap_or_else(|error| {
            panic!(
                "transfer failed: {error}\nclient log:\n{}",
                client.log_tail()
            )
        });
    assert_eq!(report.bytes, TRANSFER_BYTES, "bytes transferred");
    eprintln!(
        "{name}: {} bytes in {:?} ({:.0} Mbit/s)",
        report.bytes,
        report.elapsed,
        report.mbit_per_sec()
    );

    let status = client.stop();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM; log:\n{}",
        client.log_tail()
    );
    assert!(
        ferrovpn_devices(testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
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
        |config| {
            config
                .proto(Proto::Tcp)
                .tls_auth()
                .data_ciphers(&["AES-128-GCM"])
        },
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

#[test]
fn rsa_pki_net30_with_password() {
    let testbed = Testbed::new("rsanet30");
    let pki = Pki::generate_rsa(testbed.dir());
    let config = ServerConfig::new(&pki)
        .tls_auth()
        .topology(ferrovpn_testbed::Topology::Net30)
        .credentials("alice", "correct horse \"battery\" staple")
        .auth_gen_token(0);
    let _server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", CONNECT_TIMEOUT);
    ping(testbed.client_ns(), config.server_tunnel_addr(), 3)
        .unwrap_or_else(|error| panic!("ping failed: {error}\nclient log:\n{}", client.log_tail()));
    let report = transfer_check(&testbed, config.server_tunnel_addr(), TRANSFER_BYTES)
        .unwrap_or_else(|error| {
            panic!(
                "transfer failed: {error}\nclient log:\n{}",
                client.log_tail()
            )
        });
    assert_eq!(report.bytes, TRANSFER_BYTES, "bytes transferred");

    let status = client.stop();
    assert_eq!(status.code(), Some(0), "exit status");
    let log = client.log();
    assert!(
        !log.contains("battery"),
        "the password appears in the client log"
    );
    assert!(
        !log.contains("SESS_ID_AT_"),
        "the auth-token appears in the client log"
    );
}

#[test]
fn wrong_password_exits_with_auth_failed() {
    let testbed = Testbed::new("wrongpw");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .credentials("alice", "right-password");
    let _server = OpenVpnServer::start(&testbed, &config);
    let wrong = ferrovpn_testbed::Credentials {
        username: "alice".to_owned(),
        password: "wrong-password".to_owned(),
    };
    let text = testbed.client_profile_with_credentials(&pki, &config, Some(&wrong), &[]);
    let profile = testbed.unique_path("wrongpw", "ovpn");
    std::fs::write(&profile, text).expect("write profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let disconnected = client.wait_event("disconnected", CONNECT_TIMEOUT);
    let reason = disconnected["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("authentication failed"),
        "disconnect reason: {reason}"
    );
    let status = client.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(4), "exit status for AUTH_FAILED");
    assert!(
        ferrovpn_devices(testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
}

#[test]
fn wrong_ca_fails_tls_without_retrying() {
    let testbed = Testbed::new("wrongca");
    let pki = Pki::generate(testbed.dir());
    let other_dir = testbed.dir().join("other");
    std::fs::create_dir_all(&other_dir).expect("create a directory for the second PKI");
    let other = Pki::generate(&other_dir);
    let config = ServerConfig::new(&pki).tls_crypt();
    let _server = OpenVpnServer::start(&testbed, &config);
    let text = testbed
        .client_profile(&pki, &config, &[])
        .replace(pki.ca_cert_pem.trim(), other.ca_cert_pem.trim());
    let profile = testbed.unique_path("wrongca", "ovpn");
    std::fs::write(&profile, text).expect("write profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let disconnected = client.wait_event("disconnected", CONNECT_TIMEOUT);
    let reason = disconnected["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("TLS"), "disconnect reason: {reason}");
    assert_eq!(
        client.wait_exit(Duration::from_secs(10)).code(),
        Some(5),
        "exit status"
    );
}
