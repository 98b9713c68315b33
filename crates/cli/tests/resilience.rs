//! Renegotiation, server restarts, lossy links and malformed packets, against a real OpenVPN 2.6 server.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferrovpn_testbed::{ping, transfer_check, Netns, OpenVpnServer, Pki, ServerConfig, Testbed};
use support::client::FerrovpnClient;
use support::relay::Relay;

/// Bytes moved through a TCP connection inside the tunnel in each test.
const TRANSFER_BYTES: usize = 10 * 1024 * 1024;

/// Time allowed from start to a connected tunnel on a clean link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(40);

/// Port of the test-controlled relay in the server namespace.
const RELAY_PORT: u16 = 1195;

fn check_traffic(testbed: &Testbed, config: &ServerConfig, client: &FerrovpnClient, what: &str) {
    ping(testbed.client_ns(), config.server_tunnel_addr(), 3).unwrap_or_else(|error| {
        panic!(
            "{what}: ping failed: {error}\nclient log:\n{}",
            client.log_tail()
        )
    });
    let report = transfer_check(testbed, config.server_tunnel_addr(), TRANSFER_BYTES)
        .unwrap_or_else(|error| {
            panic!(
                "{what}: transfer failed: {error}\nclient log:\n{}",
                client.log_tail()
            )
        });
    assert_eq!(report.bytes, TRANSFER_BYTES, "{what}: bytes transferred");
}

/// Writes a profile whose remote is the relay instead of the server.
fn profile_through_relay(
    testbed: &Testbed,
    pki: &Pki,
    config: &ServerConfig,
) -> std::path::PathBuf {
    let text = testbed.client_profile(pki, config, &[]).replace(
        "remote 198.18.0.1 1194 udp",
        &format!("remote 198.18.0.1 {RELAY_PORT} udp"),
    );
    assert!(
        text.contains(&format!(" {RELAY_PORT} ")),
        "profile remote not rewritten:\n{text}"
    );
    let path = testbed.unique_path("relay", "ovpn");
    std::fs::write(&path, text).expect("write profile");
    path
}

fn start_relay(testbed: &Testbed) -> Relay {
    let listen: SocketAddr = format!("198.18.0.1:{RELAY_PORT}").parse().unwrap();
    let server: SocketAddr = "198.18.0.1:1194".parse().unwrap();
    Netns::run(testbed.server_ns(), move || Relay::start(listen, server))
}

#[test]
fn reneg_sec_10_keeps_traffic_flowing() {
    let testbed = Testbed::new("reneg");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().reneg_sec(10);
    let server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", CONNECT_TIMEOUT);
    check_traffic(&testbed, &config, &client, "before renegotiation");

    // Ping through at least two renegotiations; each ping must get through.
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_secs(26) && pings < 60 {
        ping(testbed.client_ns(), config.server_tunnel_addr(), 1).unwrap_or_else(|error| {
            panic!(
                "ping {pings} at {:?} failed: {error}\nclient log:\n{}\nserver log:\n{}",
                start.elapsed(),
                client.log_tail(),
                server.log_tail()
            )
        });
        pings += 1;
        std::thread::sleep(Duration::from_millis(400));
    }

    let renegotiations = client.count("renegotiated");
    assert!(
        renegotiations >= 2,
        "renegotiations seen: {renegotiations}; events: {:?}",
        client.seen
    );
    check_traffic(&testbed, &config, &client, "after renegotiation");
    assert_eq!(
        client.count("reconnecting"),
        0,
        "the session reconnected instead of renegotiating"
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn client_initiated_renegotiation() {
    let testbed = Testbed::new("clireneg");
    let pki = Pki::generate(testbed.dir());
    // The server never starts a renegotiation itself, so every new key comes from the client.
    let config = ServerConfig::new(&pki).tls_auth().reneg_sec(0);
    let _server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &["reneg-sec 6"]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", CONNECT_TIMEOUT);
    client.wait_event("renegotiated", Duration::from_secs(30));
    // The new key takes over sending when the server first uses it; give it time.
    std::thread::sleep(Duration::from_secs(3));
    check_traffic(
        &testbed,
        &config,
        &client,
        "after a client-initiated renegotiation",
    );
    assert_eq!(
        client.count("reconnecting"),
        0,
        "the session reconnected instead of renegotiating"
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn server_restart_reconnects_by_itself() {
    let testbed = Testbed::new("restart");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().keepalive(2, 10);
    let mut server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", CONNECT_TIMEOUT);
    check_traffic(&testbed, &config, &client, "before the restart");

    server.stop();
    std::thread::sleep(Duration::from_secs(2));
    server.restart();

    client.wait_event("reconnecting", Duration::from_secs(30));
    client.wait_event("connected", Duration::from_secs(60));
    check_traffic(&testbed, &config, &client, "after the restart");
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn lossy_link_still_connects() {
    let testbed = Testbed::new("lossy");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();
    let _server = OpenVpnServer::start(&testbed, &config);
    let relay = start_relay(&testbed);
    // Drop every fourth packet in each direction while the handshake runs.
    relay.drop_one_in.store(4, Ordering::Relaxed);
    let profile = profile_through_relay(&testbed, &pki, &config);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", Duration::from_secs(90));
    relay.drop_one_in.store(0, Ordering::Relaxed);
    check_traffic(&testbed, &config, &client, "after a lossy handshake");
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn malformed_packets_do_not_break_session() {
    let testbed = Testbed::new("garbage");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();
    let server = OpenVpnServer::start(&testbed, &config);
    let relay = start_relay(&testbed);
    let profile = profile_through_relay(&testbed, &pki, &config);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("connected", CONNECT_TIMEOUT);

    // Deterministic pseudo-random bytes, so a failure can be replayed.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut sent = 0;
    for round in 0..400 {
        let len = match round % 5 {
            0 => (next() % 4) as usize,        // truncated headers
            1 => 60_000,                       // oversized
            _ => 1 + (next() % 1500) as usize, // garbage of ordinary sizes
        };
        let mut packet: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(first) = packet.first_mut() {
            // Cycle through every opcode with key ids 0..7, valid and invalid.
            *first = (round % 256) as u8;
        }
        if relay.inject(&packet) {
            sent += 1;
        }
        if round % 50 == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(sent > 300, "only {sent} malformed packets were injected");

    check_traffic(&testbed, &config, &client, "after malformed packets");
    assert_eq!(
        client.count("reconnecting"),
        0,
        "malformed packets tore the session down; events: {:?}\nserver log:\n{}",
        client.seen,
        server.log_tail()
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}
