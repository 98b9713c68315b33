//! An empty line typed for an answer that must not be empty. The client rejects it, and it
//! must then ask again, so that the next line answers the same request.

mod scripted_server;

use std::time::Duration;

use scripted_server::{Client, ScriptedServer, USERNAME};

/// The response the CRV1 script accepts.
const CODE: &str = "123456";

/// Password the scripts accept.
const PASSWORD: &str = "pw";

/// Challenges the password with CRV1 and accepts `CRV1::state1::123456`.
const CRV1_SCRIPT: &str = r#"
{ IFS= read -r user; IFS= read -r pass; } < "$1"
case "$pass" in
CRV1::state1::123456) exit 0 ;;
esac
printf 'CRV1:R,E:state1:YWxpY2U=:Enter your code' > "$auth_failed_reason_file"
exit 1
"#;

/// Accepts user `alice` with password `pw`.
const PASSWORD_SCRIPT: &str = r#"
{ IFS= read -r user; IFS= read -r pass; } < "$1"
[ "$user" = "alice" ] && [ "$pass" = "pw" ] && exit 0
exit 1
"#;

#[test]
fn empty_crv1_response_asks_again() {
    let server = ScriptedServer::start(
        "emptycrv1",
        CRV1_SCRIPT,
        |config| config,
        Some(PASSWORD),
        &[],
    );
    let profile = server.profile.display().to_string();
    let mut client = Client::start(&server.testbed, &["-vv", "connect", "--json", &profile]);

    client
        .next_event("auth_request", Duration::from_secs(20))
        .expect("a CRV1 request");
    client.send_line("");
    client.send_line(CODE);
    let connected = client.next_event("connected", Duration::from_secs(20));

    assert!(
        connected.is_some(),
        "the code typed after an empty line did not bring the tunnel up; log:\n{}",
        client.log()
    );
}

#[test]
fn empty_username_asks_again() {
    let server = ScriptedServer::start("emptyuser", PASSWORD_SCRIPT, |config| config, None, &[]);
    let profile = server.profile.display().to_string();
    let mut client = Client::start(&server.testbed, &["-vv", "connect", "--json", &profile]);

    client
        .next_event("auth_request", Duration::from_secs(20))
        .expect("a credentials request");
    // An empty username, then the password, then the credentials typed again.
    client.send_line("");
    client.send_line(PASSWORD);
    client.send_line(USERNAME);
    client.send_line(PASSWORD);
    let connected = client.next_event("connected", Duration::from_secs(20));

    assert!(
        connected.is_some(),
        "credentials typed after an empty username did not bring the tunnel up; log:\n{}",
        client.log()
    );
}
