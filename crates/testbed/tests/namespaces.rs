//! Test bed namespaces: the veth link, `Netns`, and cleanup on drop.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic;
use std::process::Command;
use std::time::Duration;

use ferrovpn_testbed::{ping, Netns, Testbed, CLIENT_LINK_ADDR, SERVER_LINK_ADDR};

fn listed_namespaces() -> String {
    let output = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("`ip netns list` must run");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_namespace_gone(name: &str) {
    assert!(!Netns::exists(name), "namespace {name} still mounted");
    let listed = listed_namespaces();
    assert!(
        !listed
            .lines()
            .any(|line| line.split_whitespace().next() == Some(name)),
        "namespace {name} still listed by `ip netns list`:\n{listed}"
    );
}

#[test]
fn veth_link_pings_server_side() {
    let testbed = Testbed::new("veth-ping");
    let result = ping(testbed.client_ns(), testbed.server_link_addr(), 3);
    assert_eq!(
        result,
        Ok(()),
        "198.18.0.1 must answer from the client namespace"
    );
}

#[test]
fn veth_link_pings_client_side() {
    let testbed = Testbed::new("veth-ping-back");
    let result = ping(testbed.server_ns(), CLIENT_LINK_ADDR, 3);
    assert_eq!(
        result,
        Ok(()),
        "198.18.0.2 must answer from the server namespace"
    );
}

#[test]
fn link_addresses_match_constants() {
    let testbed = Testbed::new("addresses");
    assert_eq!(testbed.server_link_addr(), SERVER_LINK_ADDR);
    assert_eq!(testbed.client_link_addr(), CLIENT_LINK_ADDR);
}

#[test]
fn interface_names_fit_ifnamsiz() {
    let testbed = Testbed::new("a-rather-long-test-name-for-links");
    for link in [testbed.server_link(), testbed.client_link()] {
        assert!(
            link.len() <= 15,
            "interface name {link:?} exceeds 15 characters"
        );
    }
}

#[test]
fn ping_rejects_zero_count() {
    let testbed = Testbed::new("ping-count");
    let result = ping(testbed.client_ns(), SERVER_LINK_ADDR, 0);
    assert!(result.is_err(), "a zero ping count must be rejected");
}

#[test]
fn ping_unreachable_address_fails() {
    let testbed = Testbed::new("ping-unreachable");
    // 198.18.0.3 is inside the link prefix but not assigned to any interface.
    let result = ping(testbed.client_ns(), [198, 18, 0, 3], 1);
    assert!(
        result.is_err(),
        "an unassigned link address must not answer"
    );
}

#[test]
fn netns_run_binds_link_address() {
    let testbed = Testbed::new("netns-bind");
    let bound = Netns::run(testbed.server_ns(), || {
        TcpListener::bind(SocketAddr::from((SERVER_LINK_ADDR, 0))).map(drop)
    });
    assert!(
        bound.is_ok(),
        "198.18.0.1 must be bindable inside the server namespace: {bound:?}"
    );
}

#[test]
fn netns_run_keeps_namespaces_apart() {
    let testbed = Testbed::new("netns-apart");
    let bound = Netns::run(testbed.client_ns(), || {
        TcpListener::bind(SocketAddr::from((SERVER_LINK_ADDR, 0))).map(drop)
    });
    assert!(
        bound.is_err(),
        "198.18.0.1 must not be bindable inside the client namespace"
    );
}

#[test]
fn netns_tcp_crosses_veth_link() {
    let testbed = Testbed::new("netns-tcp");
    let listener = Netns::run(testbed.server_ns(), || {
        TcpListener::bind(SocketAddr::from((SERVER_LINK_ADDR, 0))).expect("bind in server ns")
    });
    let server_addr = listener.local_addr().expect("listener address");

    let server = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().expect("accept");
        let mut received = [0u8; 5];
        stream.read_exact(&mut received).expect("read");
        (peer.ip(), received)
    });

    Netns::run(testbed.client_ns(), || {
        let mut stream =
            TcpStream::connect_timeout(&server_addr, Duration::from_secs(5)).expect("connect");
        stream.write_all(b"hello").expect("write");
    });

    let (peer_ip, received) = server.join().expect("server thread");
    assert_eq!(
        peer_ip, CLIENT_LINK_ADDR,
        "connection must come from the client end"
    );
    assert_eq!(&received, b"hello", "payload must cross the link unchanged");
}

#[test]
fn netns_run_propagates_panic() {
    let testbed = Testbed::new("netns-panic");
    let result = panic::catch_unwind(|| Netns::run(testbed.client_ns(), || panic!("inside")));
    assert!(
        result.is_err(),
        "a panic inside the namespace must reach the caller"
    );
}

#[test]
fn testbeds_get_unique_namespaces() {
    let first = Testbed::new("unique");
    let second = Testbed::new("unique");
    assert_ne!(first.server_ns(), second.server_ns());
    assert_ne!(first.client_ns(), second.client_ns());
    assert_ne!(first.server_ns(), first.client_ns());
}

#[test]
fn namespace_names_contain_name_and_pid() {
    let testbed = Testbed::new("Named Test");
    let pid = std::process::id().to_string();
    for ns in [testbed.server_ns(), testbed.client_ns()] {
        assert!(ns.contains("namedtest"), "{ns} must contain the test name");
        assert!(ns.contains(&pid), "{ns} must contain the process id {pid}");
    }
}

#[test]
fn drop_deletes_namespaces() {
    let testbed = Testbed::new("drop");
    let names = [
        testbed.server_ns().to_owned(),
        testbed.client_ns().to_owned(),
    ];
    let dir = testbed.dir().to_owned();
    assert!(
        dir.is_dir(),
        "temporary directory must exist while the test bed lives"
    );

    drop(testbed);

    for name in &names {
        assert_namespace_gone(name);
    }
    assert!(!dir.exists(), "temporary directory {dir:?} must be deleted");
}

#[test]
fn drop_during_panic_deletes_namespaces() {
    let mut names = Vec::new();
    let result = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let testbed = Testbed::new("drop-panic");
        names.push(testbed.server_ns().to_owned());
        names.push(testbed.client_ns().to_owned());
        panic!("test failed while the test bed was alive");
    }));

    assert!(result.is_err(), "the closure must have panicked");
    assert_eq!(
        names.len(),
        2,
        "both namespace names must have been recorded"
    );
    for name in &names {
        assert_namespace_gone(name);
    }
}

#[test]
fn new_deletes_stale_namespaces() {
    let mut exited = Command::new("true").spawn().expect("spawn `true`");
    exited.wait().expect("wait for `true`");
    let stale = format!("fv-stale-{}-1-srv", exited.id());
    let added = Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .expect("run `ip netns add`");
    assert!(added.success(), "creating {stale} must succeed");

    let _testbed = Testbed::new("stale-sweep");

    assert_namespace_gone(&stale);
}

#[test]
fn netns_spawn_runs_inside_namespace() {
    let testbed = Testbed::new("netns-spawn");
    let handle = Netns::spawn(testbed.server_ns(), || {
        TcpListener::bind(SocketAddr::from((SERVER_LINK_ADDR, 0))).map(drop)
    });
    let bound = handle.join().expect("spawned thread must not panic");
    assert!(bound.is_ok(), "198.18.0.1 must be bindable: {bound:?}");
}
