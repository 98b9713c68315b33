//! Files a profile references, resolved against the profile's directory.

mod common;

use std::fs;
use std::path::Path;

use common::{CA, CERT, KEY, STATIC_KEY};
use ferrovpn_profile::{Profile, ProfileErrorKind, TlsWrapConfig};
use tempfile::TempDir;

/// Writes `files` into a new temporary directory.
fn directory_with(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, content) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent directory");
        }
        fs::write(path, content).expect("write fixture file");
    }
    dir
}

#[test]
fn load_resolves_files_next_to_profile() {
    let profile_text = "client\nremote vpn.example.net\nca ca.crt\ncert keys/client.crt\n\
                        key keys/client.key\ntls-auth ta.key 1\n";
    let dir = directory_with(&[
        ("client.ovpn", profile_text),
        ("ca.crt", CA),
        ("keys/client.crt", CERT),
        ("keys/client.key", KEY),
        ("ta.key", STATIC_KEY),
    ]);

    let profile = Profile::load(&dir.path().join("client.ovpn"))
        .expect("valid profile")
        .profile;

    assert_eq!(profile.ca.as_deref(), Some(CA.as_bytes()), "ca");
    assert_eq!(profile.cert.as_deref(), Some(CERT.as_bytes()), "cert");
    assert_eq!(
        profile.key.as_ref().map(|key| key.as_slice()),
        Some(KEY.as_bytes()),
        "key"
    );
    let Some(TlsWrapConfig::Auth { key, direction }) = profile.tls_wrap else {
        panic!("expected tls-auth");
    };
    assert_eq!(key.as_str(), STATIC_KEY, "tls-auth key");
    assert_eq!(direction, Some(1), "direction");
}

#[test]
fn parse_resolves_against_base_dir() {
    let dir = directory_with(&[("ca.crt", CA), ("ta.key", STATIC_KEY)]);
    let text = "remote vpn.example.net\nca ca.crt\ntls-crypt ta.key\n";

    let profile = Profile::parse(text, "memory", Some(dir.path()))
        .expect("valid")
        .profile;

    assert_eq!(profile.ca.as_deref(), Some(CA.as_bytes()), "ca");
    assert!(
        matches!(profile.tls_wrap, Some(TlsWrapConfig::Crypt { .. })),
        "tls_wrap was {:?}",
        profile.tls_wrap
    );
}

#[test]
fn absolute_path_needs_no_base_dir() {
    let dir = directory_with(&[("ca.crt", CA)]);
    let ca_path = dir.path().join("ca.crt");
    let text = format!("remote vpn.example.net\nca \"{}\"\n", ca_path.display());

    let profile = Profile::parse(&text, "memory", None)
        .expect("valid")
        .profile;

    assert_eq!(profile.ca.as_deref(), Some(CA.as_bytes()));
}

#[test]
fn missing_file_names_resolved_path_and_line() {
    let dir = directory_with(&[(
        "client.ovpn",
        "remote vpn.example.net\n\nca missing/ca.crt\n",
    )]);

    let error = Profile::load(&dir.path().join("client.ovpn")).expect_err("ca.crt is missing");

    let resolved = dir.path().join("missing/ca.crt");
    assert_eq!(error.line, Some(3), "error was {error}");
    assert!(
        matches!(&error.kind, ProfileErrorKind::ReadFile { path, .. } if path == &resolved),
        "error was {error}"
    );
    assert!(
        error.to_string().contains(&resolved.display().to_string()),
        "{error}"
    );
}

#[test]
fn load_missing_profile() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("absent.ovpn");

    let error = Profile::load(&path).expect_err("the profile does not exist");

    assert_eq!(error.line, None, "error was {error}");
    assert_eq!(error.source_name, path.display().to_string(), "source name");
}

#[test]
fn error_source_is_profile_path() {
    let dir = directory_with(&[("client.ovpn", "plugin auth.so\n")]);
    let path = dir.path().join("client.ovpn");

    let error = Profile::load(&path).expect_err("plugin is rejected");

    let expected_start = format!("{} line 1: ", path.display());
    assert!(error.to_string().starts_with(&expected_start), "{error}");
}

#[test]
fn auth_user_pass_file_with_password() {
    let dir = directory_with(&[("ca.crt", CA), ("login.txt", "alice\nhunter2\n")]);
    let text = "remote vpn.example.net\nca ca.crt\nauth-user-pass login.txt\n";

    let profile = Profile::parse(text, "memory", Some(dir.path()))
        .expect("valid")
        .profile;

    let credentials = profile.auth_user_pass.expect("auth-user-pass is set");
    assert_eq!(
        credentials.file.as_deref(),
        Some(dir.path().join("login.txt").as_path())
    );
    assert_eq!(credentials.username.as_deref(), Some("alice"), "username");
    assert_eq!(
        credentials.password.as_deref().map(String::as_str),
        Some("hunter2"),
        "password"
    );
}

#[test]
fn auth_user_pass_file_username_only() {
    let dir = directory_with(&[("ca.crt", CA), ("login.txt", "alice\n")]);
    let text = "remote vpn.example.net\nca ca.crt\nauth-user-pass login.txt\n";

    let profile = Profile::parse(text, "memory", Some(dir.path()))
        .expect("valid")
        .profile;

    let credentials = profile.auth_user_pass.expect("auth-user-pass is set");
    assert_eq!(credentials.username.as_deref(), Some("alice"), "username");
    assert!(
        credentials.password.is_none(),
        "password should be asked for"
    );
}

#[test]
fn auth_user_pass_empty_file_rejected() {
    let dir = directory_with(&[("ca.crt", CA), ("login.txt", "")]);
    let text = "remote vpn.example.net\nca ca.crt\nauth-user-pass login.txt\n";

    let error = Profile::parse(text, "memory", Some(dir.path())).expect_err("no username");

    assert_eq!(error.line, Some(3), "error was {error}");
    assert!(error.to_string().contains("login.txt"), "{error}");
}

#[test]
fn cd_changes_base_dir() {
    let dir = directory_with(&[("keys/ca.crt", CA)]);
    let text = "remote vpn.example.net\ncd keys\nca ca.crt\n";

    let profile = Profile::parse(text, "memory", Some(dir.path()))
        .expect("valid")
        .profile;

    assert_eq!(profile.ca.as_deref(), Some(CA.as_bytes()));
}

#[test]
fn load_relative_profile_path() {
    let dir = directory_with(&[
        ("client.ovpn", "remote vpn.example.net\nca ca.crt\n"),
        ("ca.crt", CA),
    ]);
    let relative = relative_to_current_dir(dir.path()).join("client.ovpn");

    let profile = Profile::load(&relative).expect("valid").profile;

    assert!(
        profile.ca.is_some(),
        "ca should be read next to the profile"
    );
}

/// Builds a relative path from the current directory to `target`.
fn relative_to_current_dir(target: &Path) -> std::path::PathBuf {
    let current = std::env::current_dir().expect("current directory");
    let depth = current.components().count() - 1;
    let mut relative = std::path::PathBuf::new();
    for _ in 0..depth {
        relative.push("..");
    }
    relative.join(
        target
            .strip_prefix("/")
            .expect("absolute temporary directory"),
    )
}
