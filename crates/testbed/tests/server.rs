//! A real OpenVPN server in the test bed, checked with OpenVPN's own client.

use std::panic;
use std::path::Path;
use std::time::Duration;

use ferrovpn_testbed::{
    ping, transfer_check, Netns, OpenVpnClient, OpenVpnServer, Pki, Proto, ServerConfig, Testbed,
    Topology, INITIALIZATION_COMPLETED, SERVER_TUNNEL_ADDR, SERVER_TUNNEL_ADDR_V6,
};

/// Payload size of the transfer checks, large enough to span many tunnel packets.
const TRANSFER_BYTES: usize = 1 << 20;

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_initialized(server: &OpenVpnServer) {
    let log = server.current_run_log();
    assert!(
        log.contains(INITIALIZATION_COMPLETED),
        "server log lacks {INITIALIZATION_COMPLETED:?}:\n{}",
        server.log_tail()
    );
}

fn assert_config_has_line(server: &OpenVpnServer, expected: &str) {
    let config = std::fs::read_to_string(server.config_path()).expect("server config readable");
    assert!(
        config.lines().any(|line| line.starts_with(expected)),
        "server config lacks a line starting with {expected:?}:\n{config}"
    );
}

#[test]
fn udp_tls_crypt_server_initializes() {
    let testbed = Testbed::new("udp-tls-crypt");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();

    let server = OpenVpnServer::start(&testbed, &config);

    assert_initialized(&server);
    assert_config_has_line(&server, "tls-crypt ");
    assert_config_has_line(&server, "proto udp4");
    assert!(server.pid().is_some(), "a started server must have a PID");
}

#[test]
fn tcp_tls_auth_server_initializes() {
    let testbed = Testbed::new("tcp-tls-auth");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).proto(Proto::Tcp).tls_auth();

    let server = OpenVpnServer::start(&testbed, &config);

    assert_initialized(&server);
    assert_config_has_line(&server, "tls-auth ");
    assert_config_has_line(&server, "auth SHA256");
    assert_config_has_line(&server, "proto tcp4-server");
}

#[test]
fn udp_tls_crypt_reference_client_transfers() {
    let testbed = Testbed::new("udp-transfer");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();
    let _server = OpenVpnServer::start(&testbed, &config);

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let pinged = ping(testbed.client_ns(), SERVER_TUNNEL_ADDR, 3);
    assert_eq!(pinged, Ok(()), "198.19.0.1 must answer through the tunnel");

    let report = transfer_check(&testbed, SERVER_TUNNEL_ADDR, TRANSFER_BYTES)
        .expect("transfer through the UDP tunnel");
    assert_eq!(report.bytes, TRANSFER_BYTES, "report must count every byte");
}

#[test]
fn tcp_tls_auth_credentials_reference_client_transfers() {
    let testbed = Testbed::new("tcp-transfer");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki)
        .proto(Proto::Tcp)
        .tls_auth_with_digest("SHA512")
        .credentials("alice", "correct horse")
        .auth_gen_token(0)
        .data_ciphers(&["CHACHA20-POLY1305"]);
    let server = OpenVpnServer::start(&testbed, &config);

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let report = transfer_check(&testbed, SERVER_TUNNEL_ADDR, TRANSFER_BYTES)
        .expect("transfer through the TCP tunnel");
    assert_eq!(report.bytes, TRANSFER_BYTES, "report must count every byte");

    let cipher = server.wait_for_log("cipher 'CHACHA20-POLY1305'", Duration::from_secs(5));
    assert_eq!(cipher, Ok(()), "data channel must use CHACHA20-POLY1305");
    let token = server.wait_for_log("auth-token", Duration::from_secs(5));
    assert_eq!(token, Ok(()), "server must push an auth-token");
}

#[test]
fn wrong_password_is_rejected() {
    let testbed = Testbed::new("wrong-password");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .credentials("alice", "correct horse");
    let server = OpenVpnServer::start(&testbed, &config);

    let wrong = ferrovpn_testbed::Credentials {
        username: "alice".to_owned(),
        password: "wrong horse".to_owned(),
    };
    let profile_text = testbed.client_profile_with_credentials(&pki, &config, Some(&wrong), &[]);
    let profile = testbed.unique_path("wrong-password", "ovpn");
    std::fs::write(&profile, profile_text).expect("profile written");

    let started = panic::catch_unwind(|| OpenVpnClient::start(&testbed, &profile));
    assert!(
        started.is_err(),
        "a client with a wrong password must not connect"
    );

    let rejected = server.wait_for_log("verification failed", Duration::from_secs(5));
    assert_eq!(rejected, Ok(()), "server must log the failed verification");
}

#[test]
fn rsa_pki_reference_client_connects() {
    let testbed = Testbed::new("rsa");
    let pki = Pki::generate_rsa(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();
    let _server = OpenVpnServer::start(&testbed, &config);

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let pinged = ping(testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(pinged, Ok(()), "198.19.0.1 must answer through the tunnel");
}

#[test]
fn net30_ipv6_reference_client_transfers() {
    let testbed = Testbed::new("net30-ipv6");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .topology(Topology::Net30)
        .server_ipv6();
    let _server = OpenVpnServer::start(&testbed, &config);

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let pinged = ping(testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(
        pinged,
        Ok(()),
        "198.19.0.1 must answer through the net30 tunnel"
    );

    let report = transfer_check(&testbed, SERVER_TUNNEL_ADDR_V6, TRANSFER_BYTES)
        .expect("transfer through the tunnel over IPv6");
    assert_eq!(report.bytes, TRANSFER_BYTES, "report must count every byte");
}

#[test]
fn management_status_lists_client() {
    let testbed = Testbed::new("management");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management();
    let server = OpenVpnServer::start(&testbed, &config);

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let status = server
        .management_command("status")
        .expect("status response");
    assert!(
        status.contains("ferrovpn-test-client"),
        "status must list the client certificate's CN:\n{status}"
    );
}

#[test]
fn management_command_without_interface_fails() {
    let testbed = Testbed::new("no-management");
    let pki = Pki::generate(testbed.dir());
    let server = OpenVpnServer::start(&testbed, &ServerConfig::new(&pki));
    assert!(
        server.management_command("status").is_err(),
        "a server without management interface must not answer"
    );
}

#[test]
fn restart_runs_new_process() {
    let testbed = Testbed::new("restart");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management();
    let mut server = OpenVpnServer::start(&testbed, &config);
    let first_pid = server.pid().expect("first PID");

    server.restart();

    let second_pid = server.pid().expect("second PID");
    assert_ne!(first_pid, second_pid, "restart must start a new process");
    assert!(
        !process_exists(first_pid),
        "old process {first_pid} must be gone"
    );
    assert_initialized(&server);
    let status = server.management_command("status");
    assert!(
        status.is_ok(),
        "management socket must work after restart: {status:?}"
    );
}

#[test]
fn restarted_server_accepts_client_again() {
    let testbed = Testbed::new("restart-client");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).proto(Proto::Tcp).tls_crypt();
    let mut server = OpenVpnServer::start(&testbed, &config);
    server.restart();

    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let _client = OpenVpnClient::start(&testbed, &profile);

    let pinged = ping(testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(
        pinged,
        Ok(()),
        "198.19.0.1 must answer after a server restart"
    );
}

#[test]
fn stop_ends_process() {
    let testbed = Testbed::new("stop");
    let pki = Pki::generate(testbed.dir());
    let mut server = OpenVpnServer::start(&testbed, &ServerConfig::new(&pki));
    let pid = server.pid().expect("PID");

    server.stop();

    assert_eq!(server.pid(), None, "a stopped server has no PID");
    assert!(
        !process_exists(pid),
        "process {pid} must be gone after stop"
    );
}

#[test]
fn drop_leaves_no_process_or_namespace() {
    let testbed = Testbed::new("server-drop");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt();
    let server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);
    let client = OpenVpnClient::start(&testbed, &profile);

    let pids = [
        server.pid().expect("server PID"),
        client.pid().expect("client PID"),
    ];
    let namespaces = [
        testbed.server_ns().to_owned(),
        testbed.client_ns().to_owned(),
    ];
    let dir = testbed.dir().to_owned();

    // The test bed goes first: the servers keep its namespaces until they are dropped.
    drop(testbed);
    for ns in &namespaces {
        assert!(Netns::exists(ns), "{ns} must live while a process uses it");
    }

    drop(client);
    drop(server);

    for pid in pids {
        assert!(
            !process_exists(pid),
            "process {pid} must be gone after drop"
        );
    }
    for ns in &namespaces {
        assert!(!Netns::exists(ns), "{ns} must be deleted after drop");
    }
    assert!(!dir.exists(), "temporary directory {dir:?} must be deleted");
}

#[test]
fn drop_during_panic_stops_server() {
    let mut recorded = None;
    let result = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let testbed = Testbed::new("server-panic");
        let pki = Pki::generate(testbed.dir());
        let server = OpenVpnServer::start(&testbed, &ServerConfig::new(&pki));
        recorded = Some((server.pid().expect("PID"), testbed.server_ns().to_owned()));
        panic!("test failed while the server was running");
    }));

    assert!(result.is_err(), "the closure must have panicked");
    let (pid, ns) = recorded.expect("PID and namespace recorded before the panic");
    assert!(!process_exists(pid), "server process {pid} must be gone");
    assert!(!Netns::exists(&ns), "{ns} must be deleted");
}

#[test]
fn invalid_directive_panics_with_log() {
    let testbed = Testbed::new("bad-config");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).extra_line("no-such-directive 1");

    let started = panic::catch_unwind(|| OpenVpnServer::start(&testbed, &config));
    let payload = started.expect_err("a bad configuration must make start panic");

    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains("no-such-directive"),
        "panic message must show openvpn's complaint, got:\n{message}"
    );
}
