//! Each supported directive lands in its `Profile` field.

mod common;

use common::{parse, parse_text, with_ca, CA, CERT, KEY, STATIC_KEY};
use ferrovpn_profile::{
    AuthRetry, Profile, Proto, Remote, ResolvRetry, Route, RouteIpv6, StaticChallengeFormat,
    TlsVersionMin, TlsWrapConfig, X509NameType,
};
use ferrovpn_protocol::compression::Compression;
use ferrovpn_protocol::DataCipher;

/// Reads one boolean field of a profile.
type BoolField = fn(&Profile) -> bool;

/// Reads one numeric field of a profile.
type NumberField = fn(&Profile) -> Option<u32>;

fn remote(host: &str, port: u16, proto: Proto) -> Remote {
    Remote {
        host: host.to_owned(),
        port,
        proto,
    }
}

#[test]
fn remote_builtin_defaults() {
    let loaded = parse_text(&with_ca("remote vpn.example.net"));

    assert_eq!(
        loaded.profile.remotes,
        [remote("vpn.example.net", 1194, Proto::Udp)]
    );
}

#[test]
fn remote_defaults_from_later_lines() {
    let loaded = parse_text(&with_ca(
        "remote vpn.example.net\nport 443\nproto tcp-client",
    ));

    assert_eq!(
        loaded.profile.remotes,
        [remote("vpn.example.net", 443, Proto::Tcp)]
    );
}

#[test]
fn remote_own_port_and_proto_win() {
    let loaded = parse_text(&with_ca(
        "port 443\nproto tcp\nremote vpn.example.net 1195 udp6",
    ));

    assert_eq!(
        loaded.profile.remotes,
        [remote("vpn.example.net", 1195, Proto::Udp6)]
    );
}

#[test]
fn remote_port_from_rport() {
    let loaded = parse_text(&with_ca("rport 8443\nremote vpn.example.net"));

    assert_eq!(loaded.profile.remotes[0].port, 8443);
}

#[test]
fn remote_list_keeps_order() {
    let loaded = parse_text(&with_ca(
        "remote a.example.net\nremote b.example.net 443 tcp4",
    ));

    let expected = [
        remote("a.example.net", 1194, Proto::Udp),
        remote("b.example.net", 443, Proto::Tcp4),
    ];
    assert_eq!(loaded.profile.remotes, expected);
}

#[test]
fn connection_blocks_become_remotes() {
    let text = with_ca(
        "port 1195\n\
         <connection>\nremote a.example.net\nproto tcp\n</connection>\n\
         <connection>\nremote b.example.net 443\nnobind\n</connection>",
    );

    let loaded = parse_text(&text);

    let expected = [
        remote("a.example.net", 1195, Proto::Tcp),
        remote("b.example.net", 443, Proto::Udp),
    ];
    assert_eq!(loaded.profile.remotes, expected);
}

#[test]
fn flags_set_fields() {
    let cases: [(&str, BoolField); 8] = [
        ("nobind", |p| p.nobind),
        ("persist-key", |p| p.persist_key),
        ("persist-tun", |p| p.persist_tun),
        ("remote-random", |p| p.remote_random),
        ("auth-nocache", |p| p.auth_nocache),
        ("pull", |p| p.pull),
        ("route-nopull", |p| p.route_nopull),
        ("remote-cert-tls server", |p| p.remote_cert_tls_server),
    ];

    for (line, field) in cases {
        let loaded = parse_text(&with_ca(&format!("remote vpn.example.net\n{line}")));
        assert!(field(&loaded.profile), "{line} did not set its field");
    }
}

#[test]
fn flags_default_false() {
    let profile = parse_text(&with_ca("remote vpn.example.net")).profile;

    assert!(!profile.nobind, "nobind");
    assert!(!profile.pull, "pull");
    assert!(!profile.remote_cert_tls_server, "remote_cert_tls_server");
}

#[test]
fn client_implies_pull() {
    let loaded = parse_text(&with_ca("client\nremote vpn.example.net"));

    assert!(loaded.profile.pull, "client should imply pull");
}

#[test]
fn numbers_set_fields() {
    let cases: [(&str, NumberField, u32); 11] = [
        ("reneg-sec 3600", |p| p.reneg_sec, 3600),
        ("reneg-sec 3600 4000", |p| p.reneg_sec, 3600),
        ("hand-window 90", |p| p.hand_window, 90),
        ("tls-timeout 5", |p| p.tls_timeout, 5),
        ("ping 10", |p| p.ping, 10),
        ("ping-restart 60", |p| p.ping_restart, 60),
        ("ping-exit 120", |p| p.ping_exit, 120),
        ("tun-mtu 1400", |p| p.tun_mtu, 1400),
        ("mssfix 1360", |p| p.mssfix, 1360),
        ("mute 20", |p| p.mute, 20),
        ("connect-retry-max 3", |p| p.connect_retry_max, 3),
    ];

    for (line, field, expected) in cases {
        let loaded = parse(line);
        assert_eq!(field(&loaded.profile), Some(expected), "{line}");
    }
}

#[test]
fn mssfix_without_value_uses_default() {
    assert_eq!(parse("mssfix").profile.mssfix, Some(1492));
}

#[test]
fn verb_level() {
    assert_eq!(parse("verb 4").profile.verb, Some(4));
}

#[test]
fn keepalive_sets_ping_and_restart() {
    let profile = parse("keepalive 10 120").profile;

    assert_eq!(profile.ping, Some(10), "ping");
    assert_eq!(profile.ping_restart, Some(120), "ping_restart");
}

#[test]
fn explicit_exit_notify_forms() {
    assert_eq!(
        parse("explicit-exit-notify").profile.explicit_exit_notify,
        Some(1)
    );
    assert_eq!(
        parse("explicit-exit-notify 3").profile.explicit_exit_notify,
        Some(3)
    );
}

#[test]
fn connect_retry_forms() {
    assert_eq!(
        parse("connect-retry 5").profile.connect_retry,
        Some((5, None))
    );
    assert_eq!(
        parse("connect-retry 5 300").profile.connect_retry,
        Some((5, Some(300)))
    );
}

#[test]
fn resolv_retry_forms() {
    assert_eq!(
        parse("resolv-retry infinite").profile.resolv_retry,
        Some(ResolvRetry::Infinite)
    );
    assert_eq!(
        parse("resolv-retry 60").profile.resolv_retry,
        Some(ResolvRetry::Seconds(60))
    );
}

#[test]
fn dev_tun_number() {
    let loaded = parse_text(&with_ca("dev tun3\nremote vpn.example.net"));

    assert_eq!(loaded.profile.dev, "tun3");
}

#[test]
fn dev_any_name_with_dev_type_tun() {
    let loaded = parse_text(&with_ca("dev office\ndev-type tun\nremote vpn.example.net"));

    assert_eq!(loaded.profile.dev, "office");
}

#[test]
fn dev_defaults_to_tun() {
    let loaded = parse_text(&with_ca("remote vpn.example.net"));

    assert_eq!(loaded.profile.dev, "tun");
}

#[test]
fn inline_ca_cert_key() {
    let loaded = parse(&format!("<cert>\n{CERT}</cert>\n<key>\n{KEY}</key>"));

    assert_eq!(loaded.profile.ca.as_deref(), Some(CA.as_bytes()), "ca");
    assert_eq!(
        loaded.profile.cert.as_deref(),
        Some(CERT.as_bytes()),
        "cert"
    );
    let key = loaded.profile.key.expect("key is set");
    assert_eq!(key.as_slice(), KEY.as_bytes(), "key");
}

#[test]
fn inline_extra_certs() {
    let loaded = parse(&format!("<extra-certs>\n{CA}</extra-certs>"));

    assert_eq!(loaded.profile.extra_certs.as_deref(), Some(CA.as_bytes()));
}

#[test]
fn password_only_client_has_no_cert() {
    let loaded = parse("auth-user-pass");

    assert!(loaded.profile.cert.is_none(), "cert");
    assert!(loaded.profile.key.is_none(), "key");
}

#[test]
fn tls_auth_block_with_key_direction() {
    let loaded = parse(&format!(
        "key-direction 1\n<tls-auth>\n{STATIC_KEY}</tls-auth>"
    ));

    let Some(TlsWrapConfig::Auth { key, direction }) = loaded.profile.tls_wrap else {
        panic!("expected tls-auth");
    };
    assert_eq!(key.as_str(), STATIC_KEY, "key text");
    assert_eq!(direction, Some(1), "direction");
}

#[test]
fn tls_auth_inline_marker_with_direction() {
    let loaded = parse(&format!(
        "tls-auth [inline] 0\n<tls-auth>\n{STATIC_KEY}</tls-auth>"
    ));

    let Some(TlsWrapConfig::Auth { direction, .. }) = loaded.profile.tls_wrap else {
        panic!("expected tls-auth");
    };
    assert_eq!(direction, Some(0));
}

#[test]
fn tls_auth_without_direction() {
    let loaded = parse(&format!("<tls-auth>\n{STATIC_KEY}</tls-auth>"));

    let Some(TlsWrapConfig::Auth { direction, .. }) = loaded.profile.tls_wrap else {
        panic!("expected tls-auth");
    };
    assert_eq!(direction, None);
}

#[test]
fn tls_crypt_block() {
    let loaded = parse(&format!("<tls-crypt>\n{STATIC_KEY}</tls-crypt>"));

    let Some(TlsWrapConfig::Crypt { key }) = loaded.profile.tls_wrap else {
        panic!("expected tls-crypt");
    };
    assert_eq!(key.as_str(), STATIC_KEY);
}

#[test]
fn verify_x509_name_quoted() {
    let loaded = parse(r#"verify-x509-name "C=NL, O=Example, CN=vpn.example.net""#);

    let expected = (
        "C=NL, O=Example, CN=vpn.example.net".to_owned(),
        X509NameType::Subject,
    );
    assert_eq!(loaded.profile.verify_x509_name, Some(expected));
}

#[test]
fn verify_x509_name_prefix() {
    let loaded = parse("verify-x509-name vpn- name-prefix");

    let expected = ("vpn-".to_owned(), X509NameType::NamePrefix);
    assert_eq!(loaded.profile.verify_x509_name, Some(expected));
}

#[test]
fn tls_version_min_values() {
    assert_eq!(
        parse("tls-version-min 1.2").profile.tls_version_min,
        Some(TlsVersionMin::V1_2)
    );
    assert_eq!(
        parse("tls-version-min 1.3 or-highest")
            .profile
            .tls_version_min,
        Some(TlsVersionMin::V1_3)
    );
}

#[test]
fn tls_version_max_13_accepted() {
    let loaded = parse("tls-version-max 1.3");

    assert!(
        loaded.warnings.is_empty(),
        "warnings: {:?}",
        loaded.warnings
    );
}

#[test]
fn cipher_supported() {
    assert_eq!(
        parse("cipher AES-128-GCM").profile.cipher,
        Some(DataCipher::Aes128Gcm)
    );
}

#[test]
fn data_ciphers_default_list() {
    let expected = [
        DataCipher::Aes256Gcm,
        DataCipher::Aes128Gcm,
        DataCipher::Chacha20Poly1305,
    ];

    assert_eq!(parse("").profile.data_ciphers, expected);
}

#[test]
fn data_ciphers_given_list() {
    let loaded = parse("data-ciphers CHACHA20-POLY1305:AES-256-GCM");

    assert_eq!(
        loaded.profile.data_ciphers,
        [DataCipher::Chacha20Poly1305, DataCipher::Aes256Gcm]
    );
}

#[test]
fn ncp_ciphers_is_data_ciphers() {
    let loaded = parse("ncp-ciphers AES-128-GCM");

    assert_eq!(loaded.profile.data_ciphers, [DataCipher::Aes128Gcm]);
}

#[test]
fn data_ciphers_fallback_supported() {
    let loaded = parse("data-ciphers-fallback AES-256-GCM");

    assert_eq!(
        loaded.profile.data_ciphers_fallback,
        Some(DataCipher::Aes256Gcm)
    );
}

#[test]
fn auth_digest_uppercased() {
    assert_eq!(
        parse("auth sha256").profile.auth_digest.as_deref(),
        Some("SHA256")
    );
}

#[test]
fn auth_user_pass_without_file() {
    let credentials = parse("auth-user-pass").profile.auth_user_pass.expect("set");

    assert!(credentials.file.is_none(), "file");
    assert!(credentials.username.is_none(), "username");
    assert!(credentials.password.is_none(), "password");
}

#[test]
fn auth_user_pass_block() {
    let loaded = parse("<auth-user-pass>\nalice\nhunter2\n</auth-user-pass>");

    let credentials = loaded.profile.auth_user_pass.expect("set");
    assert_eq!(credentials.username.as_deref(), Some("alice"), "username");
    assert_eq!(
        credentials.password.as_deref().map(String::as_str),
        Some("hunter2"),
        "password"
    );
}

#[test]
fn auth_user_pass_inline_marker_with_block() {
    let loaded = parse("auth-user-pass [inline]\n<auth-user-pass>\nalice\n</auth-user-pass>");

    let credentials = loaded.profile.auth_user_pass.expect("set");
    assert_eq!(credentials.username.as_deref(), Some("alice"));
}

#[test]
fn auth_retry_interact() {
    assert_eq!(
        parse("auth-retry interact").profile.auth_retry,
        AuthRetry::Interact
    );
    assert_eq!(parse("").profile.auth_retry, AuthRetry::None);
}

#[test]
fn static_challenge_fields() {
    let loaded = parse(r#"static-challenge "Enter OTP code" 0 concat"#);

    let challenge = loaded.profile.static_challenge.expect("set");
    assert_eq!(challenge.text, "Enter OTP code", "text");
    assert!(!challenge.echo, "echo");
    assert_eq!(challenge.format, StaticChallengeFormat::Concat, "format");
}

#[test]
fn routes_accumulate() {
    let loaded = parse("route 198.18.0.0 255.254.0.0\nroute 198.19.1.1");

    let expected = [
        Route {
            network: "198.18.0.0".to_owned(),
            netmask: Some("255.254.0.0".to_owned()),
            gateway: None,
            metric: None,
        },
        Route {
            network: "198.19.1.1".to_owned(),
            netmask: None,
            gateway: None,
            metric: None,
        },
    ];
    assert_eq!(loaded.profile.routes, expected);
}

#[test]
fn route_ipv6_fields() {
    let loaded = parse("route-ipv6 fd00:10::/64 fd00::1 7");

    let expected = RouteIpv6 {
        network: "fd00:10::/64".to_owned(),
        gateway: Some("fd00::1".to_owned()),
        metric: Some(7),
    };
    assert_eq!(loaded.profile.routes_ipv6, [expected]);
}

#[test]
fn dhcp_options_accumulate() {
    let loaded = parse("dhcp-option DNS 198.18.0.53\ndhcp-option DOMAIN corp.example.net");

    let expected = [
        ("DNS".to_owned(), "198.18.0.53".to_owned()),
        ("DOMAIN".to_owned(), "corp.example.net".to_owned()),
    ];
    assert_eq!(loaded.profile.dhcp_options, expected);
}

#[test]
fn redirect_gateway_flags() {
    let loaded = parse("redirect-gateway def1 bypass-dhcp");

    let expected = vec!["def1".to_owned(), "bypass-dhcp".to_owned()];
    assert_eq!(loaded.profile.redirect_gateway, Some(expected));
}

#[test]
fn compression_framing_forms() {
    let cases = [
        ("", Compression::None),
        ("comp-lzo no", Compression::LzoStub),
        ("compress", Compression::Stub),
        ("compress stub", Compression::Stub),
        ("compress stub-v2", Compression::StubV2),
        ("comp-lzo no\ncompress stub-v2", Compression::StubV2),
    ];

    for (lines, expected) in cases {
        assert_eq!(parse(lines).profile.compression, expected, "{lines:?}");
    }
}

#[test]
fn setenv_pairs() {
    let loaded = parse("setenv UV_ID 42\nsetenv FORWARD_COMPATIBLE 1\nsetenv EMPTY");

    let expected = [
        ("UV_ID".to_owned(), "42".to_owned()),
        ("FORWARD_COMPATIBLE".to_owned(), "1".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ];
    assert_eq!(loaded.profile.setenv, expected);
}

#[test]
fn setenv_opt_applies_known_directive() {
    let loaded = parse("setenv opt tun-mtu 1400");

    assert_eq!(loaded.profile.tun_mtu, Some(1400), "tun-mtu");
    assert!(
        loaded.profile.setenv.is_empty(),
        "setenv opt is not an environment variable"
    );
}

#[test]
fn harmless_levels_accepted() {
    let loaded = parse("script-security 1\nmode p2p\nallow-compression no");

    assert!(
        loaded.warnings.is_empty(),
        "warnings: {:?}",
        loaded.warnings
    );
}

#[test]
fn double_dash_prefix_accepted() {
    assert!(
        parse("--nobind").profile.nobind,
        "--nobind should set nobind"
    );
}

#[test]
fn later_directive_replaces_earlier() {
    assert_eq!(
        parse("tun-mtu 1400\ntun-mtu 1300").profile.tun_mtu,
        Some(1300)
    );
}

#[test]
fn quoting_and_escapes_reach_fields() {
    let lines = concat!(
        r#"static-challenge "Say \"yes\" to continue" 1"#,
        "\n",
        r"setenv UV_NOTE one\ two",
        "\n",
        r"setenv UV_PATH 'C:\vpn\keys'",
        "\n",
        "setenv UV_HASH a#b # trailing comment",
    );

    let profile = parse(lines).profile;

    assert_eq!(
        profile.static_challenge.expect("set").text,
        r#"Say "yes" to continue"#
    );
    let expected = [
        ("UV_NOTE".to_owned(), "one two".to_owned()),
        ("UV_PATH".to_owned(), r"C:\vpn\keys".to_owned()),
        ("UV_HASH".to_owned(), "a#b".to_owned()),
    ];
    assert_eq!(profile.setenv, expected);
}

#[test]
fn crlf_line_endings() {
    let text = with_ca("client\r\nremote vpn.example.net 443\r\nnobind\r\n").replace('\n', "\r\n");

    let profile = parse_text(&text).profile;

    assert_eq!(profile.remotes[0].port, 443, "port");
    assert!(profile.nobind, "nobind");
    assert!(
        !profile.ca.expect("ca").contains(&b'\r'),
        "ca should have no CR"
    );
}

#[test]
fn debug_hides_secrets() {
    let lines = format!(
        "<cert>\n{CERT}</cert>\n<key>\n{KEY}</key>\n<tls-crypt>\n{STATIC_KEY}</tls-crypt>\n\
         <auth-user-pass>\nalice\nhunter2\n</auth-user-pass>"
    );
    let profile = parse(&lines).profile;

    let printed = format!("{profile:?}");

    let key_line = KEY.lines().nth(1).expect("key body");
    let static_key_line = STATIC_KEY.lines().nth(5).expect("static key body");
    assert!(!printed.contains(key_line), "Debug printed the private key");
    assert!(
        !printed.contains(static_key_line),
        "Debug printed the tls-crypt key"
    );
    assert!(!printed.contains("hunter2"), "Debug printed the password");
    assert!(printed.contains("alice"), "Debug should print the username");
}
