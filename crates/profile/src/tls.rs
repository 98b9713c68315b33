//! Server authentication and control channel settings: `tls-auth`, `tls-crypt`,
//! `key-direction`, `remote-cert-tls`, `verify-x509-name` and the TLS version bounds.

use std::fmt;

use zeroize::Zeroizing;

use crate::directive::{Directive, KindResult};
use crate::warning::Warnings;

/// Protection of the control channel with a static key shared by all clients.
#[derive(Clone)]
pub enum TlsWrapConfig {
    /// `tls-auth`: an HMAC on every control packet.
    Auth {
        /// The static key file text, `-----BEGIN OpenVPN Static key V1-----` included.
        key: Zeroizing<String>,
        /// `0` or `1` from `tls-auth FILE DIR` or `key-direction`; `None` uses the key
        /// bidirectionally.
        direction: Option<u8>,
    },
    /// `tls-crypt`: every control packet encrypted and authenticated.
    Crypt {
        /// The static key file text, `-----BEGIN OpenVPN Static key V1-----` included.
        key: Zeroizing<String>,
    },
}

impl fmt::Debug for TlsWrapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsWrapConfig::Auth { direction, .. } => f
                .debug_struct("Auth")
                .field("key", &"<redacted>")
                .field("direction", direction)
                .finish(),
            TlsWrapConfig::Crypt { .. } => {
                f.debug_struct("Crypt").field("key", &"<redacted>").finish()
            }
        }
    }
}

/// Part of the server certificate that `verify-x509-name` compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum X509NameType {
    /// `subject`: the whole subject distinguished name.
    #[default]
    Subject,
    /// `name`: the common name, exactly.
    Name,
    /// `name-prefix`: the start of the common name.
    NamePrefix,
}

/// Lowest TLS version the profile allows (`tls-version-min`).
///
/// rustls speaks TLS 1.2 and 1.3 only, so 1.0 and 1.1 reach a profile only with `or-highest`,
/// and TLS 1.2 is then the effective minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersionMin {
    /// TLS 1.0.
    V1_0,
    /// TLS 1.1.
    V1_1,
    /// TLS 1.2.
    V1_2,
    /// TLS 1.3.
    V1_3,
}

fn parse_tls_version(directive: &Directive, value: &str) -> KindResult<TlsVersionMin> {
    match value {
        "1.0" => Ok(TlsVersionMin::V1_0),
        "1.1" => Ok(TlsVersionMin::V1_1),
        "1.2" => Ok(TlsVersionMin::V1_2),
        "1.3" => Ok(TlsVersionMin::V1_3),
        _ => Err(directive.invalid(value, "1.0, 1.1, 1.2 or 1.3")),
    }
}

/// Parses `tls-version-min VERSION [or-highest]`.
pub(crate) fn parse_tls_version_min(
    directive: &Directive,
    warnings: &mut Warnings,
) -> KindResult<TlsVersionMin> {
    directive.expect_args(1, 2, "tls-version-min VERSION [or-highest]")?;

    let version = parse_tls_version(directive, &directive.args[0])?;
    let or_highest = match directive.arg(1) {
        None => false,
        Some("or-highest") => true,
        Some(other) => return Err(directive.invalid(other, "or-highest")),
    };

    if version >= TlsVersionMin::V1_2 {
        return Ok(version);
    }

    let value = &directive.args[0];
    if !or_highest {
        return Err(directive.unsupported(format!(
            "tls-version-min {value} requires TLS {value}, but ferrovpn speaks TLS 1.2 and 1.3 \
             only; change it to tls-version-min 1.2, or add or-highest"
        )));
    }

    warnings.push(
        directive.line,
        &directive.name,
        format!(
            "tls-version-min {value} or-highest is raised to TLS 1.2, the lowest version \
             ferrovpn speaks"
        ),
    );
    Ok(version)
}

/// Checks `tls-version-max VERSION`, which ferrovpn does not apply.
pub(crate) fn check_tls_version_max(
    directive: &Directive,
    warnings: &mut Warnings,
) -> KindResult<()> {
    directive.expect_args(1, 1, "tls-version-max VERSION")?;

    let value = &directive.args[0];
    match parse_tls_version(directive, value)? {
        TlsVersionMin::V1_0 | TlsVersionMin::V1_1 => Err(directive.unsupported(format!(
            "tls-version-max {value} allows only TLS versions below 1.2, which ferrovpn does \
             not speak; remove the line"
        ))),
        TlsVersionMin::V1_2 => {
            warnings.push(
                directive.line,
                &directive.name,
                "tls-version-max 1.2 is not applied; TLS 1.3 may be negotiated".to_owned(),
            );
            Ok(())
        }
        TlsVersionMin::V1_3 => Ok(()),
    }
}

/// Parses the direction argument of `key-direction` or `tls-auth`.
pub(crate) fn parse_key_direction(directive: &Directive, value: &str) -> KindResult<u8> {
    match value {
        "0" => Ok(0),
        "1" => Ok(1),
        _ => Err(directive.invalid(value, "0 or 1 (clients normally use 1)")),
    }
}

/// Parses `remote-cert-tls server`; the `client` form belongs in server configurations.
pub(crate) fn parse_remote_cert_tls(directive: &Directive) -> KindResult<bool> {
    directive.expect_args(1, 1, "remote-cert-tls server")?;

    match directive.args[0].as_str() {
        "server" => Ok(true),
        "client" => Err(directive.unsupported(
            "remote-cert-tls client checks client certificates, which only a server does; \
             change it to remote-cert-tls server"
                .to_owned(),
        )),
        other => Err(directive.invalid(other, "server")),
    }
}

/// Parses the deprecated `ns-cert-type server` as `remote-cert-tls server`.
pub(crate) fn parse_ns_cert_type(
    directive: &Directive,
    warnings: &mut Warnings,
) -> KindResult<bool> {
    directive.expect_args(1, 1, "ns-cert-type server")?;

    match directive.args[0].as_str() {
        "server" => {
            warnings.push(
                directive.line,
                &directive.name,
                "ns-cert-type is deprecated and is treated as remote-cert-tls server; write \
                 remote-cert-tls server instead"
                    .to_owned(),
            );
            Ok(true)
        }
        "client" => Err(directive.unsupported(
            "ns-cert-type client checks client certificates, which only a server does; \
             change it to remote-cert-tls server"
                .to_owned(),
        )),
        other => Err(directive.invalid(other, "server")),
    }
}

/// Parses `verify-x509-name NAME [subject|name|name-prefix]`.
pub(crate) fn parse_verify_x509_name(directive: &Directive) -> KindResult<(String, X509NameType)> {
    directive.expect_args(1, 2, "verify-x509-name NAME [subject|name|name-prefix]")?;

    let name_type = match directive.arg(1) {
        None | Some("subject") => X509NameType::Subject,
        Some("name") => X509NameType::Name,
        Some("name-prefix") => X509NameType::NamePrefix,
        Some(other) => return Err(directive.invalid(other, "subject, name or name-prefix")),
    };
    Ok((directive.args[0].clone(), name_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            line: 1,
            inline: None,
        }
    }

    #[test]
    fn debug_hides_key() {
        let wrap = TlsWrapConfig::Auth {
            key: Zeroizing::new("-----BEGIN OpenVPN Static key V1-----\nc0ffee".to_owned()),
            direction: Some(1),
        };

        let printed = format!("{wrap:?}");

        assert!(
            !printed.contains("c0ffee"),
            "Debug printed the key: {printed}"
        );
    }

    #[test]
    fn tls_version_min_or_highest_warns() {
        let mut warnings = Warnings::default();

        let version = parse_tls_version_min(
            &directive("tls-version-min", &["1.0", "or-highest"]),
            &mut warnings,
        );

        assert_eq!(version.ok(), Some(TlsVersionMin::V1_0));
        assert_eq!(warnings.into_vec().len(), 1, "expected one warning");
    }

    #[test]
    fn tls_version_min_old_rejected() {
        let mut warnings = Warnings::default();

        let result = parse_tls_version_min(&directive("tls-version-min", &["1.1"]), &mut warnings);

        assert!(result.is_err(), "tls-version-min 1.1 was accepted");
    }

    #[test]
    fn tls_version_max_old_rejected() {
        let mut warnings = Warnings::default();

        let result = check_tls_version_max(&directive("tls-version-max", &["1.1"]), &mut warnings);

        assert!(result.is_err(), "tls-version-max 1.1 was accepted");
    }

    #[test]
    fn verify_x509_name_types() {
        let cases = [
            (&["vpn.example.net"][..], X509NameType::Subject),
            (&["vpn.example.net", "subject"][..], X509NameType::Subject),
            (&["vpn.example.net", "name"][..], X509NameType::Name),
            (&["vpn", "name-prefix"][..], X509NameType::NamePrefix),
        ];

        for (args, expected) in cases {
            let parsed = parse_verify_x509_name(&directive("verify-x509-name", args));
            assert_eq!(
                parsed.ok().map(|(_, kind)| kind),
                Some(expected),
                "args {args:?}"
            );
        }
    }

    #[test]
    fn key_direction_two_rejected() {
        let result = parse_key_direction(&directive("key-direction", &["2"]), "2");

        assert!(result.is_err(), "key-direction 2 was accepted");
    }
}
