//! The `user` commands and the startup errors of `run`, without a server.

use std::fs;
use std::path::Path;
use std::process::Output;

use ferrovpn_authd::TotpSecret;

mod common;

use common::{add_user, authd_command};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn user_list(database: &Path) -> serde_json::Value {
    let output = authd_command(database, &["user", "list", "--json"], "");
    assert!(
        output.status.success(),
        "user list failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("user list --json prints JSON")
}

#[test]
fn user_add_prints_uri_and_qr() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let output = authd_command(
        &database,
        &["user", "add", "alice", "--password-stdin"],
        "pw\n",
    );
    assert!(
        output.status.success(),
        "user add failed: {}",
        stderr(&output)
    );

    let text = stdout(&output);
    assert!(
        text.contains("otpauth://totp/ferrovpn:alice?secret="),
        "URI missing:\n{text}"
    );
    assert!(text.contains("&issuer=ferrovpn"), "issuer missing:\n{text}");
    assert!(
        text.contains('▀') || text.contains('▄'),
        "QR code missing:\n{text}"
    );
}

#[test]
fn user_add_twice_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    add_user(&database, "alice", "pw");
    let output = authd_command(
        &database,
        &["user", "add", "alice", "--password-stdin"],
        "pw\n",
    );
    assert!(!output.status.success(), "second add must fail");
    assert!(
        stderr(&output).contains("user \"alice\" already exists"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn user_add_empty_password_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let output = authd_command(
        &database,
        &["user", "add", "alice", "--password-stdin"],
        "\n",
    );
    assert!(!output.status.success(), "an empty password must fail");
    assert!(
        stderr(&output).contains("the password is empty"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn user_list_remove_round_trip() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    add_user(&database, "alice", "pw");
    add_user(&database, "bob", "pw");

    let users = user_list(&database);
    let names: Vec<&str> = users
        .as_array()
        .expect("array")
        .iter()
        .map(|user| user["user"].as_str().expect("user field"))
        .collect();
    assert_eq!(names, ["alice", "bob"], "listed users");
    assert_eq!(users[0]["locked"], false, "alice's lock state");

    let removed = authd_command(&database, &["user", "remove", "alice"], "");
    assert!(
        removed.status.success(),
        "remove failed: {}",
        stderr(&removed)
    );
    assert_eq!(user_list(&database).as_array().map(Vec::len), Some(1));

    let again = authd_command(&database, &["user", "remove", "alice"], "");
    assert!(!again.status.success(), "removing a missing user must fail");
    assert!(
        stderr(&again).contains("not found"),
        "stderr: {}",
        stderr(&again)
    );
}

#[test]
fn user_list_never_prints_secrets() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let secret = add_user(&database, "alice", "pw");
    for args in [&["user", "list"][..], &["user", "list", "--json"][..]] {
        let text = stdout(&authd_command(&database, args, ""));
        assert!(
            !text.contains(secret.to_base32().as_str()),
            "{args:?} printed the secret:\n{text}"
        );
        assert!(
            !text.contains("argon2"),
            "{args:?} printed the hash:\n{text}"
        );
    }
}

#[test]
fn user_reset_totp_changes_secret() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let old = add_user(&database, "alice", "pw");

    let output = authd_command(&database, &["user", "reset-totp", "alice", "--json"], "");
    assert!(
        output.status.success(),
        "reset-totp failed: {}",
        stderr(&output)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let new = TotpSecret::from_base32(json["secret"].as_str().expect("secret field"))
        .expect("base32 secret");
    assert_ne!(new, old, "reset-totp must draw a new secret");
}

#[test]
fn user_unlock_missing_user_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let output = authd_command(&database, &["user", "unlock", "nobody"], "");
    assert!(
        !output.status.success(),
        "unlock of a missing user must fail"
    );
    assert!(
        stderr(&output).contains("not found"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn user_add_invalid_name_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let output = authd_command(
        &database,
        &["user", "add", "al ice", "--password-stdin"],
        "pw\n",
    );
    assert!(!output.status.success(), "an invalid name must fail");
    assert!(
        stderr(&output).contains("use letters, digits and . _ @ - only"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn corrupt_database_clear_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    fs::write(&database, vec![0x42; 4096]).expect("garbage written");
    let output = authd_command(&database, &["user", "list"], "");
    assert!(!output.status.success(), "a corrupt database must fail");
    assert!(
        stderr(&output).contains("is corrupt or not a SQLite database"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn locked_database_clear_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    add_user(&database, "alice", "pw");

    let holder = rusqlite::Connection::open(&database).expect("sqlite opens");
    holder
        .execute_batch("BEGIN EXCLUSIVE;")
        .expect("exclusive lock taken");
    let output = authd_command(&database, &["user", "unlock", "alice"], "");
    assert!(!output.status.success(), "a locked database must fail");
    assert!(
        stderr(&output).contains("is locked by another process"),
        "stderr: {}",
        stderr(&output)
    );
}

#[test]
fn run_unreachable_socket_clear_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let socket = dir.path().join("absent.sock");
    let socket = socket.to_string_lossy();
    let output = authd_command(&database, &["run", "--management", &socket], "");
    assert!(!output.status.success(), "an absent socket must fail");
    let text = stderr(&output);
    assert!(text.contains("is unreachable"), "stderr: {text}");
    assert!(text.contains("management-client-auth"), "stderr: {text}");
}

#[test]
fn run_remote_address_rejected() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    let output = authd_command(&database, &["run", "--management", "198.18.0.1:7505"], "");
    assert!(!output.status.success(), "a remote address must fail");
    assert!(
        stderr(&output).contains("is not a loopback address"),
        "stderr: {}",
        stderr(&output)
    );
}
