//! A server that rejects a wrong CRV1 response with a fresh CRV1 challenge, as many
//! second-factor back ends do. Three wrong responses must end the session, as three
//! rejected `CR_TEXT` responses do.

mod scripted_server;

use std::time::Duration;

use scripted_server::{Client, ScriptedServer};

/// The only response the script accepts.
const CORRECT_CODE: &str = "123456";

/// A response the script rejects.
const WRONG_CODE: &str = "000000";

/// Challenges a wrong response with a new state id and accepts `CRV1::state<N>::123456`.
const SCRIPT: &str = r#"
{ IFS= read -r user; IFS= read -r pass; } < "$1"
echo "$script_type" >> "$CALLS"
case "$pass" in
CRV1::state*::123456) exit 0 ;;
esac
printf 'CRV1:R,E:state%s:YWxpY2U=:Enter your code' "$(wc -l < "$CALLS")" > "$auth_failed_reason_file"
exit 1
"#;

#[test]
fn crv1_wrong_answers_end_session() {
    let server = ScriptedServer::start("crv1wrong", SCRIPT, |config| config, Some("pw"), &[]);
    let profile = server.profile.display().to_string();
    let mut client = Client::start(&server.testbed, &["-vv", "connect", "--json", &profile]);

    let mut requests = Vec::new();
    for _ in 0..5 {
        let Some(request) = client.next_event("auth_request", Duration::from_secs(20)) else {
            break;
        };
        requests.push(request);
        client.send_line(WRONG_CODE);
    }
    let status = client.wait_exit(Duration::from_secs(20));

    assert!(
        requests.len() <= 3,
        "the client asked {} times for a code; the server rejected every answer",
        requests.len()
    );
    if let Some(second) = requests.get(1) {
        assert_eq!(
            second["reason_kind"], "rejected",
            "reason given after a wrong answer: {second}"
        );
    }
    assert_eq!(
        status.and_then(|status| status.code()),
        Some(4),
        "exit status after three wrong codes ({CORRECT_CODE} is the right one)"
    );
}
