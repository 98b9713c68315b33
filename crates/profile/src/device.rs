//! The TUN device: `dev`, `dev-type` and `mssfix`.

use crate::directive::{Directive, KindResult};
use crate::error::ProfileErrorKind;
use crate::warning::Warnings;

/// MSS bound that `mssfix` without a value sets, MSSFIX_DEFAULT in OpenVPN 2.6 `mtu.h`.
const MSSFIX_DEFAULT: u32 = 1492;

fn reject_tap(written: &str) -> ProfileErrorKind {
    ProfileErrorKind::Unsupported {
        directive: written.split(' ').next().unwrap_or_default().to_owned(),
        message: format!(
            "`{written}` asks for an Ethernet (layer 2) device, but ferrovpn supports only tun \
             (layer 3) devices; if the server runs dev tun, change this line to `dev tun`, \
             otherwise ferrovpn cannot connect to this server"
        ),
    }
}

/// Parses `dev-type tun`, returning whether it was given; `tap` is rejected.
pub(crate) fn parse_dev_type(directive: &Directive) -> KindResult<bool> {
    directive.expect_args(1, 1, "dev-type tun")?;

    match directive.args[0].as_str() {
        "tun" => Ok(true),
        "tap" => Err(reject_tap("dev-type tap")),
        other => Err(directive.invalid(other, "tun")),
    }
}

/// Checks the `dev` name once the whole profile is read, because `dev-type` may follow it.
///
/// As in OpenVPN, a name starting with `tun` or `tap` implies the type, and any other name
/// needs `dev-type`.
pub(crate) fn check_dev(dev: &str, dev_type_tun: bool) -> KindResult<()> {
    if dev_type_tun || dev.starts_with("tun") {
        return Ok(());
    }
    if dev.starts_with("tap") {
        return Err(reject_tap(&format!("dev {dev}")));
    }
    Err(ProfileErrorKind::Unsupported {
        directive: "dev".to_owned(),
        message: format!(
            "dev {dev} does not say whether it is a tun or a tap device; name it tun or tunN, \
             or add `dev-type tun`"
        ),
    })
}

/// Parses `mssfix [BYTES] [mtu|fixed]`.
pub(crate) fn parse_mssfix(directive: &Directive, warnings: &mut Warnings) -> KindResult<u32> {
    directive.expect_args(0, 2, "mssfix [BYTES] [mtu|fixed]")?;

    match directive.arg(1) {
        None => {}
        Some(modifier @ ("mtu" | "fixed")) => warnings.push(
            directive.line,
            &directive.name,
            format!("mssfix {modifier} is not applied; the value is used as the MSS bound"),
        ),
        Some(other) => return Err(directive.invalid(other, "mtu or fixed")),
    }

    match directive.arg(0) {
        None => Ok(MSSFIX_DEFAULT),
        Some(bytes) => directive.number(bytes, "a size in bytes"),
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
    fn dev_names() {
        let cases = [
            ("tun", false, true),
            ("tun0", false, true),
            ("tap", false, false),
            ("tap0", true, true),
            ("office", false, false),
            ("office", true, true),
        ];

        for (dev, dev_type_tun, accepted) in cases {
            let result = check_dev(dev, dev_type_tun);
            assert_eq!(
                result.is_ok(),
                accepted,
                "dev {dev} with dev-type tun {dev_type_tun}"
            );
        }
    }

    #[test]
    fn dev_type_tap_rejected() {
        let message = parse_dev_type(&directive("dev-type", &["tap"]))
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();

        assert!(message.contains("only tun"), "message was {message:?}");
    }

    #[test]
    fn mssfix_modifier_warns() {
        let mut warnings = Warnings::default();

        let bytes = parse_mssfix(&directive("mssfix", &["1400", "mtu"]), &mut warnings);

        assert_eq!(bytes.ok(), Some(1400));
        assert_eq!(warnings.into_vec().len(), 1, "expected one warning");
    }
}
