//! `ferrovpn check` must reject TLS material that `ferrovpn connect` rejects later with
//! exit code 3: a key that does not belong to the certificate, and a truncated certificate.

use std::process::Command;

use ferrovpn_testbed::Pki;

/// Exit code for "invalid profile", from `ferrovpn --help`.
const PROFILE_ERROR: i32 = 3;

fn profile(ca: &str, cert: &str, key: &str) -> String {
    format!(
        "client\ndev tun\nremote 198.18.0.1 1194 udp\nremote-cert-tls server\n\
         <ca>\n{ca}</ca>\n<cert>\n{cert}</cert>\n<key>\n{key}</key>\n"
    )
}

#[test]
fn check_bad_tls_material_exits_3() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = Pki::generate(dir.path());
    let truncated: String = pki
        .client
        .cert_pem
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect();
    let cases = [
        (
            "server key with client cert",
            profile(&pki.ca_cert_pem, &pki.client.cert_pem, &pki.server.key_pem),
        ),
        (
            "truncated client cert",
            profile(&pki.ca_cert_pem, &truncated, &pki.client.key_pem),
        ),
    ];
    for (case, text) in cases {
        let path = dir.path().join("case.ovpn");
        std::fs::write(&path, text).expect("write profile");
        let output = Command::new(env!("CARGO_BIN_EXE_ferrovpn"))
            .arg("check")
            .arg(&path)
            .output()
            .expect("run ferrovpn check");
        assert_eq!(
            output.status.code(),
            Some(PROFILE_ERROR),
            "{case}: check exit status; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
