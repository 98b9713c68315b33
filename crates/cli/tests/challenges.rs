//! Second-factor flows against a real OpenVPN 2.6 server whose management client checks
//! real TOTP codes: CR_TEXT, CRV1, static challenge, web sign-in, credentials requests,
//! auth-token reuse and the failure cases.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{
    ping, totp_at, transfer_check, AuthPolicy, Authenticator, Credentials, DecisionKind,
    OpenVpnServer, Pki, ServerConfig, Testbed,
};
use serde_json::Value;
use support::client::FerrovpnClient;

const USERNAME: &str = "alice";
const PASSWORD: &str = "alice's \"password\"";
const SECRET: &[u8] = b"12345678901234567890";

/// Time allowed for each step of a flow.
const STEP_TIMEOUT: Duration = Duration::from_secs(40);

/// Bytes moved through the tunnel once it is up.
const TRANSFER_BYTES: usize = 2 * 1024 * 1024;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Returns the code of the current TOTP step.
fn code_now() -> String {
    totp_at(SECRET, unix_now())
}

/// The code of the next TOTP step, which the server accepts as clock skew and which no
/// earlier answer in the same step has used.
fn code_next() -> String {
    totp_at(SECRET, unix_now() + 30)
}

/// Returns a code that is valid in no step near now.
fn wrong_code() -> String {
    let valid = [-30i64, 0, 30].map(|skew| totp_at(SECRET, (unix_now() as i64 + skew) as u64));
    (0..10)
        .map(|digit| format!("{digit}{digit}{digit}{digit}{digit}{digit}"))
        .find(|candidate| !valid.contains(candidate))
        .expect("a six-digit code outside the valid ones")
}

struct Setup {
    testbed: Testbed,
    config: ServerConfig,
    server: OpenVpnServer,
    authenticator: Authenticator,
    profile: std::path::PathBuf,
}

fn setup(
    name: &str,
    policy: AuthPolicy,
    server: impl FnOnce(ServerConfig) -> ServerConfig,
    credentials_in_file: bool,
    extra: &[&str],
) -> Setup {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = server(ServerConfig::new(&pki).tls_crypt().management_client_auth());
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, policy);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);

    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let mut extra: Vec<&str> = extra.to_vec();
    if !credentials_in_file {
        extra.push("auth-user-pass");
    }
    let text = testbed.client_profile_with_credentials(
        &pki,
        &config,
        credentials_in_file.then_some(&credentials),
        &extra,
    );
    let profile = testbed.unique_path(name, "ovpn");
    std::fs::write(&profile, text).expect("write profile");

    Setup {
        testbed,
        config,
        server,
        authenticator,
        profile,
    }
}

fn check_traffic(setup: &Setup, client: &FerrovpnClient) {
    ping(
        setup.testbed.client_ns(),
        setup.config.server_tunnel_addr(),
        2,
    )
    .unwrap_or_else(|error| panic!("ping failed: {error}\nclient log:\n{}", client.log_tail()));
    let report = transfer_check(
        &setup.testbed,
        setup.config.server_tunnel_addr(),
        TRANSFER_BYTES,
    )
    .unwrap_or_else(|error| {
        panic!(
            "transfer failed: {error}\nclient log:\n{}",
            client.log_tail()
        )
    });
    assert_eq!(report.bytes, TRANSFER_BYTES, "bytes transferred");
}

fn field<'a>(event: &'a Value, name: &str) -> &'a Value {
    &event[name]
}

/// Asserts that `secret` appears in no log or file the client side could have written.
fn assert_not_leaked(setup: &Setup, client: &FerrovpnClient, secret: &str) {
    assert!(
        !client.log().contains(secret),
        "the one-time code appears in the client log"
    );
    for entry in std::fs::read_dir(setup.testbed.dir())
        .expect("read the test directory")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "log")
            && path.to_string_lossy().contains("ferrovpn")
        {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                !text.contains(secret),
                "the one-time code appears in {}",
                path.display()
            );
        }
    }
}

#[test]
fn cr_text_code_brings_tunnel_up() {
    let setup = setup("crtext", AuthPolicy::CrText, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&request, "kind"),
        "pending_challenge",
        "request: {request}"
    );
    assert_eq!(
        field(&request, "prompt"),
        "Enter your authenticator code",
        "request: {request}"
    );
    assert_eq!(field(&request, "echo"), true, "E flag: {request}");
    assert!(
        field(&request, "expires_in_seconds").as_u64().is_some(),
        "no expiry: {request}"
    );

    let code = code_now();
    client.send_line(&code);
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);

    assert_eq!(
        setup.authenticator.cr_responses(),
        1,
        "CR_RESPONSE messages at the server"
    );
    assert_not_leaked(&setup, &client, &code);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn cr_text_wrong_then_right() {
    let setup = setup("crwrong", AuthPolicy::CrText, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    client.wait_event("auth_request", STEP_TIMEOUT);
    client.send_line(&wrong_code());
    let again = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&again, "reason_kind"),
        "rejected",
        "second request: {again}"
    );

    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn cr_text_without_r_needs_no_answer() {
    let setup = setup(
        "crpush",
        AuthPolicy::CrTextNoResponse {
            approve_after: Duration::from_secs(2),
        },
        |c| c,
        true,
        &[],
    );
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&request, "response_required"),
        false,
        "request: {request}"
    );
    let closed = client.wait_event("auth_request_closed", STEP_TIMEOUT);
    assert_eq!(
        field(&closed, "outcome"),
        "completed out of band",
        "closed: {closed}"
    );
    client.wait_event("connected", STEP_TIMEOUT);
    assert_eq!(
        setup.authenticator.cr_responses(),
        0,
        "a CR_RESPONSE was sent for information"
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn crv1_code_brings_tunnel_up() {
    let setup = setup("crv1", AuthPolicy::Crv1, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&request, "kind"),
        "dynamic_challenge",
        "request: {request}"
    );
    let code = code_now();
    client.send_line(&code);
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_not_leaked(&setup, &client, &code);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn crv1_chain_of_two_challenges() {
    let setup = setup("crv1chain", AuthPolicy::Crv1Chain, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    client.wait_event("auth_request", STEP_TIMEOUT);
    client.send_line(&code_now());
    let second = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&second, "prompt"),
        "Enter the word 'blue'",
        "second request: {second}"
    );
    assert_eq!(
        field(&second, "reason_kind"),
        "next_step",
        "second request: {second}"
    );
    client.send_line("blue");
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn static_challenge_sends_scrv1() {
    let setup = setup(
        "static",
        AuthPolicy::StaticChallenge,
        |c| c,
        true,
        &["static-challenge \"Enter your code\" 1"],
    );
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&request, "kind"),
        "static_challenge",
        "request: {request}"
    );
    assert_eq!(
        field(&request, "prompt"),
        "Enter your code",
        "request: {request}"
    );
    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_eq!(
        setup.authenticator.count(DecisionKind::Code),
        1,
        "code checks"
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn credentials_request_then_cr_text() {
    let setup = setup("creds", AuthPolicy::CrText, |c| c, false, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(field(&request, "kind"), "credentials", "request: {request}");
    client.send_line(USERNAME);
    client.send_line(PASSWORD);
    let challenge = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(
        field(&challenge, "kind"),
        "pending_challenge",
        "request: {challenge}"
    );
    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert!(
        !client.log().contains("password\""),
        "the password appears in the client log"
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn web_auth_completed_by_server() {
    let url = "https://sso.example.test/login?session=abc";
    let setup = setup(
        "webauth",
        AuthPolicy::WebAuth {
            url: url.to_owned(),
        },
        |c| c,
        true,
        &[],
    );
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    assert_eq!(field(&request, "kind"), "web_auth", "request: {request}");
    assert_eq!(field(&request, "url"), url, "request: {request}");
    setup
        .authenticator
        .complete_web_auth(USERNAME)
        .expect("complete the web sign-in");
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn auth_token_reused_across_reneg_and_reconnect() {
    let setup = setup(
        "token",
        AuthPolicy::CrText,
        // A token expires when it was not renewed for twice its renewal time, which
        // defaults to reneg-sec. With reneg-sec 10 a renewal can come late enough for the
        // token to expire, so renew every 120 s, the least the server allows with the
        // default hand-window of 60 s.
        |c| {
            c.extra_line("auth-gen-token 0 120")
                .reneg_sec(10)
                .keepalive(2, 8)
        },
        true,
        &[],
    );
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    client.wait_event("auth_request", STEP_TIMEOUT);
    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);

    client.wait_event("renegotiated", Duration::from_secs(30));
    client.wait_event("renegotiated", Duration::from_secs(30));
    check_traffic(&setup, &client);

    // A network outage: the client notices through ping-restart and, once the link is
    // back, reconnects with the token.
    let link = |state: &str| {
        let status = std::process::Command::new("ip")
            .args([
                "-n",
                setup.testbed.client_ns(),
                "link",
                "set",
                setup.testbed.client_link(),
                state,
            ])
            .status()
            .expect("run ip link set");
        assert!(status.success(), "ip link set {state} failed");
    };
    link("down");
    client.wait_event("reconnecting", STEP_TIMEOUT);
    link("up");
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);

    assert_eq!(
        client.count("auth_request"),
        1,
        "prompts: {:?}",
        client.seen
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn server_restart_expires_token_once() {
    let mut setup = setup(
        "expired",
        AuthPolicy::CrText,
        |c| c.auth_gen_token(0).keepalive(2, 8),
        true,
        &[],
    );
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    client.wait_event("auth_request", STEP_TIMEOUT);
    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);

    // A restarted server has a new token secret, so the old token is rejected.
    setup.server.stop();
    std::thread::sleep(Duration::from_secs(1));
    setup.server.restart();

    let request = client.wait_event("auth_request", Duration::from_secs(60));
    assert_eq!(
        field(&request, "reason_kind"),
        "session_expired",
        "request: {request}"
    );
    client.send_line(&code_next());
    client.wait_event("connected", STEP_TIMEOUT);
    check_traffic(&setup, &client);
    assert_eq!(
        client.count("auth_request"),
        2,
        "prompts: {:?}",
        client.seen
    );
    assert_eq!(client.stop().code(), Some(0), "exit status");
}

#[test]
fn answer_after_timeout_rejected() {
    let setup = setup(
        "timeout",
        AuthPolicy::CrText,
        |c| c.extra_line("hand-window 8"),
        true,
        &[],
    );
    setup
        .authenticator
        .set_pending_timeout(Duration::from_secs(4));
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    let request = client.wait_event("auth_request", STEP_TIMEOUT);
    let timeout = field(&request, "expires_in_seconds").as_u64().unwrap_or(0);
    assert!(
        timeout <= 10,
        "expiry of {timeout} s ignores the server's timeout"
    );
    let closed = client.wait_event("auth_request_closed", STEP_TIMEOUT);
    assert_eq!(field(&closed, "outcome"), "expired", "closed: {closed}");

    client.send_line(&code_now());
    let status = client.wait_exit(STEP_TIMEOUT);
    assert_eq!(status.code(), Some(4), "exit status after the timeout");
    assert_eq!(
        setup.authenticator.cr_responses(),
        0,
        "a late answer reached the server"
    );
}

#[test]
fn no_prompt_exits_with_auth_needed() {
    let setup = setup("noprompt", AuthPolicy::CrText, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &["--no-prompt"]);
    client.wait_event("auth_request", STEP_TIMEOUT);
    let status = client.wait_exit(STEP_TIMEOUT);
    assert_eq!(status.code(), Some(7), "exit status with --no-prompt");
}

#[test]
fn three_wrong_codes_give_up() {
    let setup = setup("giveup", AuthPolicy::CrText, |c| c, true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    for attempt in 1..=3 {
        let request = client.wait_event("auth_request", STEP_TIMEOUT);
        let expected = if attempt == 1 { "initial" } else { "rejected" };
        assert_eq!(field(&request, "reason_kind"), expected, "request {attempt}: {request}");
        client.send_line(&wrong_code());
    }

    let disconnected = client.wait_event("disconnected", STEP_TIMEOUT);
    let reason = field(&disconnected, "reason").as_str().unwrap_or_default().to_owned();
    assert!(reason.contains("3 rejected attempts"), "reason: {reason}");
    assert_eq!(client.wait_exit(STEP_TIMEOUT).code(), Some(4), "exit status");
    assert_eq!(setup.authenticator.cr_responses(), 3, "CR_RESPONSE messages at the server");
}

#[test]
fn reauthentication_on_renegotiation() {
    // Without auth-gen-token the server runs the whole check again on every renegotiation.
    let setup = setup("reauth", AuthPolicy::CrText, |c| c.reneg_sec(10), true, &[]);
    let mut client = FerrovpnClient::start(&setup.testbed, &setup.profile, &[]);

    client.wait_event("auth_request", STEP_TIMEOUT);
    client.send_line(&code_now());
    client.wait_event("connected", STEP_TIMEOUT);

    let again = client.wait_event("auth_request", Duration::from_secs(30));
    assert_eq!(field(&again, "reason_kind"), "reauthentication", "request: {again}");
    // Traffic keeps flowing on the old key while the person is asked.
    ping(setup.testbed.client_ns(), setup.config.server_tunnel_addr(), 2)
        .unwrap_or_else(|error| panic!("ping during re-authentication failed: {error}"));

    client.send_line(&code_next());
    let closed = client.wait_event("auth_request_closed", STEP_TIMEOUT);
    assert_eq!(field(&closed, "outcome"), "answered", "closed: {closed}");
    std::thread::sleep(Duration::from_secs(2));
    check_traffic(&setup, &client);
    assert_eq!(client.count("reconnecting"), 0, "the session reconnected: {:?}", client.seen);
    assert_eq!(client.stop().code(), Some(0), "exit status");
}
