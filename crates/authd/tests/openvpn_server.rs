//! `ferrovpn-authd` in front of a real OpenVPN 2.6 server, checked with OpenVPN's own
//! client: every flow, replay protection, lockout, and restarts of either side.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::panic;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use common::{
    auth_failed_reason, fresh_code, start, start_authd_for, start_with, static_challenge_password,
    wrong_code, Crv1Challenge, CONNECTED, PASSWORD, USER,
};
use ferrovpn_testbed::{
    ping, wait_for, Netns, OpenVpnClient, OpenVpnServer, Pki, ServerConfig, Testbed,
    SERVER_TUNNEL_ADDR,
};

#[test]
fn crv1_stock_client_completes_challenge() {
    let setup = start("authd-crv1");

    let challenge = setup.crv1_challenge();
    assert_eq!(challenge.flags, "R,E", "CRV1 flags");
    assert_eq!(challenge.username, USER, "CRV1 username");
    assert_eq!(challenge.text, "Enter your authenticator code", "CRV1 text");

    let code = fresh_code(&setup.secret);
    let password = challenge.password(&code);
    let profile = setup.profile(&challenge.username, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(pinged, Ok(()), "tunnel must work after the CRV1 response");

    let log = setup.authd_log_text();
    let secret = setup.secret.to_base32();
    for (what, value) in [
        ("password", PASSWORD),
        ("code", code.as_str()),
        ("state id", challenge.state_id.as_str()),
        ("secret", secret.as_str()),
    ] {
        assert!(
            !log.contains(value),
            "the authd log contains the {what}:\n{log}"
        );
    }

    let challenged = setup.count_audit(&["flow=crv1", "outcome=challenged"]);
    assert_eq!(challenged, 1, "challenges in the audit log");
    let accepted = setup.count_audit(&["user=alice", "flow=crv1", "reason=code accepted"]);
    assert_eq!(accepted, 1, "accepted codes in the audit log");
    assert!(
        setup.count_audit(&["source=198.18.0.2"]) >= 2,
        "audit lines must name the source:\n{}",
        setup.audit_lines().join("\n")
    );
}

#[test]
fn crv1_wrong_code_rejected() {
    let setup = start("authd-wrong");
    let challenge = setup.crv1_challenge();

    let profile = setup.profile(USER, &challenge.password(&wrong_code(&setup.secret)), &[]);
    let log = setup.run_client_until_exit(&profile);
    assert_eq!(
        auth_failed_reason(&log),
        Some("wrong code"),
        "client log:\n{log}"
    );
    assert_eq!(
        setup.count_audit(&["outcome=rejected", "reason=wrong code"]),
        1,
        "rejections in the audit log"
    );
}

#[test]
fn crv1_replayed_code_rejected() {
    let setup = start("authd-replay");
    let code = fresh_code(&setup.secret);

    let first = setup.crv1_challenge();
    let profile = setup.profile(USER, &first.password(&code), &[]);
    let mut client = OpenVpnClient::start(&setup.testbed, &profile);
    client.stop();

    let second = setup.crv1_challenge();
    assert_ne!(
        second.state_id, first.state_id,
        "each challenge has its own state"
    );
    let profile = setup.profile(USER, &second.password(&code), &[]);
    let log = setup.run_client_until_exit(&profile);
    assert_eq!(
        auth_failed_reason(&log),
        Some("code already used; wait for the next code"),
        "client log:\n{log}"
    );
}

#[test]
fn crv1_state_reuse_rejected() {
    let setup = start("authd-state");
    let challenge = setup.crv1_challenge();

    let wrong = setup.profile(USER, &challenge.password(&wrong_code(&setup.secret)), &[]);
    setup.run_client_until_exit(&wrong);

    let right = setup.profile(USER, &challenge.password(&fresh_code(&setup.secret)), &[]);
    let log = setup.run_client_until_exit(&right);
    assert_eq!(
        auth_failed_reason(&log),
        Some("unknown or used challenge; connect again"),
        "client log:\n{log}"
    );
}

#[test]
fn lockout_then_user_unlock() {
    let setup = start("authd-lockout");

    for attempt in 1..=5 {
        let profile = setup.profile(USER, "wrong horse", &[]);
        let log = setup.run_client_until_exit(&profile);
        assert_eq!(
            auth_failed_reason(&log),
            None,
            "attempt {attempt}: a wrong password gets a plain AUTH_FAILED:\n{log}"
        );
    }
    let entry = setup.user_entry(USER);
    assert_eq!(entry["locked"], true, "user list entry {entry}");
    assert_eq!(entry["failed_attempts"], 5, "user list entry {entry}");

    let profile = setup.profile(USER, PASSWORD, &[]);
    let log = setup.run_client_until_exit(&profile);
    assert_eq!(
        auth_failed_reason(&log),
        None,
        "a locked user gets no challenge:\n{log}"
    );
    setup.wait_for_audit(&["outcome=rejected", "reason=user locked"], 1);

    let unlocked = setup.user_command(&["unlock", USER]);
    assert!(
        unlocked.status.success(),
        "user unlock failed: {unlocked:?}"
    );
    assert_eq!(setup.user_entry(USER)["locked"], false, "after unlock");

    let challenge = setup.crv1_challenge();
    let password = challenge.password(&fresh_code(&setup.secret));
    let profile = setup.profile(USER, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    assert_eq!(
        setup.user_entry(USER)["failed_attempts"],
        0,
        "a login resets the failure count"
    );
}

#[test]
fn authd_restart_keeps_database() {
    let mut setup = start("authd-restart");
    let challenge = setup.crv1_challenge();

    assert!(setup.stop_authd(), "authd must exit cleanly on SIGTERM");
    setup.start_authd();

    // The first process issued the challenge, and the second one checks the response.
    let code = fresh_code(&setup.secret);
    let profile = setup.profile(USER, &challenge.password(&code), &[]);
    let mut client = OpenVpnClient::start(&setup.testbed, &profile);
    client.stop();

    assert!(setup.stop_authd(), "authd must exit cleanly on SIGTERM");
    setup.start_authd();

    let second = setup.crv1_challenge();
    let profile = setup.profile(USER, &second.password(&code), &[]);
    let log = setup.run_client_until_exit(&profile);
    assert_eq!(
        auth_failed_reason(&log),
        Some("code already used; wait for the next code"),
        "the used step must survive the restart:\n{log}"
    );
}

#[test]
fn server_restart_authd_reconnects() {
    let mut setup = start("authd-srv-restart");
    setup.server.restart();

    let reconnected = wait_for(
        || {
            setup
                .authd_log_text()
                .contains("reconnected to the management interface")
        },
        Duration::from_secs(30),
        "authd to reconnect after the server restart",
    );
    assert_eq!(
        reconnected,
        Ok(()),
        "authd log:\n{}",
        setup.authd_log_text()
    );

    let password = static_challenge_password(PASSWORD, &fresh_code(&setup.secret));
    let profile = setup.profile(USER, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    assert_eq!(
        setup.count_audit(&["flow=static-challenge", "outcome=accepted"]),
        1,
        "accepted static challenges"
    );
}

#[test]
fn static_challenge_one_step() {
    let setup = start("authd-scrv1");
    let password = static_challenge_password(PASSWORD, &fresh_code(&setup.secret));
    let profile = setup.profile(USER, &password, &[]);

    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(
        pinged,
        Ok(()),
        "tunnel must work after the static challenge"
    );
    assert_eq!(
        setup.count_audit(&["flow=static-challenge", "reason=code accepted"]),
        1,
        "accepted static challenges"
    );
}

/// Drives OpenVPN's client through its management socket: releases the hold, waits for
/// the `CR_TEXT` prompt and answers it with `cr-response`. Returns the prompt line.
fn answer_cr_text(socket: &Path, answer: &str) -> Result<String, String> {
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
                    let command = format!("cr-response {}\n", BASE64.encode(answer));
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
fn cr_text_stock_client_answers_code() {
    let setup = start("authd-crtext");
    let socket = setup.testbed.unique_path("client-management", "sock");
    let management = format!("management {} unix", socket.display());
    let profile = setup.profile(
        USER,
        PASSWORD,
        &["setenv IV_SSO crtext", &management, "management-hold"],
    );

    let code = fresh_code(&setup.secret);
    let (client, prompt) = thread::scope(|scope| {
        let client =
            scope.spawn(|| panic::catch_unwind(|| OpenVpnClient::start(&setup.testbed, &profile)));
        let prompt = answer_cr_text(&socket, &code);
        (client.join().expect("client thread joined"), prompt)
    });

    assert_eq!(
        prompt,
        Ok(">INFOMSG:CR_TEXT:R,E:Enter your authenticator code".to_owned()),
        "prompt on the client's management socket"
    );
    assert!(client.is_ok(), "client must connect after the code");
    assert_eq!(
        setup.count_audit(&["flow=crtext", "reason=code accepted"]),
        1,
        "accepted CR_TEXT codes"
    );
}

#[test]
fn auth_token_reauth_without_code() {
    let setup = start_with("authd-token", |config| {
        config.auth_gen_token_external_auth(0)
    });
    let password = static_challenge_password(PASSWORD, &fresh_code(&setup.secret));
    // The client renegotiates after 10 s and then sends its auth-token as password.
    let profile = setup.profile(USER, &password, &["reneg-sec 10"]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);

    setup.wait_for_audit(&["flow=auth-token", "outcome=accepted"], 1);
    assert_eq!(
        setup.count_audit(&["reason=code accepted"]),
        1,
        "only the first login checks a code"
    );
    let pinged = ping(setup.testbed.client_ns(), SERVER_TUNNEL_ADDR, 2);
    assert_eq!(pinged, Ok(()), "tunnel must work after the renegotiation");
}

/// Starts a server whose management interface listens on 127.0.0.1:7505 inside its
/// namespace, with `password` in its password file.
fn start_tcp_server(name: &str, password: &str) -> (Testbed, Pki, ServerConfig, OpenVpnServer) {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let password_file = testbed.dir().join("management-password");
    fs::write(&password_file, format!("{password}\n")).expect("password file written");
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .extra_line(&format!(
            "management 127.0.0.1 7505 {}",
            password_file.display()
        ))
        .extra_line("management-client-auth");
    let server = OpenVpnServer::start(&testbed, &config);
    (testbed, pki, config, server)
}

#[test]
fn tcp_management_with_password() {
    let (testbed, pki, config, server) = start_tcp_server("authd-tcp", "management secret");
    let password_file = testbed.unique_path("authd-password", "txt");
    fs::write(&password_file, "management secret\n").expect("password file written");
    let run_args = vec![
        "--management".to_owned(),
        "127.0.0.1:7505".to_owned(),
        "--management-password-file".to_owned(),
        password_file.to_string_lossy().into_owned(),
    ];
    let setup = start_authd_for(testbed, pki, config, server, run_args);

    let password = static_challenge_password(PASSWORD, &fresh_code(&setup.secret));
    let profile = setup.profile(USER, &password, &[]);
    let _client = OpenVpnClient::start(&setup.testbed, &profile);
    assert_eq!(
        setup.count_audit(&["outcome=accepted"]),
        1,
        "accepted logins over the TCP management interface"
    );
}

#[test]
fn tcp_management_wrong_password_error() {
    let (testbed, _pki, _config, _server) = start_tcp_server("authd-tcp-wrong", "right");
    let database = testbed.dir().join("users.db");
    let password_file = testbed.unique_path("authd-password", "txt");
    fs::write(&password_file, "wrong\n").expect("password file written");

    let output = Netns::command(testbed.server_ns(), common::AUTHD)
        .args([
            "run",
            "--management",
            "127.0.0.1:7505",
            "--management-password-file",
        ])
        .arg(&password_file)
        .arg("--database")
        .arg(&database)
        .output()
        .expect("ferrovpn-authd runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a wrong password must fail: {stderr}"
    );
    assert!(
        stderr.contains("rejected the password"),
        "the error must name the password: {stderr}"
    );
    assert!(
        !stderr.contains(CONNECTED),
        "must not report a connection: {stderr}"
    );
}

#[test]
fn crv1_challenge_parse_helper_roundtrip() {
    // The helper reads the reason exactly as the 2.6 client logs it.
    let log = "AUTH: Received control message: AUTH_FAILED,CRV1:R,E:a+b/c=:YWxpY2U=:Enter: code\n";
    let challenge = Crv1Challenge::from_client_log(log);
    assert_eq!(challenge.state_id, "a+b/c=", "state id");
    assert_eq!(challenge.username, "alice", "username");
    assert_eq!(challenge.text, "Enter: code", "text with a colon");
}
