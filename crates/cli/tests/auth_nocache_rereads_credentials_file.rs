//! `auth-nocache` with an `auth-user-pass` file: the password is forgotten after each use,
//! and OpenVPN 2.6 reads the file again for the next attempt instead of asking for it.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{
    totp_at, AuthPolicy, Authenticator, Credentials, OpenVpnServer, Pki, ServerConfig, Testbed,
};
use support::client::FerrovpnClient;

const USERNAME: &str = "alice";
const PASSWORD: &str = "pw";
const SECRET: &[u8] = b"12345678901234567890";

/// Returns a six-digit code that is valid in no TOTP step near now.
fn wrong_code() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let valid = [-30i64, 0, 30].map(|skew| totp_at(SECRET, (now + skew) as u64));
    (0..10)
        .map(|digit| digit.to_string().repeat(6))
        .find(|candidate| !valid.contains(candidate))
        .expect("a six-digit code outside the valid ones")
}

#[test]
fn nocache_retry_reads_file_again() {
    let testbed = Testbed::new("nocache");
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management_client_auth();
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, AuthPolicy::CrText);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let text = testbed.client_profile_with_credentials(
        &pki,
        &config,
        Some(&credentials),
        &["auth-nocache"],
    );
    let profile = testbed.unique_path("nocache", "ovpn");
    std::fs::write(&profile, text).expect("write the profile");

    let mut client = FerrovpnClient::start(&testbed, &profile, &[]);
    client.wait_event("auth_request", Duration::from_secs(30));
    client.send_line(&wrong_code());
    let second = client.wait_event("auth_request", Duration::from_secs(30));

    assert_eq!(
        second["kind"], "pending_challenge",
        "request after a wrong code, with the password in the auth-user-pass file: {second}"
    );
}
