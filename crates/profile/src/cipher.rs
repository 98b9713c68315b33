//! Data channel cipher and digest choice: `data-ciphers`, `cipher`, `data-ciphers-fallback`
//! and `auth`.

use ferrovpn_protocol::DataCipher;

use crate::directive::{Directive, KindResult};
use crate::error::ProfileErrorKind;
use crate::warning::Warnings;

/// `data-ciphers` when the profile sets none, the OpenVPN 2.6 default list.
pub(crate) const DEFAULT_DATA_CIPHERS: [DataCipher; 3] = [
    DataCipher::Aes256Gcm,
    DataCipher::Aes128Gcm,
    DataCipher::Chacha20Poly1305,
];

/// Digests `auth` accepts, as OpenSSL names them.
const AUTH_DIGESTS: [&str; 4] = ["SHA1", "SHA256", "SHA384", "SHA512"];

/// Parses `data-ciphers CIPHER[:CIPHER...]` (also spelled `ncp-ciphers`).
///
/// Entries ferrovpn does not implement are skipped with a warning, or silently when a `?`
/// prefix marks them optional as in OpenVPN 2.6. With no usable entry left the profile is
/// rejected.
pub(crate) fn parse_data_ciphers(
    directive: &Directive,
    warnings: &mut Warnings,
) -> KindResult<Vec<DataCipher>> {
    directive.expect_args(1, 1, "data-ciphers CIPHER[:CIPHER...]")?;

    let mut ciphers = Vec::new();
    let mut unsupported = Vec::new();
    for entry in directive.args[0]
        .split(':')
        .filter(|entry| !entry.is_empty())
    {
        let (optional, name) = match entry.strip_prefix('?') {
            Some(name) => (true, name),
            None => (false, entry),
        };

        match DataCipher::from_name(name) {
            Some(cipher) if !ciphers.contains(&cipher) => ciphers.push(cipher),
            Some(_) => {}
            None if optional => {}
            None => unsupported.push(name.to_owned()),
        }
    }

    if ciphers.is_empty() {
        return Err(ProfileErrorKind::UnsupportedCipher {
            directive: directive.name.clone(),
            names: if unsupported.is_empty() {
                vec![directive.args[0].clone()]
            } else {
                unsupported
            },
        });
    }

    for name in unsupported {
        warnings.push(
            directive.line,
            &directive.name,
            format!(
                "{} entry \"{name}\" is not supported and is skipped",
                directive.name
            ),
        );
    }
    Ok(ciphers)
}

/// Parses `data-ciphers-fallback CIPHER`, the cipher for servers that cannot negotiate one.
pub(crate) fn parse_data_ciphers_fallback(directive: &Directive) -> KindResult<DataCipher> {
    directive.expect_args(1, 1, "data-ciphers-fallback CIPHER")?;

    let name = &directive.args[0];
    DataCipher::from_name(name).ok_or_else(|| ProfileErrorKind::UnsupportedCipher {
        directive: directive.name.clone(),
        names: vec![name.clone()],
    })
}

/// Parses `auth DIGEST` into its uppercase OpenSSL name, such as `SHA256`.
///
/// The digest keys the `tls-auth` HMAC; AEAD data channel ciphers do not use it.
pub(crate) fn parse_auth_digest(directive: &Directive) -> KindResult<String> {
    directive.expect_args(1, 1, "auth DIGEST")?;

    let value = &directive.args[0];
    let normalised = value
        .to_ascii_uppercase()
        .replace("SHA-", "SHA")
        .replace("SHA2-", "SHA");
    if AUTH_DIGESTS.contains(&normalised.as_str()) {
        return Ok(normalised);
    }

    Err(directive.unsupported(format!(
        "unsupported auth digest \"{value}\"; supported: {}",
        AUTH_DIGESTS.join(", ")
    )))
}

/// Resolves `cipher NAME` once the whole profile is read, because `data-ciphers` may follow it.
///
/// A supported name is kept. An unsupported one is only a warning when `data-ciphers` offers
/// ciphers to negotiate instead, and otherwise rejects the profile.
pub(crate) fn resolve_cipher(
    directive: &Directive,
    data_ciphers_given: bool,
    warnings: &mut Warnings,
) -> KindResult<Option<DataCipher>> {
    let name = &directive.args[0];
    if let Some(cipher) = DataCipher::from_name(name) {
        return Ok(Some(cipher));
    }

    if !data_ciphers_given {
        return Err(directive.unsupported(format!(
            "unsupported cipher \"{name}\" in cipher; supported: {}. A server running \
             OpenVPN 2.4 or later negotiates one of them: replace the line with \
             `data-ciphers {}`",
            DataCipher::join_names(&DEFAULT_DATA_CIPHERS).replace(':', ", "),
            DataCipher::join_names(&DEFAULT_DATA_CIPHERS)
        )));
    }

    warnings.push(
        directive.line,
        &directive.name,
        format!("cipher \"{name}\" is not supported and is ignored; data-ciphers is negotiated"),
    );
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            line: 7,
            inline: None,
        }
    }

    #[test]
    fn data_ciphers_keeps_order() {
        let mut warnings = Warnings::default();

        let ciphers = parse_data_ciphers(
            &directive("data-ciphers", &["CHACHA20-POLY1305:aes-128-gcm"]),
            &mut warnings,
        );

        assert_eq!(
            ciphers.ok(),
            Some(vec![DataCipher::Chacha20Poly1305, DataCipher::Aes128Gcm])
        );
    }

    #[test]
    fn data_ciphers_skips_unsupported() {
        let mut warnings = Warnings::default();

        let ciphers = parse_data_ciphers(
            &directive("data-ciphers", &["AES-256-GCM:BF-CBC:AES-256-CBC"]),
            &mut warnings,
        );

        assert_eq!(ciphers.ok(), Some(vec![DataCipher::Aes256Gcm]));
        assert_eq!(
            warnings.into_vec().len(),
            2,
            "one warning per skipped cipher"
        );
    }

    #[test]
    fn data_ciphers_optional_skipped_silently() {
        let mut warnings = Warnings::default();

        let ciphers = parse_data_ciphers(
            &directive("data-ciphers", &["AES-256-GCM:?ARIA-256-GCM"]),
            &mut warnings,
        );

        assert_eq!(ciphers.ok(), Some(vec![DataCipher::Aes256Gcm]));
        assert!(
            warnings.into_vec().is_empty(),
            "an optional cipher needs no warning"
        );
    }

    #[test]
    fn data_ciphers_none_supported() {
        let mut warnings = Warnings::default();

        let error = parse_data_ciphers(&directive("data-ciphers", &["AES-512-GCM"]), &mut warnings)
            .expect_err("no supported cipher");

        assert_eq!(
            error.to_string(),
            "unsupported cipher \"AES-512-GCM\" in data-ciphers; supported: AES-256-GCM, \
             AES-128-GCM, CHACHA20-POLY1305"
        );
    }

    #[test]
    fn fallback_unsupported() {
        let result = parse_data_ciphers_fallback(&directive("data-ciphers-fallback", &["BF-CBC"]));

        assert!(result.is_err(), "BF-CBC was accepted as fallback");
    }

    #[test]
    fn auth_digest_names() {
        let cases = [
            ("sha1", "SHA1"),
            ("SHA256", "SHA256"),
            ("sha-384", "SHA384"),
            ("SHA2-512", "SHA512"),
        ];

        for (value, expected) in cases {
            let digest = parse_auth_digest(&directive("auth", &[value]));
            assert_eq!(digest.ok().as_deref(), Some(expected), "auth {value}");
        }
    }

    #[test]
    fn auth_digest_md5_rejected() {
        let result = parse_auth_digest(&directive("auth", &["MD5"]));

        assert!(result.is_err(), "MD5 was accepted");
    }

    #[test]
    fn cipher_unsupported_without_data_ciphers() {
        let mut warnings = Warnings::default();

        let result = resolve_cipher(&directive("cipher", &["AES-256-CBC"]), false, &mut warnings);

        assert!(result.is_err(), "AES-256-CBC alone was accepted");
    }

    #[test]
    fn cipher_unsupported_with_data_ciphers() {
        let mut warnings = Warnings::default();

        let result = resolve_cipher(&directive("cipher", &["AES-256-CBC"]), true, &mut warnings);

        assert!(matches!(result, Ok(None)), "result was {result:?}");
        assert_eq!(warnings.into_vec().len(), 1, "expected a warning");
    }
}
