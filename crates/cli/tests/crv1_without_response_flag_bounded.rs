//! A server that rejects every attempt, including the reply to its own challenge, with a
//! CRV1 challenge that lacks the `R` flag. The client sends the empty response by itself,
//! so nothing but the client's own limits stops the reconnects.

mod scripted_server;

use std::time::Duration;

use scripted_server::{Client, ScriptedServer};

/// Time the client runs against the server.
const OBSERVATION: Duration = Duration::from_secs(10);

/// Attempts a client may make within [`OBSERVATION`]: the first one, and up to three
/// challenge replies, the limit of rejected responses.
const MAX_ATTEMPTS: usize = 4;

/// Rejects every attempt with `CRV1:E:...`, a challenge that needs no response.
const SCRIPT: &str = r#"
echo "$script_type" >> "$CALLS"
printf 'CRV1:E:state1:YWxpY2U=:Press enter to continue' > "$auth_failed_reason_file"
exit 1
"#;

#[test]
fn crv1_without_r_stops_reconnecting() {
    let server = ScriptedServer::start("crv1nor", SCRIPT, |config| config, Some("pw"), &[]);
    let profile = server.profile.display().to_string();
    let mut client = Client::start(&server.testbed, &["-vv", "connect", "--json", &profile]);

    let status = client.wait_exit(OBSERVATION);
    let attempts = server.calls().len();

    assert!(
        attempts <= MAX_ATTEMPTS,
        "the client connected {attempts} times in {OBSERVATION:?}, at most {MAX_ATTEMPTS} expected"
    );
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(4),
        "exit status once the server keeps sending CRV1 challenges"
    );
}
