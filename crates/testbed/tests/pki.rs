//! The throwaway PKI, checked with `openssl`.

use std::path::Path;
use std::process::Command;

use ferrovpn_testbed::{CertRole, KeyAlgorithm, Pki, CLIENT_COMMON_NAME, SERVER_COMMON_NAME};

fn openssl(args: &[&str]) -> Result<String, String> {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .map_err(|error| format!("failed to run openssl: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

fn verify(ca: &Path, cert: &Path, purpose: &str) -> Result<String, String> {
    let ca = ca.to_string_lossy();
    let cert = cert.to_string_lossy();
    openssl(&["verify", "-CAfile", &ca, "-purpose", purpose, &cert])
}

fn certificate_text(cert: &Path) -> String {
    let cert = cert.to_string_lossy();
    openssl(&["x509", "-in", &cert, "-noout", "-text"]).expect("certificate must parse")
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[test]
fn ecdsa_certificates_verify_for_purpose() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    let cases = [
        (&pki.server.cert_path, "sslserver"),
        (&pki.client.cert_path, "sslclient"),
    ];
    for (cert, purpose) in cases {
        let result = verify(&pki.ca_cert_path, cert, purpose);
        assert!(
            result.is_ok(),
            "{cert:?} must verify for {purpose}: {result:?}"
        );
    }
}

#[test]
fn rsa_certificates_verify_for_purpose() {
    let dir = temp_dir();
    let pki = Pki::generate_rsa(dir.path());
    let cases = [
        (&pki.server.cert_path, "sslserver"),
        (&pki.client.cert_path, "sslclient"),
    ];
    for (cert, purpose) in cases {
        let result = verify(&pki.ca_cert_path, cert, purpose);
        assert!(
            result.is_ok(),
            "{cert:?} must verify for {purpose}: {result:?}"
        );
    }
}

#[test]
fn client_certificate_fails_server_purpose() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    let result = verify(&pki.ca_cert_path, &pki.client.cert_path, "sslserver");
    assert!(
        result.is_err(),
        "a clientAuth-only certificate must not pass as a server"
    );
}

#[test]
fn certificates_from_other_ca_fail() {
    let dir = temp_dir();
    let first = Pki::generate(dir.path());
    let second = Pki::generate(dir.path());
    let result = verify(&first.ca_cert_path, &second.client.cert_path, "sslclient");
    assert!(
        result.is_err(),
        "a certificate of another CA must not verify"
    );
}

#[test]
fn common_names_match_constants() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    let server_text = certificate_text(&pki.server.cert_path);
    let client_text = certificate_text(&pki.client.cert_path);
    let server_cn = format!("CN = {SERVER_COMMON_NAME}");
    let client_cn = format!("CN = {CLIENT_COMMON_NAME}");
    assert!(
        server_text.contains(&server_cn),
        "server subject lacks {server_cn}:\n{server_text}"
    );
    assert!(
        client_text.contains(&client_cn),
        "client subject lacks {client_cn}:\n{client_text}"
    );
}

#[test]
fn server_certificate_has_key_usage() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    let text = certificate_text(&pki.server.cert_path);
    assert!(
        text.contains("X509v3 Key Usage"),
        "keyUsage missing:\n{text}"
    );
    assert!(
        text.contains("TLS Web Server Authentication"),
        "EKU missing:\n{text}"
    );
}

#[test]
fn ecdsa_keys_are_p256() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    assert_eq!(pki.algorithm, KeyAlgorithm::EcdsaP256);
    let text = certificate_text(&pki.client.cert_path);
    assert!(
        text.contains("prime256v1"),
        "client key must be P-256:\n{text}"
    );
    assert!(
        pki.client.key_pkcs1_pem.is_none(),
        "ECDSA keys have no PKCS#1 form"
    );
}

#[test]
fn rsa_keys_have_both_forms() {
    let dir = temp_dir();
    let pki = Pki::generate_rsa(dir.path());
    let pkcs1 = pki.client.key_pkcs1_pem.as_deref().expect("PKCS#1 form");
    let pkcs8 = &pki.client.key_pem;
    assert!(
        pkcs8.starts_with("-----BEGIN PRIVATE KEY-----"),
        "not PKCS#8: {pkcs8:.40}"
    );
    assert!(
        pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "not PKCS#1: {pkcs1:.40}"
    );
    let text = certificate_text(&pki.client.cert_path);
    assert!(
        text.contains("(2048 bit)"),
        "client key must be RSA-2048:\n{text}"
    );
}

#[test]
fn issue_adds_certificate_with_name() {
    let dir = temp_dir();
    let pki = Pki::generate(dir.path());
    let second = pki.issue(CertRole::Client, "second-client");
    let text = certificate_text(&second.cert_path);
    assert!(
        text.contains("CN = second-client"),
        "subject lacks the new CN:\n{text}"
    );
    let result = verify(&pki.ca_cert_path, &second.cert_path, "sslclient");
    assert!(result.is_ok(), "issued certificate must verify: {result:?}");
}

#[test]
fn static_key_has_openvpn_format() {
    let dir = temp_dir();
    let key = Pki::static_key(dir.path());
    let begin = key.contains("-----BEGIN OpenVPN Static key V1-----");
    let end = key.contains("-----END OpenVPN Static key V1-----");
    assert!(begin, "static key lacks the BEGIN line");
    assert!(end, "static key lacks the END line");
}

#[test]
fn static_keys_differ() {
    let dir = temp_dir();
    let first = Pki::static_key(dir.path());
    let second = Pki::static_key(dir.path());
    assert_ne!(first, second, "two generated static keys must differ");
}
