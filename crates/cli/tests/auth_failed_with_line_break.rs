//! An `AUTH_FAILED` whose reason has a line break in the middle, as when an auth script
//! writes two lines to `auth_failed_reason_file`. OpenVPN 2.6 `forward.c`
//! `check_incoming_control_channel` removes the unprintable characters with `string_mod`
//! and still handles the message, so the client must still fail authentication.

mod scripted_server;

use std::time::{Duration, Instant};

use scripted_server::{Client, ScriptedServer};

/// Rejects every attempt with a two-line reason.
const SCRIPT: &str = r#"
echo "$script_type" >> "$CALLS"
printf 'Account locked\nCall the help desk' > "$auth_failed_reason_file"
exit 1
"#;

#[test]
fn multi_line_reason_fails_auth() {
    let server = ScriptedServer::start("afnewline", SCRIPT, |config| config, Some("pw"), &[]);
    let profile = server.profile.display().to_string();
    let mut client = Client::start(&server.testbed, &["-vv", "connect", "--json", &profile]);

    let started = Instant::now();
    let status = client.wait_exit(Duration::from_secs(20));

    assert_eq!(
        status.and_then(|status| status.code()),
        Some(4),
        "exit status {:?} after {:?}; log:\n{}",
        status,
        started.elapsed(),
        client.log()
    );
    assert_eq!(
        server.calls().len(),
        1,
        "attempts after a rejected password"
    );
}
