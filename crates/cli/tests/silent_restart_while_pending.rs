//! A server that restarts without notice while a `CR_TEXT` request is pending. The old
//! session is gone, so the server neither acknowledges nor replies to anything. The client must
//! notice the silence within `hand-window`, not only when the server's `AUTH_PENDING`
//! timeout (120 s) ends, and ask again on a new connection.

mod support;

use std::time::{Duration, Instant};

use ferrovpn_testbed::{
    AuthPolicy, Authenticator, Credentials, OpenVpnServer, Pki, ServerConfig, Testbed,
};
use support::client::FerrovpnClient;

const USERNAME: &str = "alice";
const PASSWORD: &str = "pw";
const SECRET: &[u8] = b"12345678901234567890";

/// `hand-window` of the client profile, in seconds.
const HAND_WINDOW_SECONDS: u64 = 10;

#[test]
fn silent_restart_noticed_within_hand_window() {
    let testbed = Testbed::new("silentrestart");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management_client_auth();
    let mut server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, AuthPolicy::CrText);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let hand_window = format!("hand-window {HAND_WINDOW_SECONDS}");
    let text =
        testbed.client_profile_with_credentials(&pki, &config, Some(&credentials), &[&hand_window]);
    let profile = testbed.unique_path("silentrestart", "ovpn");
    std::fs::write(&profile, text).expect("write the profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("auth_request", Duration::from_secs(30));
    server.restart();
    let restarted = Instant::now();
    // Panics with the log when no new request comes within the limit.
    client.wait_event("auth_request", Duration::from_secs(3 * HAND_WINDOW_SECONDS));

    assert!(
        restarted.elapsed() < Duration::from_secs(3 * HAND_WINDOW_SECONDS),
        "new request after {:?}",
        restarted.elapsed()
    );
}
