//! The TOTP authenticator in front of a real OpenVPN server, checked with OpenVPN's own
//! client.
//!
//! OpenVPN 2.6's client has no prompt without a terminal. The tests therefore give it the
//! second factor in the form a user's input would take: a `SCRV1:` password or a `CRV1::`
//! response written straight into its `auth-user-pass` file, or a `cr-response` command on
//! its own management socket.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::panic;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ferrovpn_testbed::{
    ping, totp_now, wait_for, AuthPolicy, Authenticator, Credentials, DecisionKind, Netns,
    OpenVpnClient, OpenVpnServer, Pki, ProcessGuard, ServerConfig, Testbed, CLIENT_COMMON_NAME,
    CRV1_CODE_TEXT, CRV1_WORD, CRV1_WORD_TEXT, CR_TEXT_CHALLENGE, PUSH_CHALLENGE,
    SERVER_TUNNEL_ADDR,
};

/// User known to the authenticator.
const USERNAME: &str = "alice";

/// Password of [`USERNAME`].
const PASSWORD: &str = "correct horse";

/// TOTP secret of [`USERNAME`].
const SECRET: &[u8] = b"ferrovpn testbed totp secret";

/// Time an openvpn client gets to fail and exit after AUTH_FAILED.
const CLIENT_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Time allowed for the authenticator to reach a decision.
const DECISION_TIMEOUT: Duration = Duration::from_secs(20);

/// A server behind an authenticator, with the PKI and configuration for client profiles.
struct Setup {
    /// Declared first so it disconnects before the server stops.
    authenticator: Authenticator,
    server: OpenVpnServer,
    config: ServerConfig,
    pki: Pki,
    testbed: Testbed,
}

fn start(name: &str, policy: AuthPolicy) -> Setup {
    start_with(name, policy, |config| config)
}

fn start_with(
    name: &str,
    policy: AuthPolicy,
    adjust: impl FnOnce(ServerConfig) -> ServerConfig,
) -> Setup {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = adjust(ServerConfig::new(&pki).tls_crypt().management_client_auth());
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, policy);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    Setup {
        authenticator,
        server,
        config,
        pki,
        testbed,
    }
}

impl Setup {
    /// Writes a client profile that sends `username` and `password` from an
    /// `auth-user-pass` file, plus the `extra` lines.
    fn profile(&self, username: &str, password: &str, extra: &[&str]) -> PathBuf {
        let credentials = Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let text = self.testbed.client_profile_with_credentials(
            &self.pki,
            &self.config,
            Some(&credentials),
            extra,
        );
        let path = self.testbed.unique_path("client", "ovpn");
        fs::write(&path, text).expect("client profile written");
        path
    }

    fn count(&self, kind: DecisionKind, accepted: bool) -> usize {
        self.authenticator
            .decisions()
            .iter()
            .filter(|decision| decision.kind == kind && decision.accepted == accepted)
            .count()
    }

    fn wait_for_decision(&self, kind: DecisionKind, accepted: bool) {
        let what = format!("a {kind:?} decision with accepted = {accepted}");
        let waited = wait_for(|| self.count(kind, accepted) > 0, DECISION_TIMEOUT, &what);
        assert_eq!(
            waited,
            Ok(()),
            "decisions so far: {:#?}\n{}",
            self.authenticator.decisions(),
            self.server.log_tail()
        );
    }
}

/// `SCRV1:<base64 password>:<base64 response>`, the password a static-challenge client
/// sends.
fn static_challenge_password(password: &str, response: &str) -> String {
    format!(
        "SCRV1:{}:{}",
        BASE64.encode(password),
        BASE64.encode(response)
    )
}

/// Runs OpenVPN's client with `profile` until it exits by itself and returns its log.
///
/// Panics if it is still running after 30 s; the guard then stops it.
fn run_client_until_exit(testbed: &Testbed, profile: &Path) -> String {
    let log_path = testbed.unique_path("openvpn-client", "log");
    let log = fs::File::create(&log_path).expect("client log created");
    let mut command = Netns::command(testbed.client_ns(), "openvpn");
    command
        .arg("--config")
        .arg(profile)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle duplicated"))
        .stderr(log);
    let mut client = ProcessGuard::spawn(command, "openvpn client").expect("openvpn starts");

    let exited = wait_for(
        || !client.is_running(),
        CLIENT_EXIT_TIMEOUT,
        "openvpn client to exit after AUTH_FAILED",
    );
    let text = fs::read_to_string(&log_path).unwrap_or_default();
    assert_eq!(exited, Ok(()), "client log:\n{text}");
    text
}

/// Returns the text after `AUTH_FAILED,` in the client log, if the server sent a reason.
fn auth_failed_reason(log: &str) -> Option<&str> {
    let start = log.find("AUTH_FAILED,")? + "AUTH_FAILED,".len();
    log[start..].lines().next()
}

/// The parts of `CRV1:<flags>:<state_id>:<base64 username>:<text>`.
struct Crv1Challenge {
    flags: String,
    state_id: String,
    username: String,
    text: String,
}

/// Reads the CRV1 challenge of the first AUTH_FAILED in a client log.
fn crv1_challenge(log: &str) -> Crv1Challenge {
    let reason =
        auth_failed_reason(log).unwrap_or_else(|| panic!("no AUTH_FAILED reason in:\n{log}"));
    let fields: Vec<&str> = reason.trim_end().splitn(5, ':').collect();
    let [tag, flags, state_id, username, text] = fields.as_slice() else {
        panic!("AUTH_FAILED reason {reason:?} is not a CRV1 challenge");
    };
    assert_eq!(*tag, "CRV1", "AUTH_FAILED reason {reason:?}");
    let username = BASE64.decode(username).expect("CRV1 username is base64");
    Crv1Challenge {
        flags: (*flags).to_owned(),
        state_id: (*state_id).to_owned(),
        username: String::from_utf8(username).expect("CRV1 username is UTF-8"),
        text: (*text).to_owned(),
    }
}

/// `CRV1::<state_id>::<response>`, the password that responds to a CRV1 challenge.
fn crv1_password(challenge: &Crv1Challenge, response: &str) -> String {
    format!("CRV1::{}::{response}", challenge.state_id)
}

#[test]
fn crv1_reference_client_two_rounds() {
    let setup = start("crv1", AuthPolicy::Crv1);

    let first = setup.profile(USERNAME, PASSWORD, &[]);
    let log = run_client_until_exit(&setup.testbed, &first);
    let challenge = crv1_challenge(&log);
    assert_eq!(challenge.flags, "R,E", "CRV1 flags");
    assert_eq!(challenge.username, USERNAME, "CRV1 username");
    assert_eq!(challenge.text, CRV1_CODE_TEXT, "CRV1 text");
    for special in ['+', '/', '='] {
        assert!(
            challenge.state_id.contains(special),
            "state id {:?} lacks {special:?}",
            challenge.state_id
        );
    }

    let second = setup.profile(
        &challenge.username,
        &crv1_password(&challenge, &totp_now(SECRET)),
        &[],
    );
    let _client = OpenVpnClient::start(&setup.testbed, &second);
    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(pinged, Ok(()), "tunnel must work after the CRV1 response");

    assert_eq!(
        setup.count(DecisionKind::Crv1Challenge, true),
        1,
        "challenges"
    );
    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
}

#[test]
fn crv1_reused_state_rejected() {
    let setup = start("crv1-reuse", AuthPolicy::Crv1);
    let first = setup.profile(USERNAME, PASSWORD, &[]);
    let challenge = crv1_challenge(&run_client_until_exit(&setup.testbed, &first));

    let wrong = setup.profile(USERNAME, &crv1_password(&challenge, "000000"), &[]);
    let log = run_client_until_exit(&setup.testbed, &wrong);
    assert!(
        auth_failed_reason(&log).is_some_and(|reason| reason.starts_with("wrong code")),
        "a wrong code must be rejected with a reason:\n{log}"
    );

    let right = setup.profile(USERNAME, &crv1_password(&challenge, &totp_now(SECRET)), &[]);
    let log = run_client_until_exit(&setup.testbed, &right);
    assert!(
        auth_failed_reason(&log).is_some_and(|reason| reason.contains("unknown or used")),
        "a used state id must be rejected:\n{log}"
    );
}

#[test]
fn crv1_wrong_password_gets_no_challenge() {
    let setup = start("crv1-password", AuthPolicy::Crv1);
    let profile = setup.profile(USERNAME, "wrong horse", &[]);
    let log = run_client_until_exit(&setup.testbed, &profile);

    assert!(
        log.contains("AUTH_FAILED"),
        "client must get AUTH_FAILED:\n{log}"
    );
    assert_eq!(
        auth_failed_reason(&log),
        None,
        "a wrong password gets a plain AUTH_FAILED"
    );
    assert_eq!(
        setup.count(DecisionKind::Password, false),
        1,
        "rejected passwords"
    );
    assert_eq!(
        setup.count(DecisionKind::Crv1Challenge, true),
        0,
        "challenges"
    );
}

#[test]
fn crv1_chain_reference_client_three_rounds() {
    let setup = start("crv1-chain", AuthPolicy::Crv1Chain);

    let first = setup.profile(USERNAME, PASSWORD, &[]);
    let code_challenge = crv1_challenge(&run_client_until_exit(&setup.testbed, &first));
    assert_eq!(code_challenge.text, CRV1_CODE_TEXT, "first challenge text");

    let second = setup.profile(
        USERNAME,
        &crv1_password(&code_challenge, &totp_now(SECRET)),
        &[],
    );
    let word_challenge = crv1_challenge(&run_client_until_exit(&setup.testbed, &second));
    assert_eq!(word_challenge.text, CRV1_WORD_TEXT, "second challenge text");
    assert_ne!(
        word_challenge.state_id, code_challenge.state_id,
        "each round needs its own state id"
    );

    let third = setup.profile(USERNAME, &crv1_password(&word_challenge, CRV1_WORD), &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &third);

    assert_eq!(
        setup.count(DecisionKind::Crv1Challenge, true),
        2,
        "challenges"
    );
    assert_eq!(
        setup.count(DecisionKind::Answer, true),
        1,
        "accepted answers"
    );
}

#[test]
fn static_challenge_reference_client_connects() {
    let setup = start("static-challenge", AuthPolicy::StaticChallenge);
    let password = static_challenge_password(PASSWORD, &totp_now(SECRET));
    let profile = setup.profile(USERNAME, &password, &[]);

    let _client = OpenVpnClient::start(&setup.testbed, &profile);

    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(
        pinged,
        Ok(()),
        "tunnel must work after the static challenge"
    );
    assert_eq!(
        setup.count(DecisionKind::Password, true),
        1,
        "accepted passwords"
    );
    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
}

#[test]
fn static_challenge_replayed_code_rejected() {
    let setup = start("static-replay", AuthPolicy::StaticChallenge);
    let password = static_challenge_password(PASSWORD, &totp_now(SECRET));
    let profile = setup.profile(USERNAME, &password, &[]);

    let mut client = OpenVpnClient::start(&setup.testbed, &profile);
    client.stop();

    let log = run_client_until_exit(&setup.testbed, &profile);
    assert!(
        auth_failed_reason(&log).is_some_and(|reason| reason.starts_with("code already used")),
        "a replayed code must be rejected:\n{log}"
    );
    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
    assert_eq!(setup.count(DecisionKind::Code, false), 1, "rejected codes");
}

#[test]
fn push_approval_reference_client_connects() {
    let approve_after = Duration::from_secs(2);
    let setup = start("push", AuthPolicy::CrTextNoResponse { approve_after });
    let profile = setup.profile(USERNAME, PASSWORD, &["setenv IV_SSO crtext", "verb 4"]);

    let started = Instant::now();
    let client = OpenVpnClient::start(&setup.testbed, &profile);

    assert!(
        started.elapsed() >= approve_after,
        "the client connected before the approval"
    );
    assert!(
        client.log().contains(PUSH_CHALLENGE),
        "client log must show the CR_TEXT prompt:\n{}",
        client.log_tail()
    );
    assert_eq!(setup.count(DecisionKind::CrTextPrompt, true), 1, "prompts");
    assert_eq!(setup.count(DecisionKind::Approval, true), 1, "approvals");
    assert_eq!(setup.authenticator.cr_responses(), 0, "CR_RESPONSE count");
    assert_eq!(
        setup.authenticator.count(DecisionKind::Code),
        0,
        "a push approval checks no code"
    );
}

#[test]
fn cr_text_client_without_crtext_denied() {
    let setup = start("crtext-no-sso", AuthPolicy::CrText);
    let profile = setup.profile(USERNAME, PASSWORD, &[]);
    let log = run_client_until_exit(&setup.testbed, &profile);

    assert!(
        auth_failed_reason(&log).is_some_and(|reason| reason.contains("crtext")),
        "the reason must name the missing method:\n{log}"
    );
    assert_eq!(
        setup.count(DecisionKind::CrTextPrompt, false),
        1,
        "withheld prompts"
    );
}

/// Drives OpenVPN's client through its management socket: releases the hold, waits for the
/// `CR_TEXT` prompt and answers it with `cr-response`. Returns the prompt line.
fn answer_cr_text(socket: &Path, answer: impl FnOnce() -> String) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    wait_for(
        || socket.exists(),
        Duration::from_secs(10),
        "the client's management socket",
    )?;
    let stream = UnixStream::connect(socket).map_err(|error| error.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|error| error.to_string())?;
    let mut writer = stream.try_clone().map_err(|error| error.to_string())?;
    writer
        .write_all(b"hold release\n")
        .map_err(|error| error.to_string())?;

    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while Instant::now() < deadline {
        match reader.read_line(&mut line) {
            Ok(0) => return Err("the client closed its management socket".to_owned()),
            Ok(_) if line.ends_with('\n') => {
                let prompt = line.trim_end().to_owned();
                line.clear();
                if prompt.starts_with(">INFOMSG:CR_TEXT:") {
                    let command = format!("cr-response {}\n", BASE64.encode(answer()));
                    writer
                        .write_all(command.as_bytes())
                        .map_err(|error| error.to_string())?;
                    return Ok(prompt);
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
    Err("no >INFOMSG:CR_TEXT prompt within 20 s".to_owned())
}

#[test]
fn cr_text_reference_client_answers_code() {
    let setup = start("crtext", AuthPolicy::CrText);
    let socket = setup.testbed.unique_path("client-management", "sock");
    let management = format!("management {} unix", socket.display());
    let profile = setup.profile(
        USERNAME,
        PASSWORD,
        &["setenv IV_SSO crtext", &management, "management-hold"],
    );

    let (client, prompt) = thread::scope(|scope| {
        let client =
            scope.spawn(|| panic::catch_unwind(|| OpenVpnClient::start(&setup.testbed, &profile)));
        let prompt = answer_cr_text(&socket, || totp_now(SECRET));
        (client.join().expect("client thread joined"), prompt)
    });

    let prompt = prompt.expect("client must see the CR_TEXT prompt");
    assert_eq!(
        prompt,
        format!(">INFOMSG:{CR_TEXT_CHALLENGE}"),
        "prompt on the client's management socket"
    );
    assert!(client.is_ok(), "client must connect after the code");
    assert_eq!(setup.authenticator.cr_responses(), 1, "CR_RESPONSE count");
    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
}

#[test]
fn cr_text_wrong_code_rejected() {
    let setup = start("crtext-wrong", AuthPolicy::CrText);
    let socket = setup.testbed.unique_path("client-management", "sock");
    let management = format!("management {} unix", socket.display());
    let profile = setup.profile(
        USERNAME,
        PASSWORD,
        &["setenv IV_SSO crtext", &management, "management-hold"],
    );

    let (client, prompt) = thread::scope(|scope| {
        let client =
            scope.spawn(|| panic::catch_unwind(|| OpenVpnClient::start(&setup.testbed, &profile)));
        let prompt = answer_cr_text(&socket, || "000000".to_owned());
        (client.join().expect("client thread joined"), prompt)
    });

    assert!(prompt.is_ok(), "client must see the prompt: {prompt:?}");
    assert!(client.is_err(), "a wrong code must not connect");
    setup.wait_for_decision(DecisionKind::Code, false);
}

#[test]
fn web_auth_completed_by_test() {
    let url = "https://idp.example/login".to_owned();
    let setup = start("webauth", AuthPolicy::WebAuth { url });
    let profile = setup.profile(
        USERNAME,
        PASSWORD,
        &["setenv IV_SSO crtext,openurl,webauth", "verb 4"],
    );

    let client = thread::scope(|scope| {
        let client =
            scope.spawn(|| panic::catch_unwind(|| OpenVpnClient::start(&setup.testbed, &profile)));
        setup.wait_for_decision(DecisionKind::WebAuthPrompt, true);
        let completed = setup.authenticator.complete_web_auth(USERNAME);
        assert_eq!(completed, Ok(()), "web authentication must complete");
        client.join().expect("client thread joined")
    });

    let client = client.expect("client must connect after web authentication");
    assert!(
        client.log().contains("WEB_AUTH::https://idp.example/login"),
        "client log must show the URL:\n{}",
        client.log_tail()
    );
}

#[test]
fn auth_token_reauth_accepted_without_code() {
    let setup = start_with("token-reauth", AuthPolicy::StaticChallenge, |config| {
        config.auth_gen_token_external_auth(0)
    });
    let password = static_challenge_password(PASSWORD, &totp_now(SECRET));
    // The client renegotiates after 10 s and then sends its auth-token as password. The
    // server keeps its default reneg-sec, because the token renewal time follows it and
    // OpenVPN requires at least twice hand-window (60 s) for it.
    let profile = setup.profile(USERNAME, &password, &["reneg-sec 10"]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);

    setup.wait_for_decision(DecisionKind::AuthToken, true);

    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
    assert_eq!(setup.count(DecisionKind::Code, false), 0, "rejected codes");
    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(pinged, Ok(()), "tunnel must work after the renegotiation");
}

#[test]
fn authenticator_reconnects_after_restart() {
    let mut setup = start("auth-restart", AuthPolicy::StaticChallenge);
    setup.server.restart();

    let reconnected = wait_for(
        || setup.authenticator.connection_count() >= 2,
        Duration::from_secs(30),
        "the authenticator to reconnect",
    );
    assert_eq!(reconnected, Ok(()), "authenticator must follow the restart");

    let password = static_challenge_password(PASSWORD, &totp_now(SECRET));
    let profile = setup.profile(USERNAME, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    assert_eq!(setup.count(DecisionKind::Code, true), 1, "accepted codes");
}

#[test]
fn management_command_shares_connection() {
    let setup = start("auth-status", AuthPolicy::StaticChallenge);
    let password = static_challenge_password(PASSWORD, &totp_now(SECRET));
    let profile = setup.profile(USERNAME, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);

    let status = setup
        .authenticator
        .management_command("status")
        .expect("status response");
    assert!(
        status.contains(CLIENT_COMMON_NAME),
        "status must list the client:\n{status}"
    );
}
