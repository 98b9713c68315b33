//! A server restart while a `CR_TEXT` request waits for its answer. The server's `RESTART`
//! cancels the request and the reconnect raises a new one. The next line typed must answer
//! the new request, not the cancelled one.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{
    totp_at, AuthPolicy, Authenticator, Credentials, OpenVpnServer, Pki, ServerConfig, Testbed,
};
use support::client::FerrovpnClient;

const USERNAME: &str = "alice";
const PASSWORD: &str = "pw";
const SECRET: &[u8] = b"12345678901234567890";

#[test]
fn restart_while_pending_one_line_answers() {
    let testbed = Testbed::new("cancelprompt");
    let pki = Pki::generate(testbed.dir());
    // explicit-exit-notify makes the stopping server send RESTART to its clients.
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .management_client_auth()
        .extra_line("explicit-exit-notify 1");
    let mut server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, AuthPolicy::CrText);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let text = testbed.client_profile_with_credentials(&pki, &config, Some(&credentials), &[]);
    let profile = testbed.unique_path("cancelprompt", "ovpn");
    std::fs::write(&profile, text).expect("write the profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    let first = client.wait_event("auth_request", Duration::from_secs(30));
    server.restart();
    let closed = client.wait_event("auth_request_closed", Duration::from_secs(30));
    assert_eq!(closed["id"], first["id"], "closed request: {closed}");
    client.wait_event("auth_request", Duration::from_secs(30));

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client.send_line(&totp_at(SECRET, now));
    // Panics with the log when the one code line does not connect.
    client.wait_event("connected", Duration::from_secs(20));
}
