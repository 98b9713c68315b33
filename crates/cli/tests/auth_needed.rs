//! `ferrovpn connect` must end with exit code 7 when the profile needs a password that
//! cannot be supplied: with `--no-prompt`, or when standard input ends first.

mod support;

use std::process::Stdio;
use std::time::Duration;

use ferrovpn_testbed::{Netns, OpenVpnServer, Pki, ServerConfig, Testbed};
use support::client::FerrovpnClient;

/// Exit code for "credentials needed but --no-prompt was given", from `ferrovpn --help`.
const AUTH_NEEDED: i32 = 7;

/// Time allowed from start to exit; the server responds within a second.
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Starts a server that checks credentials and writes a profile with a bare `auth-user-pass`.
fn server_and_prompting_profile(name: &str) -> (Testbed, OpenVpnServer, std::path::PathBuf) {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).credentials("alice", "correct-horse");
    let server = OpenVpnServer::start(&testbed, &config);
    let profile_text =
        testbed.client_profile_with_credentials(&pki, &config, None, &["auth-user-pass"]);
    let profile = testbed.unique_path("prompting", "ovpn");
    std::fs::write(&profile, profile_text).expect("write profile");
    (testbed, server, profile)
}

#[test]
fn no_prompt_without_password_exits_7() {
    let (testbed, _server, profile) = server_and_prompting_profile("nopromptpw");
    let mut client = FerrovpnClient::start(&testbed, &profile, &["--no-prompt"]);
    let status = client.wait_exit(EXIT_TIMEOUT);
    assert_eq!(
        status.code(),
        Some(AUTH_NEEDED),
        "exit status with --no-prompt; log:\n{}",
        client.log_tail()
    );
}

#[test]
fn stdin_eof_without_password_exits_7() {
    let (testbed, _server, profile) = server_and_prompting_profile("stdineofpw");
    let mut child = Netns::command(testbed.client_ns(), env!("CARGO_BIN_EXE_ferrovpn"))
        .arg("connect")
        .arg(&profile)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrovpn");
    let deadline = std::time::Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ferrovpn") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let status = status.unwrap_or_else(|| {
        panic!("ferrovpn still waits {EXIT_TIMEOUT:?} after standard input ended")
    });
    assert_eq!(
        status.code(),
        Some(AUTH_NEEDED),
        "exit status after standard input ended"
    );
}
