//! Rejected profiles: each error names its line, the bad value and the fix.

mod common;

use common::{parse_error, parse_text_error, with_ca, CA, CERT, KEY, STATIC_KEY};
use ferrovpn_profile::ProfileErrorKind;

/// Lines rejected on their own, with a part of the message each must contain.
const REJECTED_LINES: &[(&str, &str)] = &[
    (
        "plugin /usr/lib/openvpn/plugins/auth-pam.so login",
        "remove the line",
    ),
    (
        "up /etc/openvpn/update-resolv-conf",
        "up runs an external script",
    ),
    (
        "down /etc/openvpn/update-resolv-conf",
        "down runs an external script",
    ),
    (
        "route-up /usr/local/bin/routes.sh",
        "route-up runs an external script",
    ),
    (
        "ipchange /usr/local/bin/ipchange.sh",
        "ipchange runs an external script",
    ),
    (
        "tls-verify /usr/local/bin/verify.sh",
        "use verify-x509-name",
    ),
    (
        "auth-user-pass-verify /usr/local/bin/check.sh via-file",
        "server option",
    ),
    (
        "script-security 2",
        "script-security 2 allows external scripts",
    ),
    ("script-security 3", "remove the line"),
    ("secret static.key", "static key mode"),
    (
        "pkcs12 client.p12",
        "pkcs12 is not supported yet; convert with `openssl pkcs12 -in FILE -nodes` and use \
         ca/cert/key",
    ),
    ("dev tap", "only tun"),
    ("dev tap0", "only tun"),
    ("dev-type tap", "only tun"),
    ("server 198.18.0.0 255.255.255.0", "server option"),
    ("mode server", "server option"),
    ("tls-server", "server option"),
    ("fragment 1300", "fragment"),
    ("socks-proxy 127.0.0.1 1080", "socks-proxy is not supported"),
    ("http-proxy 127.0.0.1 3128", "http-proxy is not supported"),
    (
        "tls-crypt-v2 client.key",
        "ask the server administrator for a tls-crypt or tls-auth key",
    ),
    ("cipher BF-CBC", "unsupported cipher \"BF-CBC\""),
    (
        "cipher AES-256-CBC",
        "data-ciphers AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305",
    ),
    ("tls-version-min 1.0", "add or-highest"),
    ("tls-version-min 1.1", "TLS 1.2 and 1.3 only"),
    ("tls-version-max 1.0", "below 1.2"),
    ("tls-version-max 1.1", "below 1.2"),
    ("remote-cert-tls client", "remote-cert-tls server"),
    ("ns-cert-type client", "remote-cert-tls server"),
    ("comp-lzo", "VORACLE"),
    ("comp-lzo yes", "VORACLE"),
    ("comp-lzo adaptive", "VORACLE"),
    ("compress lz4", "VORACLE"),
    ("compress lz4-v2", "remove the line"),
    ("compress lzo", "VORACLE"),
    (
        "auth MD5",
        "unsupported auth digest \"MD5\"; supported: SHA1, SHA256, SHA384, SHA512",
    ),
    (
        "data-ciphers AES-512-GCM",
        "unsupported cipher \"AES-512-GCM\" in data-ciphers; supported: AES-256-GCM, \
         AES-128-GCM, CHACHA20-POLY1305",
    ),
    (
        "data-ciphers BF-CBC:AES-256-CBC",
        "unsupported ciphers \"BF-CBC\", \"AES-256-CBC\"",
    ),
    ("data-ciphers-fallback BF-CBC", "in data-ciphers-fallback"),
    (
        "static-challenge \"PIN\" 1 base64",
        "invalid value \"base64\" for static-challenge",
    ),
    (
        "static-challenge \"PIN\" yes",
        "invalid value \"yes\" for static-challenge",
    ),
    ("proto tcp-server", "tcp-client"),
    ("proto sctp", "invalid value \"sctp\" for proto"),
    (
        "remote vpn.example.net 70000",
        "invalid value \"70000\" for remote",
    ),
    (
        "remote vpn.example.net 1194 udp extra",
        "remote HOST [PORT] [PROTO]",
    ),
    ("remote", "remote HOST [PORT] [PROTO]"),
    ("keepalive 10", "keepalive PING_SECONDS RESTART_SECONDS"),
    (
        "ping ten",
        "invalid value \"ten\" for ping; expected seconds",
    ),
    ("nobind yes", "nobind"),
    ("key-direction 2", "0 or 1"),
    ("auth-retry always", "none, nointeract or interact"),
    (
        "redirect-gateway def2",
        "invalid value \"def2\" for redirect-gateway",
    ),
    ("route 198.18.0.0 16", "a netmask such as 255.255.255.0"),
    (
        "verify-x509-name vpn.example.net cn",
        "subject, name or name-prefix",
    ),
    ("config other.ovpn", "copy the options"),
    ("tls-remote vpn.example.net", "verify-x509-name"),
    ("crl-verify crl.pem", "crl-verify is not supported yet"),
    ("setenv opt fragment 1300", "fragment"),
    ("setenv", "setenv NAME [VALUE]"),
    (
        "<remote>\nvpn.example.net\n</remote>",
        "cannot be written as a <remote> block",
    ),
    ("<secret>\n00\n</secret>", "static key mode"),
];

#[test]
fn rejected_lines_name_line_and_fix() {
    for (line, expected) in REJECTED_LINES {
        let error = parse_error(line);

        assert_eq!(error.line, Some(1), "{line:?}: {error}");
        let message = error.to_string();
        assert!(
            message.starts_with("test.ovpn line 1: "),
            "{line:?}: {message}"
        );
        assert!(message.contains(expected), "{line:?}: {message}");
    }
}

#[test]
fn error_line_counts_comments_and_blanks() {
    let error = parse_error("# header\n\n; another comment\nplugin auth.so");

    assert_eq!(error.line, Some(4), "error was {error}");
}

#[test]
fn error_line_after_inline_block() {
    let error = parse_error(&format!("<cert>\n{CERT}</cert>\nfragment 1300"));

    let block_lines = CERT.lines().count() + 2;
    assert_eq!(error.line, Some(block_lines + 1), "error was {error}");
}

#[test]
fn unterminated_block_names_tag_and_opening_line() {
    let text = format!("remote vpn.example.net\nnobind\n<ca>\n{CA}");

    let error = parse_text_error(&text);

    assert_eq!(error.line, Some(3), "error was {error}");
    assert!(
        error
            .to_string()
            .contains("<ca> opened here has no closing </ca>"),
        "{error}"
    );
}

#[test]
fn unterminated_quote_names_line() {
    let error = parse_error("nobind\nstatic-challenge \"Enter PIN 1");

    assert_eq!(error.line, Some(2), "error was {error}");
    assert!(
        matches!(
            error.kind,
            ProfileErrorKind::UnterminatedQuote { quote: '"' }
        ),
        "error was {error}"
    );
}

#[test]
fn missing_remote_rejected() {
    let error = parse_text_error(&with_ca("client\ndev tun"));

    assert_eq!(error.line, None, "error was {error}");
    assert_eq!(
        error.to_string(),
        "test.ovpn: the profile has no remote; add `remote HOST [PORT] [PROTO]`"
    );
}

#[test]
fn missing_ca_rejected() {
    let error = parse_text_error("client\nremote vpn.example.net");

    assert_eq!(
        error.to_string(),
        "test.ovpn: the profile has no ca; add <ca>...</ca> or `ca FILE`"
    );
}

#[test]
fn cert_without_key_names_cert_line() {
    let error = parse_error(&format!("nobind\n<cert>\n{CERT}</cert>"));

    assert_eq!(error.line, Some(2), "error was {error}");
    assert!(
        error.to_string().contains("the profile has no key"),
        "{error}"
    );
}

#[test]
fn key_without_cert_names_key_line() {
    let error = parse_error(&format!("<key>\n{KEY}</key>"));

    assert_eq!(error.line, Some(1), "error was {error}");
    assert!(
        error.to_string().contains("the profile has no cert"),
        "{error}"
    );
}

#[test]
fn tls_auth_and_tls_crypt_conflict() {
    let lines =
        format!("<tls-auth>\n{STATIC_KEY}</tls-auth>\n<tls-crypt>\n{STATIC_KEY}</tls-crypt>");

    let error = parse_error(&lines);

    let second_block_line = STATIC_KEY.lines().count() + 3;
    assert_eq!(error.line, Some(second_block_line), "error was {error}");
    assert!(
        error
            .to_string()
            .contains("tls-auth and tls-crypt cannot be used together"),
        "{error}"
    );
}

#[test]
fn inline_marker_without_block() {
    let error = parse_error("nobind\ntls-crypt [inline]");

    assert_eq!(error.line, Some(2), "error was {error}");
    assert!(
        error.to_string().contains("add <tls-crypt>...</tls-crypt>"),
        "{error}"
    );
}

#[test]
fn relative_file_without_base_dir() {
    let error = parse_error("tls-crypt ta.key");

    assert_eq!(error.line, Some(1), "error was {error}");
    assert!(
        error.to_string().contains("relative path \"ta.key\""),
        "{error}"
    );
}

#[test]
fn encrypted_key_rejected() {
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";

    let error = parse_error(&format!("<cert>\n{CERT}</cert>\n<key>\n{encrypted}</key>"));

    assert!(error.to_string().contains("openssl pkey"), "{error}");
}

#[test]
fn damaged_static_key_rejected() {
    let damaged = STATIC_KEY.replacen("bd45", "", 1);

    let error = parse_error(&format!("<tls-crypt>\n{damaged}</tls-crypt>"));

    assert!(error.to_string().contains("508 hex digits"), "{error}");
}

#[test]
fn ca_not_pem_rejected() {
    let error = parse_text_error("remote vpn.example.net\n<ca>\nMIIBkTCCATeg\n</ca>");

    assert_eq!(error.line, Some(2), "error was {error}");
    assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");
}

#[test]
fn connection_block_without_remote() {
    let error = parse_text_error(&with_ca("nobind\n<connection>\nproto tcp\n</connection>"));

    assert_eq!(error.line, Some(2), "error was {error}");
}

#[test]
fn connection_block_error_names_inner_line() {
    let error = parse_text_error(&with_ca(
        "<connection>\nremote a.example.net\nproto sctp\n</connection>",
    ));

    assert_eq!(error.line, Some(3), "error was {error}");
}

#[test]
fn connection_block_two_remotes() {
    let error = parse_text_error(&with_ca(
        "<connection>\nremote a.example.net\nremote b.example.net\n</connection>",
    ));

    assert_eq!(error.line, Some(3), "error was {error}");
}

#[test]
fn dev_without_type_rejected() {
    let error = parse_text_error(&with_ca("remote vpn.example.net\ndev office"));

    assert_eq!(error.line, Some(2), "error was {error}");
    assert!(error.to_string().contains("dev-type tun"), "{error}");
}

#[test]
fn stray_closing_tag_rejected() {
    let error = parse_error("nobind\n</key>");

    assert_eq!(error.line, Some(2), "error was {error}");
}
