//! A `CR_TEXT` answer longer than a `CR_RESPONSE` message may carry: at most 1524 bytes of
//! text, so that the base64 message fits the 2048 bytes OpenVPN 2.6 reads at once
//! (`TLS_CHANNEL_BUF_SIZE` in `common.h`). The client must reject it locally and keep the
//! request open, rather than send a message the server reads as two broken ones.

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
fn oversized_answer_keeps_request_open() {
    let testbed = Testbed::new("longanswer");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management_client_auth();
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, AuthPolicy::CrText);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let text = testbed.client_profile_with_credentials(&pki, &config, Some(&credentials), &[]);
    let profile = testbed.unique_path("longanswer", "ovpn");
    std::fs::write(&profile, text).expect("write the profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("auth_request", Duration::from_secs(30));
    client.send_line(&"7".repeat(3000));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    client.send_line(&totp_at(SECRET, now));
    // Panics with the log when the valid code typed next does not connect.
    client.wait_event("connected", Duration::from_secs(20));

    assert_eq!(
        authenticator.cr_responses(),
        1,
        "CR_RESPONSE messages the server could read"
    );
}
