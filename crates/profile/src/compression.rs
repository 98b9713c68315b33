//! `comp-lzo`, `compress` and `allow-compression`: compression framing is accepted, real
//! compression is rejected.
//!
//! Compressing before encrypting lets an attacker who can inject plaintext learn secrets from
//! the packet sizes (the VORACLE attack), which is why OpenVPN 2.6 itself defaults to
//! `allow-compression no`.

use ferrovpn_protocol::compression::Compression;

use crate::directive::{Directive, KindResult};
use crate::warning::Warnings;

fn reject(directive: &Directive, written: &str) -> crate::error::ProfileErrorKind {
    directive.unsupported(format!(
        "`{written}` enables compression, which ferrovpn rejects because compressing before \
         encryption leaks plaintext through packet sizes (VORACLE); remove the line, and if \
         the server compresses, ask its administrator to switch to `compress stub-v2` or to \
         no compression"
    ))
}

/// Parses `comp-lzo [no|yes|adaptive]`; only `no` is accepted, as framing without compression.
pub(crate) fn parse_comp_lzo(directive: &Directive) -> KindResult<Compression> {
    directive.expect_args(0, 1, "comp-lzo no")?;

    match directive.arg(0) {
        Some("no") => Ok(Compression::LzoStub),
        None => Err(reject(directive, "comp-lzo")),
        Some(value @ ("yes" | "adaptive")) => Err(reject(directive, &format!("comp-lzo {value}"))),
        Some(other) => Err(directive.invalid(other, "no")),
    }
}

/// Parses `compress [stub|stub-v2]`; algorithms such as `lz4` are rejected.
pub(crate) fn parse_compress(directive: &Directive) -> KindResult<Compression> {
    directive.expect_args(0, 1, "compress [stub|stub-v2]")?;

    match directive.arg(0) {
        None | Some("stub") => Ok(Compression::Stub),
        Some("stub-v2") => Ok(Compression::StubV2),
        Some(value @ ("lzo" | "lz4" | "lz4-v2" | "migrate")) => {
            Err(reject(directive, &format!("compress {value}")))
        }
        Some(other) => Err(directive.invalid(other, "stub or stub-v2")),
    }
}

/// Checks `allow-compression no|asym|yes`; ferrovpn behaves as `no` whatever the value.
pub(crate) fn check_allow_compression(
    directive: &Directive,
    warnings: &mut Warnings,
) -> KindResult<()> {
    directive.expect_args(1, 1, "allow-compression no|asym|yes")?;

    match directive.args[0].as_str() {
        "no" => Ok(()),
        value @ ("asym" | "yes") => {
            warnings.push(
                directive.line,
                &directive.name,
                format!(
                    "allow-compression {value} is not applied; ferrovpn never compresses and \
                     rejects compression the server pushes"
                ),
            );
            Ok(())
        }
        other => Err(directive.invalid(other, "no, asym or yes")),
    }
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
    fn framing_only_forms() {
        let cases = [
            ("comp-lzo", &["no"][..], Compression::LzoStub),
            ("compress", &[][..], Compression::Stub),
            ("compress", &["stub"][..], Compression::Stub),
            ("compress", &["stub-v2"][..], Compression::StubV2),
        ];

        for (name, args, expected) in cases {
            let directive = directive(name, args);
            let parsed = match name {
                "comp-lzo" => parse_comp_lzo(&directive),
                _ => parse_compress(&directive),
            };
            assert_eq!(parsed.ok(), Some(expected), "{name} {args:?}");
        }
    }

    #[test]
    fn real_compression_rejected() {
        let cases = [
            ("comp-lzo", &[][..]),
            ("comp-lzo", &["yes"][..]),
            ("comp-lzo", &["adaptive"][..]),
            ("compress", &["lz4"][..]),
            ("compress", &["lz4-v2"][..]),
            ("compress", &["lzo"][..]),
        ];

        for (name, args) in cases {
            let directive = directive(name, args);
            let parsed = match name {
                "comp-lzo" => parse_comp_lzo(&directive),
                _ => parse_compress(&directive),
            };
            let message = parsed
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(
                message.contains("VORACLE"),
                "{name} {args:?}: message was {message:?}"
            );
        }
    }

    #[test]
    fn allow_compression_yes_warns() {
        let mut warnings = Warnings::default();

        let result =
            check_allow_compression(&directive("allow-compression", &["yes"]), &mut warnings);

        assert!(result.is_ok(), "allow-compression yes should only warn");
        assert_eq!(warnings.into_vec().len(), 1, "expected one warning");
    }
}
