//! Directives accepted with a warning, and those accepted silently.

mod common;

use common::parse;

#[test]
fn unknown_directive_warned_once() {
    let loaded = parse("route-delay 2\nnobind\nroute-delay 5");

    assert_eq!(loaded.warnings.len(), 1, "warnings: {:?}", loaded.warnings);
    let warning = &loaded.warnings[0];
    assert_eq!(warning.line, 1, "first occurrence");
    assert_eq!(warning.directive, "route-delay", "directive");
    assert!(
        warning.message.contains("\"route-delay\""),
        "message: {}",
        warning.message
    );
}

#[test]
fn unknown_directives_each_warned() {
    let loaded = parse("route-delay 2\nconnect-timeout 10\nroute-delay 2\nconnect-timeout 5");

    let directives: Vec<&str> = loaded
        .warnings
        .iter()
        .map(|w| w.directive.as_str())
        .collect();
    assert_eq!(directives, ["route-delay", "connect-timeout"]);
}

#[test]
fn unknown_block_warned() {
    let loaded = parse("<dh>\n-----BEGIN DH PARAMETERS-----\n</dh>");

    assert_eq!(loaded.warnings.len(), 1, "warnings: {:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].directive, "dh");
}

#[test]
fn harmless_directives_silent() {
    let lines = [
        "client",
        "tls-client",
        "nobind",
        "persist-key",
        "persist-tun",
        "resolv-retry infinite",
        "verb 3",
        "mute 10",
        "mute-replay-warnings",
        "auth-nocache",
        "float",
        "user nobody",
        "group nogroup",
        "sndbuf 393216",
        "rcvbuf 393216",
        "block-outside-dns",
        "register-dns",
        "key-direction 1",
        "setenv opt block-outside-dns",
        "ignore-unknown-option block-outside-dns",
    ];

    for line in lines {
        let loaded = parse(line);
        assert!(loaded.warnings.is_empty(), "{line}: {:?}", loaded.warnings);
    }
}

#[test]
fn accepted_with_warning() {
    let cases = [
        (
            "pull-filter ignore redirect-gateway",
            "pull-filter is not implemented",
        ),
        ("ns-cert-type server", "deprecated"),
        (
            "remote-cert-eku \"TLS Web Server Authentication\"",
            "remote-cert-eku is not checked",
        ),
        ("remote-cert-ku a0 88", "remote-cert-ku is not checked"),
        ("tls-version-min 1.0 or-highest", "raised to TLS 1.2"),
        ("tls-version-max 1.2", "TLS 1.3 may be negotiated"),
        (
            "data-ciphers AES-256-GCM:BF-CBC",
            "\"BF-CBC\" is not supported and is skipped",
        ),
        (
            "cipher AES-256-CBC\ndata-ciphers AES-256-GCM",
            "cipher \"AES-256-CBC\" is not supported",
        ),
        ("allow-compression yes", "ferrovpn never compresses"),
        ("mssfix 1400 mtu", "mssfix mtu is not applied"),
        (
            "setenv opt route-delay 2",
            "\"route-delay\" is not supported",
        ),
    ];

    for (lines, expected) in cases {
        let loaded = parse(lines);
        assert_eq!(loaded.warnings.len(), 1, "{lines:?}: {:?}", loaded.warnings);
        let message = &loaded.warnings[0].message;
        assert!(message.contains(expected), "{lines:?}: {message}");
    }
}

#[test]
fn ns_cert_type_sets_remote_cert_tls() {
    assert!(parse("ns-cert-type server").profile.remote_cert_tls_server);
}

#[test]
fn warnings_sorted_by_line() {
    let loaded = parse("cipher AES-256-CBC\nroute-delay 2\ndata-ciphers AES-256-GCM");

    let lines: Vec<usize> = loaded.warnings.iter().map(|warning| warning.line).collect();
    assert_eq!(lines, [1, 2]);
}

#[test]
fn warning_display_has_line() {
    let loaded = parse("\nroute-delay 2");

    assert_eq!(
        loaded.warnings[0].to_string(),
        "line 2: directive \"route-delay\" is not supported and is ignored"
    );
}
