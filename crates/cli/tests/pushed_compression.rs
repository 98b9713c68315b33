//! A server that pushes compression ferrovpn refuses is a permanent mismatch: `connect`
//! must give up with exit code 5 instead of reconnecting forever.

mod support;

use std::time::Duration;

use ferrovpn_testbed::{OpenVpnServer, Pki, ServerConfig, Testbed};
use support::client::FerrovpnClient;

/// Exit code for "connection failed", from `ferrovpn --help`.
const CONNECTION_FAILED: i32 = 5;

#[test]
fn pushed_lz4_compression_exits_5() {
    let testbed = Testbed::new("pushlz4");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki)
        .extra_line("compress lz4-v2")
        .extra_line("push \"compress lz4-v2\"");
    let _server = OpenVpnServer::start(&testbed, &config);
    let profile = testbed.write_client_profile(&pki, &config, &[]);

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let status = client.wait_exit(Duration::from_secs(40));
    assert_eq!(
        status.code(),
        Some(CONNECTION_FAILED),
        "exit status; log:\n{}",
        client.log_tail()
    );
}
