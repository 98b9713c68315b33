//! A profile as a commercial VPN provider ships it, loaded from `fixtures/`.

use std::path::PathBuf;

use ferrovpn_profile::{
    AuthRetry, Loaded, Profile, Proto, Remote, ResolvRetry, StaticChallengeFormat, TlsVersionMin,
    TlsWrapConfig, X509NameType,
};
use ferrovpn_protocol::compression::Compression;
use ferrovpn_protocol::DataCipher;

fn load_fixture() -> Loaded {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/example-provider.ovpn");
    Profile::load(&path).unwrap_or_else(|error| panic!("fixture rejected: {error}"))
}

#[test]
fn provider_remotes() {
    let profile = load_fixture().profile;

    let expected = [
        Remote {
            host: "nl1.vpn.example.net".to_owned(),
            port: 1194,
            proto: Proto::Udp,
        },
        Remote {
            host: "nl2.vpn.example.net".to_owned(),
            port: 1194,
            proto: Proto::Udp,
        },
        Remote {
            host: "nl3.vpn.example.net".to_owned(),
            port: 443,
            proto: Proto::Tcp,
        },
    ];
    assert_eq!(profile.remotes, expected);
    assert!(profile.remote_random, "remote-random");
    assert_eq!(
        profile.resolv_retry,
        Some(ResolvRetry::Infinite),
        "resolv-retry"
    );
}

#[test]
fn provider_tls_settings() {
    let profile = load_fixture().profile;

    assert!(profile.ca.is_some(), "ca");
    assert!(
        profile.cert.is_none(),
        "a password-only profile has no cert"
    );
    assert!(profile.remote_cert_tls_server, "remote-cert-tls server");
    assert_eq!(
        profile.verify_x509_name,
        Some(("nl.vpn.example.net".to_owned(), X509NameType::Name)),
        "verify-x509-name"
    );
    assert_eq!(
        profile.tls_version_min,
        Some(TlsVersionMin::V1_2),
        "tls-version-min"
    );
    assert_eq!(profile.auth_digest.as_deref(), Some("SHA512"), "auth");
    let Some(TlsWrapConfig::Auth { direction, .. }) = profile.tls_wrap else {
        panic!("expected tls-auth, found {:?}", profile.tls_wrap);
    };
    assert_eq!(direction, Some(1), "key-direction");
}

#[test]
fn provider_ciphers() {
    let profile = load_fixture().profile;

    assert_eq!(profile.cipher, None, "AES-256-CBC is not supported");
    assert_eq!(
        profile.data_ciphers,
        [
            DataCipher::Aes256Gcm,
            DataCipher::Aes128Gcm,
            DataCipher::Chacha20Poly1305
        ],
        "data-ciphers without AES-256-CBC"
    );
    assert_eq!(
        profile.data_ciphers_fallback,
        Some(DataCipher::Aes256Gcm),
        "fallback"
    );
    assert_eq!(profile.compression, Compression::LzoStub, "comp-lzo no");
}

#[test]
fn provider_authentication() {
    let profile = load_fixture().profile;

    let credentials = profile.auth_user_pass.expect("auth-user-pass");
    assert!(
        credentials.username.is_none(),
        "the user is asked for the username"
    );
    assert!(profile.auth_nocache, "auth-nocache");
    assert_eq!(profile.auth_retry, AuthRetry::Interact, "auth-retry");
    let challenge = profile.static_challenge.expect("static-challenge");
    assert_eq!(
        challenge.text, "Enter your authenticator code",
        "challenge text"
    );
    assert!(challenge.echo, "challenge echo");
    assert_eq!(
        challenge.format,
        StaticChallengeFormat::Scrv1,
        "challenge format"
    );
}

#[test]
fn provider_timers_and_flags() {
    let profile = load_fixture().profile;

    assert_eq!(profile.reneg_sec, Some(0), "reneg-sec");
    assert_eq!(profile.ping, Some(15), "ping");
    assert_eq!(profile.ping_restart, Some(60), "ping-restart");
    assert_eq!(
        profile.explicit_exit_notify,
        Some(2),
        "explicit-exit-notify"
    );
    assert_eq!(profile.mssfix, Some(1450), "mssfix");
    assert_eq!(profile.verb, Some(3), "verb");
    assert!(profile.pull, "client implies pull");
    assert!(profile.nobind, "nobind");
    assert!(profile.persist_key, "persist-key");
    assert!(profile.persist_tun, "persist-tun");
    assert_eq!(profile.dev, "tun", "dev");
}

#[test]
fn provider_setenv() {
    let profile = load_fixture().profile;

    let expected = [
        ("CLIENT_CERT".to_owned(), "0".to_owned()),
        ("UV_PLATFORM".to_owned(), "linux".to_owned()),
    ];
    assert_eq!(profile.setenv, expected);
}

#[test]
fn provider_warnings() {
    let warnings = load_fixture().warnings;

    let listed: Vec<(usize, &str)> = warnings
        .iter()
        .map(|warning| (warning.line, warning.directive.as_str()))
        .collect();
    let expected = [
        (23, "cipher"),
        (24, "data-ciphers"),
        (44, "pull-filter"),
        (45, "route-delay"),
    ];
    assert_eq!(listed, expected);
}
