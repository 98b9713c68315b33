//! The TLS client of the control channel, built on rustls with the ring provider.
//!
//! OpenVPN identifies a server by its certificate chain and the profile's
//! `remote-cert-tls` and `verify-x509-name` options, never by host name. The verifier
//! here therefore validates the chain against the profile's CA with rustls-webpki and then
//! applies those two options, and the connection sends no SNI. Every key_id runs a fresh
//! TLS session, so resumption is disabled.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, TrustAnchor, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::x509::X509Name;
use zeroize::Zeroizing;

/// Server name given to rustls, which needs one. It is neither sent (SNI is off) nor checked.
const PLACEHOLDER_SERVER_NAME: &str = "openvpn-server.invalid";

/// Maximum length of a common name that OpenVPN 2.6 extracts (`TLS_USERNAME_LEN`).
const COMMON_NAME_MAX_LEN: usize = 64;

/// The TLS part of a profile.
#[derive(Clone)]
pub struct TlsSettings {
    /// `ca`: PEM certificates the server's chain must lead to.
    pub ca_pem: Vec<u8>,
    /// `cert`: the client certificate in PEM, followed by any intermediates.
    pub cert_pem: Option<Vec<u8>>,
    /// `key`: the client's unencrypted private key in PEM, wiped from memory on drop.
    pub key_pem: Option<Zeroizing<Vec<u8>>>,
    /// `remote-cert-tls server`: the server certificate needs keyUsage and the serverAuth EKU.
    pub remote_cert_tls_server: bool,
    /// `verify-x509-name`: the required subject or common name of the server certificate.
    pub verify_x509_name: Option<VerifyX509Name>,
    /// `tls-version-min`. OpenVPN's default, and `None`, is TLS 1.2.
    pub tls_version_min: Option<TlsVersion>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_pem_len", &self.ca_pem.len())
            .field("has_cert", &self.cert_pem.is_some())
            .field("has_key", &self.key_pem.is_some())
            .field("remote_cert_tls_server", &self.remote_cert_tls_server)
            .field("verify_x509_name", &self.verify_x509_name)
            .field("tls_version_min", &self.tls_version_min)
            .finish()
    }
}

/// The `verify-x509-name <name> [type]` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyX509Name {
    /// The expected subject, common name or common name prefix.
    pub name: String,
    /// The certificate field that `name` is compared with.
    pub kind: X509NameKind,
}

/// The type argument of `verify-x509-name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum X509NameKind {
    /// `subject`, OpenVPN's default: the whole subject in OpenSSL's one-line form, such as
    /// `C=KG, ST=NA, L=Bishkek, O=Example, CN=server`.
    Subject,
    /// `name`: the common name, exactly.
    Name,
    /// `name-prefix`: the start of the common name.
    NamePrefix,
}

/// The `tls-version-min` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2, OpenVPN's default minimum.
    V1_2,
    /// TLS 1.3 only.
    V1_3,
}

/// A TLS setting from the profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The `ca` PEM contains no certificate.
    #[error("no certificate found in the ca PEM; it needs a -----BEGIN CERTIFICATE----- block")]
    NoCaCertificate,
    /// A PEM block is malformed.
    #[error("the {item} PEM is malformed: {detail}")]
    InvalidPem {
        /// `ca`, `cert` or `key`.
        item: &'static str,
        /// The parser's message.
        detail: String,
    },
    /// A `ca` certificate cannot serve as a trust anchor.
    #[error("certificate {index} in the ca PEM is not a valid X.509 certificate: {detail}")]
    InvalidCaCertificate {
        /// Position of the certificate in the PEM, from 1.
        index: usize,
        /// The parser's message.
        detail: String,
    },
    /// The `cert` PEM contains no certificate.
    #[error("no certificate found in the cert PEM; it needs a -----BEGIN CERTIFICATE----- block")]
    NoClientCertificate,
    /// `cert` is set but `key` is not, or the other way round.
    #[error("the profile has a {present} but no {missing}; client authentication needs both")]
    IncompleteClientAuth {
        /// The item that is set.
        present: &'static str,
        /// The item that is missing.
        missing: &'static str,
    },
    /// The `key` PEM contains no private key.
    #[error(
        "no private key found in the key PEM; it needs a PRIVATE KEY, RSA PRIVATE KEY or \
         EC PRIVATE KEY block"
    )]
    NoPrivateKey,
    /// The private key is encrypted with a passphrase.
    #[error(
        "the private key is encrypted; decrypt it first, for example with \
         `openssl pkey -in key.pem -out key-plain.pem`"
    )]
    EncryptedKey,
    /// The private key has a type or encoding the ring provider cannot load.
    #[error("private key is not RSA/ECDSA PKCS#8, PKCS#1 or SEC1: {detail}")]
    UnsupportedKey {
        /// The provider's message.
        detail: String,
    },
    /// The client certificate cannot be parsed.
    #[error("the client certificate in the cert PEM is not a valid X.509 certificate: {detail}")]
    InvalidClientCertificate {
        /// The parser's message.
        detail: String,
    },
    /// The client certificate's public key does not belong to the private key.
    #[error(
        "certificate does not match key: the cert and key files belong to different key pairs"
    )]
    KeyMismatch,
    /// rustls rejected the configuration.
    #[error("TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A server certificate rejection by the `remote-cert-tls` or `verify-x509-name` check,
/// which runs after the chain verified.
///
/// It reaches the caller inside `rustls::Error::InvalidCertificate`. Use
/// [`ServerCertRejected::from_tls_error`] to find it.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerCertRejected {
    /// `remote-cert-tls server` and the certificate has no keyUsage extension.
    #[error("server certificate has no keyUsage extension, which remote-cert-tls server requires")]
    MissingKeyUsage,
    /// `remote-cert-tls server` and the certificate's EKU lacks serverAuth.
    #[error(
        "server certificate's extendedKeyUsage lacks serverAuth (TLS Web Server \
         Authentication), which remote-cert-tls server requires"
    )]
    MissingServerAuth,
    /// The certificate's subject or common name does not match `verify-x509-name`.
    #[error(
        "server certificate {field} {actual:?} does not match verify-x509-name {expected:?} \
         ({kind})"
    )]
    NameMismatch {
        /// `subject` or `common name`.
        field: &'static str,
        /// `subject`, `name` or `name-prefix`.
        kind: &'static str,
        /// The value in the certificate.
        actual: String,
        /// The value in the profile.
        expected: String,
    },
    /// `verify-x509-name` needs a common name, and the certificate has none.
    #[error("server certificate has no common name (CN), which verify-x509-name requires")]
    MissingCommonName,
    /// x509-parser cannot read an extension or name that webpki accepted.
    #[error("server certificate cannot be read: {detail}")]
    Unreadable {
        /// The parser's message.
        detail: String,
    },
}

impl fmt::Debug for ServerCertRejected {
    // rustls shows `CertificateError::Other` with `Debug`, so this prints the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl ServerCertRejected {
    /// Returns the rejection inside a rustls error, if the verifier of this module raised it.
    pub fn from_tls_error(error: &rustls::Error) -> Option<&ServerCertRejected> {
        match error {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
                inner.downcast_ref::<ServerCertRejected>()
            }
            _ => None,
        }
    }

    fn into_tls_error(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(self))))
    }
}

/// Builds the rustls client configuration for every key_id of a connection.
///
/// Offers TLS 1.2 and 1.3 (1.3 only with `tls-version-min 1.3`), disables resumption and SNI,
/// and presents the client certificate when the profile has one.
pub fn build_client_config(
    settings: &TlsSettings,
) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = parse_trust_anchors(&settings.ca_pem)?;

    let verifier = Arc::new(OpenVpnServerVerifier {
        roots,
        remote_cert_tls_server: settings.remote_cert_tls_server,
        verify_x509_name: settings.verify_x509_name.clone(),
        algorithms: provider.signature_verification_algorithms,
    });

    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.tls_version_min {
        Some(TlsVersion::V1_3) => &[&rustls::version::TLS13],
        Some(TlsVersion::V1_2) | None => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };

    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let mut config = match (&settings.cert_pem, &settings.key_pem) {
        (Some(cert_pem), Some(key_pem)) => {
            let certified_key = load_client_identity(cert_pem, key_pem, &provider)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(certified_key)))
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(_), None) => {
            return Err(TlsSetupError::IncompleteClientAuth {
                present: "cert",
                missing: "key",
            })
        }
        (None, Some(_)) => {
            return Err(TlsSetupError::IncompleteClientAuth {
                present: "key",
                missing: "cert",
            })
        }
    };

    config.resumption = Resumption::disabled();
    config.enable_sni = false;
    Ok(Arc::new(config))
}

/// Creates the TLS client of one key_id.
pub fn new_connection(
    config: &Arc<rustls::ClientConfig>,
) -> Result<rustls::ClientConnection, rustls::Error> {
    let server_name = ServerName::try_from(PLACEHOLDER_SERVER_NAME)
        .map_err(|error| rustls::Error::General(error.to_string()))?;
    rustls::ClientConnection::new(config.clone(), server_name)
}

fn parse_trust_anchors(ca_pem: &[u8]) -> Result<Vec<TrustAnchor<'static>>, TlsSetupError> {
    let mut anchors = Vec::new();

    for (position, certificate) in CertificateDer::pem_slice_iter(ca_pem).enumerate() {
        let index = position + 1;
        let certificate = certificate.map_err(|error| TlsSetupError::InvalidPem {
            item: "ca",
            detail: describe_pem_error(&error),
        })?;
        let anchor = webpki::anchor_from_trusted_cert(&certificate).map_err(|error| {
            TlsSetupError::InvalidCaCertificate {
                index,
                detail: error.to_string(),
            }
        })?;
        anchors.push(anchor.to_owned());
    }

    if anchors.is_empty() {
        return Err(TlsSetupError::NoCaCertificate);
    }
    Ok(anchors)
}

fn load_client_identity(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsSetupError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsSetupError::InvalidPem {
            item: "cert",
            detail: describe_pem_error(&error),
        })?;
    if chain.is_empty() {
        return Err(TlsSetupError::NoClientCertificate);
    }

    // Encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY") and legacy encrypted PEM ("Proc-Type:
    // 4,ENCRYPTED") both contain this word, which no unencrypted key block does.
    if key_pem
        .windows(b"ENCRYPTED".len())
        .any(|window| window == b"ENCRYPTED")
    {
        return Err(TlsSetupError::EncryptedKey);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => TlsSetupError::NoPrivateKey,
        other => TlsSetupError::InvalidPem {
            item: "key",
            detail: describe_pem_error(&other),
        },
    })?;

    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| TlsSetupError::UnsupportedKey {
            detail: error.to_string(),
        })?;

    let certified_key = CertifiedKey::new(chain, signing_key);
    match certified_key.keys_match() {
        Ok(()) => Ok(certified_key),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsSetupError::KeyMismatch)
        }
        // The key cannot report its public key, so the pair cannot be compared here. The
        // server's signature check still catches a mismatch.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified_key)
        }
        Err(other) => Err(TlsSetupError::InvalidClientCertificate {
            detail: other.to_string(),
        }),
    }
}

/// Verifies the server certificate as an OpenVPN 2.6 client does.
#[derive(Debug)]
struct OpenVpnServerVerifier {
    /// Trust anchors from the profile's `ca`.
    roots: Vec<TrustAnchor<'static>>,
    /// `remote-cert-tls server`.
    remote_cert_tls_server: bool,
    /// `verify-x509-name`.
    verify_x509_name: Option<VerifyX509Name>,
    /// Signature algorithms of the crypto provider.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for OpenVpnServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // OpenSSL, which OpenVPN 2.6 uses, verifies a server chain with the `ssl_server`
        // purpose: an extendedKeyUsage, where present, must include serverAuth. webpki's
        // `server_auth` usage applies the same rule to each certificate of the chain.
        let certificate = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        certificate
            .verify_for_usage(
                self.algorithms.all,
                &self.roots,
                intermediates,
                now,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(pki_error)?;

        self.verify_openvpn_options(end_entity)
            .map_err(ServerCertRejected::into_tls_error)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, certificate, signature, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, certificate, signature, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

impl OpenVpnServerVerifier {
    /// Applies `remote-cert-tls server` and `verify-x509-name` to the leaf certificate, as
    /// OpenVPN 2.6 `ssl_verify.c` `verify_peer_cert` does.
    fn verify_openvpn_options(
        &self,
        end_entity: &CertificateDer<'_>,
    ) -> Result<(), ServerCertRejected> {
        let unreadable = |detail: String| ServerCertRejected::Unreadable { detail };
        let (_, certificate) = x509_parser::parse_x509_certificate(end_entity.as_ref())
            .map_err(|error| unreadable(error.to_string()))?;

        if self.remote_cert_tls_server {
            verify_remote_cert_tls_server(&certificate)?;
        }

        let subject = openssl_one_line_subject(certificate.subject());
        if let Some(expected) = &self.verify_x509_name {
            verify_x509_name(expected, &subject, certificate.subject())?;
        }

        tracing::debug!(subject = %subject, "server certificate accepted");
        Ok(())
    }
}

/// Checks `remote-cert-tls server`: a keyUsage extension with any bits, and serverAuth in
/// the extendedKeyUsage (OpenVPN 2.6 `ssl_verify_openssl.c` `x509_verify_cert_ku` and
/// `x509_verify_cert_eku`).
fn verify_remote_cert_tls_server(
    certificate: &X509Certificate<'_>,
) -> Result<(), ServerCertRejected> {
    let unreadable = |error: x509_parser::error::X509Error| ServerCertRejected::Unreadable {
        detail: error.to_string(),
    };

    if certificate.key_usage().map_err(unreadable)?.is_none() {
        return Err(ServerCertRejected::MissingKeyUsage);
    }

    let extended_key_usage = certificate.extended_key_usage().map_err(unreadable)?;
    match extended_key_usage {
        Some(extension) if extension.value.server_auth => Ok(()),
        _ => Err(ServerCertRejected::MissingServerAuth),
    }
}

fn verify_x509_name(
    expected: &VerifyX509Name,
    subject: &str,
    name: &X509Name<'_>,
) -> Result<(), ServerCertRejected> {
    let mismatch = |field, kind, actual: &str| ServerCertRejected::NameMismatch {
        field,
        kind,
        actual: actual.to_owned(),
        expected: expected.name.clone(),
    };

    match expected.kind {
        X509NameKind::Subject => {
            if subject != expected.name {
                return Err(mismatch("subject", "subject", subject));
            }
        }
        X509NameKind::Name => {
            let common_name = common_name(name).ok_or(ServerCertRejected::MissingCommonName)?;
            if common_name != expected.name {
                return Err(mismatch("common name", "name", &common_name));
            }
        }
        X509NameKind::NamePrefix => {
            let common_name = common_name(name).ok_or(ServerCertRejected::MissingCommonName)?;
            if !common_name.starts_with(&expected.name) {
                return Err(mismatch("common name", "name-prefix", &common_name));
            }
        }
    }
    Ok(())
}

/// Returns the last CN of a name, as OpenVPN 2.6 extracts it, with control characters
/// replaced by `_`.
///
/// OpenVPN 2.6 also rejects every server whose leaf has no CN or a CN longer than 64
/// bytes. ferrovpn requires a CN only for `verify-x509-name name` and `name-prefix`.
fn common_name(name: &X509Name<'_>) -> Option<String> {
    let attribute = name.iter_common_name().last()?;
    let value = attribute_value_text(attribute.attr_value());

    if value.len() > COMMON_NAME_MAX_LEN {
        tracing::debug!(
            len = value.len(),
            "server certificate CN is longer than OpenVPN 2.6 accepts"
        );
    }
    Some(value.chars().map(replace_control).collect())
}

fn replace_control(character: char) -> char {
    if character.is_ascii_control() {
        '_'
    } else {
        character
    }
}

/// Formats a name as OpenVPN 2.6 `x509_get_subject` does through OpenSSL's
/// `X509_NAME_print_ex` with `XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
/// ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_ESC_CTRL`.
///
/// The result lists attributes in certificate order as `SN=value` with OpenSSL's short
/// names, separated by `, ` and by ` + ` inside a multi-valued RDN. Control characters
/// become `\XX` and a backslash becomes `\\`.
fn openssl_one_line_subject(name: &X509Name<'_>) -> String {
    let mut subject = String::new();

    for (rdn_index, rdn) in name.iter().enumerate() {
        if rdn_index > 0 {
            subject.push_str(", ");
        }
        for (attribute_index, attribute) in rdn.iter().enumerate() {
            if attribute_index > 0 {
                subject.push_str(" + ");
            }

            let oid = attribute.attr_type().to_id_string();
            match openssl_short_name(&oid) {
                Some(short_name) => subject.push_str(short_name),
                None => subject.push_str(&oid),
            }
            subject.push('=');

            for character in attribute_value_text(attribute.attr_value()).chars() {
                match character {
                    '\\' => subject.push_str("\\\\"),
                    control if control.is_ascii_control() => {
                        subject.push_str(&format!("\\{:02X}", u32::from(control)));
                    }
                    other => subject.push(other),
                }
            }
        }
    }

    subject
}

/// Decodes a directory string to text as OpenSSL's `ASN1_STRFLGS_UTF8_CONVERT` does.
///
/// BMPString is UTF-16BE and UniversalString is UTF-32BE. T61String and types that are not
/// strings are read as Latin-1, one character per byte. Invalid code units become U+FFFD.
fn attribute_value_text(value: &Any<'_>) -> String {
    let bytes = value.data;

    match value.header.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => String::from_utf8_lossy(bytes).into_owned(),
        Tag::BmpString => {
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            char::decode_utf16(units)
                .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        Tag::UniversalString => bytes
            .chunks_exact(4)
            .map(|quad| u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]))
            .map(|code| char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect(),
        _ => bytes.iter().map(|byte| char::from(*byte)).collect(),
    }
}

/// Returns OpenSSL's short name (`OBJ_nid2sn`) of a name attribute, or `None` for an OID
/// that OpenSSL prints in dotted form.
fn openssl_short_name(oid: &str) -> Option<&'static str> {
    let short_name = match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    };
    Some(short_name)
}

/// Converts a webpki error into the rustls error that rustls' own verifier would return.
fn pki_error(error: webpki::Error) -> rustls::Error {
    use webpki::Error as Pki;

    let certificate_error = match error {
        Pki::BadDer | Pki::BadDerTime | Pki::TrailingData(_) => CertificateError::BadEncoding,
        Pki::CertExpired { time, not_after } => {
            CertificateError::ExpiredContext { time, not_after }
        }
        Pki::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        Pki::InvalidCertValidity => CertificateError::Expired,
        Pki::UnknownIssuer => CertificateError::UnknownIssuer,
        Pki::CertRevoked => CertificateError::Revoked,
        Pki::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        Pki::UnsupportedCriticalExtension => CertificateError::UnhandledCriticalExtension,
        #[allow(deprecated)]
        Pki::RequiredEkuNotFound | Pki::RequiredEkuNotFoundContext(_) => {
            CertificateError::InvalidPurpose
        }
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    rustls::Error::InvalidCertificate(certificate_error)
}

/// Describes a PEM parse error with the marker lines as text instead of byte arrays.
fn describe_pem_error(error: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "the block has no `{}` line; the PEM text is cut short",
            String::from_utf8_lossy(end_marker).trim()
        ),
        Error::IllegalSectionStart { line } => format!(
            "invalid BEGIN line `{}`",
            String::from_utf8_lossy(line).trim()
        ),
        Error::Base64Decode(detail) => format!("invalid base64 inside the PEM block: {detail}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    use rustls::server::WebPkiClientVerifier;
    use rustls::{ClientConnection, ProtocolVersion, RootCertStore, ServerConnection};

    use super::*;

    /// A throwaway certificate authority.
    struct Authority {
        certificate: rcgen::Certificate,
        key: KeyPair,
    }

    /// A certificate and its private key in PEM.
    struct Identity {
        cert_pem: String,
        key_pem: String,
    }

    /// The options of a test leaf certificate.
    struct LeafSpec<'a> {
        subject: &'a [(DnType, &'a str)],
        key_usage: bool,
        extended_key_usage: &'a [ExtendedKeyUsagePurpose],
    }

    const SERVER_SUBJECT: &[(DnType, &str)] = &[
        (DnType::CountryName, "KG"),
        (DnType::StateOrProvinceName, "NA"),
        (DnType::LocalityName, "Bishkek"),
        (DnType::OrganizationName, "Example"),
        (DnType::CommonName, "Server-1"),
    ];

    const SERVER_SPEC: LeafSpec<'static> = LeafSpec {
        subject: SERVER_SUBJECT,
        key_usage: true,
        extended_key_usage: &[ExtendedKeyUsagePurpose::ServerAuth],
    };

    const CLIENT_SPEC: LeafSpec<'static> = LeafSpec {
        subject: &[(DnType::CommonName, "client-1")],
        key_usage: true,
        extended_key_usage: &[ExtendedKeyUsagePurpose::ClientAuth],
    };

    fn authority(common_name: &str) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];

        let key = KeyPair::generate().expect("ca key");
        let certificate = params.self_signed(&key).expect("ca certificate");
        Authority { certificate, key }
    }

    fn leaf_with_key(authority: &Authority, spec: &LeafSpec<'_>, key: &KeyPair) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in spec.subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        if spec.key_usage {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
        }
        params.extended_key_usages = spec.extended_key_usage.to_vec();
        // rcgen 0.13 writes keyUsage only when some other extension is present.
        params.use_authority_key_identifier_extension = true;

        params
            .signed_by(key, &authority.certificate, &authority.key)
            .expect("leaf certificate")
            .pem()
    }

    fn leaf(authority: &Authority, spec: &LeafSpec<'_>) -> Identity {
        let key = KeyPair::generate().expect("leaf key");
        Identity {
            cert_pem: leaf_with_key(authority, spec, &key),
            key_pem: key.serialize_pem(),
        }
    }

    /// Runs the `openssl` command with `input` on stdin and returns stdout.
    fn openssl(args: &[&str], input: &[u8]) -> String {
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the openssl command is needed to make RSA keys for these tests");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to openssl");
        let output = child.wait_with_output().expect("openssl output");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("openssl PEM output")
    }

    /// Generates a 2048-bit RSA key with `openssl` and returns it as PKCS#8 PEM.
    fn rsa_pkcs8_pem() -> String {
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            b"",
        )
    }

    /// Converts a PKCS#8 key to PKCS#1 (RSA) or SEC1 (EC) PEM.
    fn traditional_pem(pkcs8_pem: &str) -> String {
        openssl(&["pkey", "-traditional"], pkcs8_pem.as_bytes())
    }

    fn settings(authority: &Authority) -> TlsSettings {
        TlsSettings {
            ca_pem: authority.certificate.pem().into_bytes(),
            cert_pem: None,
            key_pem: None,
            remote_cert_tls_server: true,
            verify_x509_name: None,
            tls_version_min: None,
        }
    }

    fn settings_with_client(authority: &Authority, client: &Identity) -> TlsSettings {
        TlsSettings {
            cert_pem: Some(client.cert_pem.clone().into_bytes()),
            key_pem: Some(Zeroizing::new(client.key_pem.clone().into_bytes())),
            ..settings(authority)
        }
    }

    fn server_config(
        server: &Identity,
        client_ca: Option<&Authority>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("server versions");

        let builder = match client_ca {
            Some(authority) => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(authority.certificate.der().clone())
                    .expect("client ca");
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };

        let chain = CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("server chain");
        let key = PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).expect("server key");
        Arc::new(builder.with_single_cert(chain, key).expect("server config"))
    }

    /// The side of a failed handshake and its error.
    #[derive(Debug)]
    struct HandshakeFailure {
        side: &'static str,
        error: rustls::Error,
    }

    /// Moves all pending TLS records from one connection into the other.
    fn transfer(
        from: &mut rustls::ConnectionCommon<impl rustls::SideData>,
        to: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    ) {
        let mut records = Vec::new();
        while from.wants_write() {
            from.write_tls(&mut records).expect("write_tls to a Vec");
        }
        let mut unread = records.as_slice();
        while !unread.is_empty() {
            to.read_tls(&mut unread).expect("read_tls from a slice");
        }
    }

    /// Runs a full handshake in memory, passing records back and forth at most 16 times.
    fn handshake(
        client_config: &Arc<rustls::ClientConfig>,
        server_config: &Arc<rustls::ServerConfig>,
    ) -> Result<(ClientConnection, ServerConnection), HandshakeFailure> {
        let mut client = new_connection(client_config).expect("client connection");
        let mut server = ServerConnection::new(server_config.clone()).expect("server connection");

        for _ in 0..16 {
            transfer(&mut client, &mut server);
            server
                .process_new_packets()
                .map_err(|error| HandshakeFailure {
                    side: "server",
                    error,
                })?;

            transfer(&mut server, &mut client);
            client
                .process_new_packets()
                .map_err(|error| HandshakeFailure {
                    side: "client",
                    error,
                })?;

            let done = !client.is_handshaking() && !server.is_handshaking();
            if done && !client.wants_write() && !server.wants_write() {
                return Ok((client, server));
            }
        }
        panic!("handshake did not finish after 16 round trips");
    }

    fn client_rejection(failure: &HandshakeFailure) -> Option<&ServerCertRejected> {
        assert_eq!(failure.side, "client", "failure: {failure:?}");
        ServerCertRejected::from_tls_error(&failure.error)
    }

    fn build(settings: &TlsSettings) -> Arc<rustls::ClientConfig> {
        match build_client_config(settings) {
            Ok(config) => config,
            Err(error) => panic!("client config failed: {error}"),
        }
    }

    const BOTH_VERSIONS: &[&rustls::SupportedProtocolVersion] =
        &[&rustls::version::TLS13, &rustls::version::TLS12];
    const TLS12_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

    #[test]
    fn handshake_with_client_certificate() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);
        let client = leaf(&ca, &CLIENT_SPEC);

        let config = build(&settings_with_client(&ca, &client));
        let result = handshake(&config, &server_config(&server, Some(&ca), BOTH_VERSIONS));

        let (client_connection, server_connection) = result.expect("handshake");
        assert_eq!(
            client_connection.protocol_version(),
            Some(ProtocolVersion::TLSv1_3)
        );
        assert!(
            server_connection.peer_certificates().is_some(),
            "server saw no client certificate"
        );
    }

    #[test]
    fn handshake_without_client_certificate() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);

        let config = build(&settings(&ca));
        let result = handshake(&config, &server_config(&server, None, BOTH_VERSIONS));
        assert!(result.is_ok(), "result: {result:?}");
    }

    #[test]
    fn handshake_rejects_wrong_ca() {
        let ca = authority("Test CA");
        let other_ca = authority("Other CA");
        let server = leaf(&other_ca, &SERVER_SPEC);

        let config = build(&settings(&ca));
        let failure = handshake(&config, &server_config(&server, None, BOTH_VERSIONS))
            .expect_err("server from another CA accepted");
        assert_eq!(failure.side, "client", "failure: {failure:?}");
        assert_eq!(
            failure.error,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        );
    }

    #[test]
    fn remote_cert_tls_rejects_missing_server_auth() {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            extended_key_usage: &[],
            ..SERVER_SPEC
        };
        let server = leaf(&ca, &spec);

        let config = build(&settings(&ca));
        let failure = handshake(&config, &server_config(&server, None, BOTH_VERSIONS))
            .expect_err("server without serverAuth accepted");
        assert_eq!(
            client_rejection(&failure),
            Some(&ServerCertRejected::MissingServerAuth)
        );
    }

    #[test]
    fn remote_cert_tls_rejects_missing_key_usage() {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            key_usage: false,
            ..SERVER_SPEC
        };
        let server = leaf(&ca, &spec);

        let config = build(&settings(&ca));
        let failure = handshake(&config, &server_config(&server, None, BOTH_VERSIONS))
            .expect_err("server without keyUsage accepted");
        assert_eq!(
            client_rejection(&failure),
            Some(&ServerCertRejected::MissingKeyUsage)
        );
    }

    #[test]
    fn missing_eku_allowed_without_remote_cert_tls() {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            key_usage: false,
            extended_key_usage: &[],
            ..SERVER_SPEC
        };
        let server = leaf(&ca, &spec);

        let config = build(&TlsSettings {
            remote_cert_tls_server: false,
            ..settings(&ca)
        });
        let result = handshake(&config, &server_config(&server, None, BOTH_VERSIONS));
        assert!(result.is_ok(), "result: {result:?}");
    }

    #[test]
    fn client_auth_only_eku_rejected() {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            extended_key_usage: &[ExtendedKeyUsagePurpose::ClientAuth],
            ..SERVER_SPEC
        };
        let server = leaf(&ca, &spec);

        let config = build(&TlsSettings {
            remote_cert_tls_server: false,
            ..settings(&ca)
        });
        let failure = handshake(&config, &server_config(&server, None, BOTH_VERSIONS))
            .expect_err("client certificate accepted as server");
        assert_eq!(
            failure.error,
            rustls::Error::InvalidCertificate(CertificateError::InvalidPurpose)
        );
    }

    #[test]
    fn verify_x509_name_table() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);
        let server_config = server_config(&server, None, BOTH_VERSIONS);

        let cases = [
            (X509NameKind::Name, "Server-1", true),
            (X509NameKind::Name, "Server-2", false),
            (X509NameKind::Name, "Server", false),
            (X509NameKind::NamePrefix, "Server-", true),
            (X509NameKind::NamePrefix, "Client-", false),
            (
                X509NameKind::Subject,
                "C=KG, ST=NA, L=Bishkek, O=Example, CN=Server-1",
                true,
            ),
            (X509NameKind::Subject, "CN=Server-1", false),
            (
                X509NameKind::Subject,
                "C=KG,ST=NA,L=Bishkek,O=Example,CN=Server-1",
                false,
            ),
        ];

        for (kind, name, accepted) in cases {
            let config = build(&TlsSettings {
                verify_x509_name: Some(VerifyX509Name {
                    name: name.to_owned(),
                    kind,
                }),
                ..settings(&ca)
            });
            let result = handshake(&config, &server_config);

            match result {
                Ok(_) => assert!(accepted, "{kind:?} {name:?} accepted"),
                Err(failure) => {
                    assert!(!accepted, "{kind:?} {name:?} rejected: {failure:?}");
                    let rejection = client_rejection(&failure);
                    assert!(
                        matches!(rejection, Some(ServerCertRejected::NameMismatch { .. })),
                        "{kind:?} {name:?}: {failure:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn verify_x509_name_requires_common_name() {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            subject: &[(DnType::OrganizationName, "Example")],
            ..SERVER_SPEC
        };
        let server = leaf(&ca, &spec);

        let config = build(&TlsSettings {
            verify_x509_name: Some(VerifyX509Name {
                name: "Server".to_owned(),
                kind: X509NameKind::NamePrefix,
            }),
            ..settings(&ca)
        });
        let failure = handshake(&config, &server_config(&server, None, BOTH_VERSIONS))
            .expect_err("server without CN accepted");
        assert_eq!(
            client_rejection(&failure),
            Some(&ServerCertRejected::MissingCommonName)
        );
    }

    #[test]
    fn tls12_only_server_negotiates_tls12() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);
        let client = leaf(&ca, &CLIENT_SPEC);

        let config = build(&settings_with_client(&ca, &client));
        let result = handshake(&config, &server_config(&server, Some(&ca), TLS12_ONLY));

        let (client_connection, _) = result.expect("handshake");
        assert_eq!(
            client_connection.protocol_version(),
            Some(ProtocolVersion::TLSv1_2)
        );
    }

    #[test]
    fn tls_version_min_13_rejects_tls12_server() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);

        let config = build(&TlsSettings {
            tls_version_min: Some(TlsVersion::V1_3),
            ..settings(&ca)
        });
        let result = handshake(&config, &server_config(&server, None, TLS12_ONLY));
        assert!(result.is_err(), "TLS 1.2 server accepted");
    }

    #[test]
    fn keying_material_export_matches_server() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);
        let label = b"EXPORTER-OpenVPN-datakeys";

        for versions in [BOTH_VERSIONS, TLS12_ONLY] {
            let config = build(&settings(&ca));
            let result = handshake(&config, &server_config(&server, None, versions));
            let (client_connection, server_connection) = result.expect("handshake");

            let client_keys = client_connection
                .export_keying_material([0u8; 256], label, None)
                .expect("client export");
            let server_keys = server_connection
                .export_keying_material([0u8; 256], label, None)
                .expect("server export");
            assert_eq!(
                client_keys,
                server_keys,
                "exported keys differ with {:?}",
                client_connection.protocol_version()
            );
        }
    }

    #[test]
    fn client_key_encodings_table() {
        let ca = authority("Test CA");
        let server = leaf(&ca, &SERVER_SPEC);
        let server_config = server_config(&server, Some(&ca), BOTH_VERSIONS);

        let rsa_pkcs8 = rsa_pkcs8_pem();
        let rsa_key = KeyPair::from_pem(&rsa_pkcs8).expect("rsa key for rcgen");
        let ec_key = KeyPair::generate().expect("ec key");
        let ec_pkcs8 = ec_key.serialize_pem();

        let cases = [
            (
                "RSA PKCS#8",
                &rsa_key,
                rsa_pkcs8.clone(),
                "BEGIN PRIVATE KEY",
            ),
            (
                "RSA PKCS#1",
                &rsa_key,
                traditional_pem(&rsa_pkcs8),
                "BEGIN RSA PRIVATE KEY",
            ),
            ("EC PKCS#8", &ec_key, ec_pkcs8.clone(), "BEGIN PRIVATE KEY"),
            (
                "EC SEC1",
                &ec_key,
                traditional_pem(&ec_pkcs8),
                "BEGIN EC PRIVATE KEY",
            ),
        ];

        for (name, key, key_pem, marker) in cases {
            assert!(key_pem.contains(marker), "{name} key PEM: {key_pem}");
            let client = Identity {
                cert_pem: leaf_with_key(&ca, &CLIENT_SPEC, key),
                key_pem,
            };

            let config = build(&settings_with_client(&ca, &client));
            let result = handshake(&config, &server_config);
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }

    #[test]
    fn client_key_mismatch_rejected() {
        let ca = authority("Test CA");
        let client = leaf(&ca, &CLIENT_SPEC);
        let other = leaf(&ca, &CLIENT_SPEC);
        let mismatched = Identity {
            cert_pem: client.cert_pem,
            key_pem: other.key_pem,
        };

        let result = build_client_config(&settings_with_client(&ca, &mismatched));
        assert!(
            matches!(result, Err(TlsSetupError::KeyMismatch)),
            "result: {result:?}"
        );
    }

    #[test]
    fn setup_errors_table() {
        let ca = authority("Test CA");
        let client = leaf(&ca, &CLIENT_SPEC);
        let with_key = |key_pem: &str| TlsSettings {
            key_pem: Some(Zeroizing::new(key_pem.as_bytes().to_vec())),
            ..settings_with_client(&ca, &client)
        };
        let encrypted =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let garbage_pkcs8 = "-----BEGIN PRIVATE KEY-----\nAAECAwQF\n-----END PRIVATE KEY-----\n";

        let cases: Vec<(&str, TlsSettings, &str)> = vec![
            (
                "empty ca",
                TlsSettings {
                    ca_pem: b"not a certificate".to_vec(),
                    ..settings(&ca)
                },
                "no certificate found in the ca PEM",
            ),
            (
                "cert without key",
                TlsSettings {
                    key_pem: None,
                    ..settings_with_client(&ca, &client)
                },
                "has a cert but no key",
            ),
            (
                "key without cert",
                TlsSettings {
                    cert_pem: None,
                    ..settings_with_client(&ca, &client)
                },
                "has a key but no cert",
            ),
            (
                "empty cert",
                TlsSettings {
                    cert_pem: Some(Vec::new()),
                    ..settings_with_client(&ca, &client)
                },
                "no certificate found in the cert PEM",
            ),
            (
                "no key",
                with_key(""),
                "no private key found in the key PEM",
            ),
            (
                "encrypted key",
                with_key(encrypted),
                "the private key is encrypted",
            ),
            (
                "garbage key",
                with_key(garbage_pkcs8),
                "private key is not RSA/ECDSA PKCS#8, PKCS#1 or SEC1",
            ),
        ];

        for (name, settings, expected) in cases {
            let result = build_client_config(&settings);
            let Err(error) = result else {
                panic!("{name}: configuration accepted");
            };
            assert!(
                error.to_string().contains(expected),
                "{name}: error {error:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn config_disables_sni() {
        let ca = authority("Test CA");
        let config = build(&settings(&ca));
        assert!(!config.enable_sni, "SNI enabled");
    }

    #[test]
    fn settings_debug_hides_key() {
        let ca = authority("Test CA");
        let client = leaf(&ca, &CLIENT_SPEC);
        let debug = format!("{:?}", settings_with_client(&ca, &client));
        assert!(!debug.contains("PRIVATE KEY"), "debug output: {debug}");
    }

    fn subject_of(subject: &[(DnType, &str)]) -> String {
        let ca = authority("Test CA");
        let spec = LeafSpec {
            subject,
            ..SERVER_SPEC
        };
        let identity = leaf(&ca, &spec);
        let der = CertificateDer::from_pem_slice(identity.cert_pem.as_bytes()).expect("der");
        let (_, certificate) = x509_parser::parse_x509_certificate(der.as_ref()).expect("parse");
        openssl_one_line_subject(certificate.subject())
    }

    #[test]
    fn subject_format_table() {
        let cases: Vec<(Vec<(DnType, &str)>, &str)> = vec![
            (
                SERVER_SUBJECT.to_vec(),
                "C=KG, ST=NA, L=Bishkek, O=Example, CN=Server-1",
            ),
            (
                vec![
                    (DnType::OrganizationalUnitName, "VPN"),
                    (
                        DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
                        "ops@vpn.example",
                    ),
                    (DnType::CommonName, "Zürich"),
                ],
                "OU=VPN, emailAddress=ops@vpn.example, CN=Zürich",
            ),
            (vec![(DnType::CommonName, "a\\b\u{1}c")], "CN=a\\\\b\\01c"),
            (
                vec![(DnType::CustomDnType(vec![1, 2, 3, 4]), "x")],
                "1.2.3.4=x",
            ),
        ];

        for (subject, expected) in cases {
            assert_eq!(subject_of(&subject), expected, "subject {subject:?}");
        }
    }
}
