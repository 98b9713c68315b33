//! Checks that the machine can run the integration tests: root, iproute2, openvpn, TUN.

use std::path::Path;

use crate::command;

/// Panics unless the process runs as root and `ip`, `openvpn` and `/dev/net/tun` are usable.
///
/// Integration tests call this (through [`crate::Testbed::new`]) so that a machine that
/// cannot run them fails loudly instead of skipping the tests.
pub fn require_root_and_tools() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!(
            "integration tests need root, iproute2 and openvpn; run scripts/test \
             (the effective uid is {euid}, not 0)"
        );
    }

    if let Err(error) = command::run("ip", &["-V"]) {
        panic!(
            "integration tests need root, iproute2 and openvpn; run scripts/test, \
             which installs iproute2 ({error})"
        );
    }

    let openvpn_version = command::run("openvpn", &["--version"]);
    let openvpn_found = match &openvpn_version {
        Ok(banner) => banner.starts_with("OpenVPN "),
        Err(_) => false,
    };
    if !openvpn_found {
        panic!(
            "integration tests need root, iproute2 and openvpn; run scripts/test, \
             which installs openvpn (`openvpn --version` returned {openvpn_version:?})"
        );
    }

    if !Path::new("/dev/net/tun").exists() {
        panic!(
            "integration tests need /dev/net/tun for the openvpn server; \
             load the tun kernel module (modprobe tun) or run scripts/test"
        );
    }
}
