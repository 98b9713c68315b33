//! Directives rejected whatever their arguments, and directives ignored without a warning.
//!
//! A directive is rejected when ignoring it would be unsafe (it runs programs or weakens
//! server verification) or would leave a tunnel that cannot work. It is ignored silently when
//! it only tunes behaviour that ferrovpn already has or that does not apply to it.

use crate::directive::{Directive, KindResult};

/// Directives that need no action and no warning.
const IGNORED: [&str; 14] = [
    // ferrovpn is always a TLS client.
    "tls-client",
    // Dropping privileges is up to the process that runs the provider.
    "user",
    "group",
    // Socket buffer sizes are left to the operating system.
    "sndbuf",
    "rcvbuf",
    // Log tuning of OpenVPN's own output.
    "mute-replay-warnings",
    // Whether to accept packets from a changed server address is up to the provider.
    "float",
    // Windows-only DNS settings.
    "block-outside-dns",
    "register-dns",
    // Unknown directives are warnings in ferrovpn, not errors, so this list is not needed.
    "ignore-unknown-option",
    // Only makes sense together with `comp-lzo`, which is accepted as framing only.
    "comp-noadapt",
    // Windows-only adapter settings.
    "ip-win32",
    "route-method",
    // OpenVPN 2.4 removed this; IPv6 in the tunnel needs no switch.
    "tun-ipv6",
];

/// Returns whether `name` is accepted and ignored without a warning.
pub(crate) fn is_ignored(name: &str) -> bool {
    IGNORED.contains(&name)
}

/// Returns why `name` is rejected and what to do instead, for directives that are rejected
/// whatever their arguments.
pub(crate) fn rejection(name: &str) -> Option<String> {
    let message = match name {
        "plugin" => "plugin loads a shared library into the VPN client, which ferrovpn does not \
                     do; remove the line"
            .to_owned(),
        "up" | "down" | "route-up" | "route-pre-down" | "ipchange" | "learn-address"
        | "client-connect" | "client-disconnect" => format!(
            "{name} runs an external script, which ferrovpn does not do; remove the line \
             (ferrovpn applies the pushed routes and DNS settings itself)"
        ),
        "tls-verify" => "tls-verify runs a script to check the server certificate, which \
                         ferrovpn does not do; use verify-x509-name or remote-cert-tls server \
                         instead"
            .to_owned(),
        "auth-user-pass-verify" => "auth-user-pass-verify is a server option; remove it from \
                                    the client profile"
            .to_owned(),
        "secret" => "secret selects static key mode, which ferrovpn does not support; ask the \
                     server administrator for a TLS profile with ca, cert and key"
            .to_owned(),
        "pkcs12" => "pkcs12 is not supported yet; convert with `openssl pkcs12 -in FILE -nodes` \
                     and use ca/cert/key"
            .to_owned(),
        "server" | "server-bridge" | "tls-server" | "client-config-dir" | "ifconfig-pool" => {
            format!(
                "{name} is a server option, so this is not a client profile; use the client \
                 profile the server administrator provides"
            )
        }
        "fragment" => "fragment splits packets inside the tunnel, which ferrovpn does not \
                       support; the server would have to drop it too, so ask its administrator \
                       to use mssfix instead"
            .to_owned(),
        "socks-proxy" | "http-proxy" => {
            format!("{name} is not supported; remove the line to connect to the server directly")
        }
        "tls-crypt-v2" => "tls-crypt-v2 is not supported yet; ask the server administrator for \
                           a tls-crypt or tls-auth key"
            .to_owned(),
        "config" => "config reads options from another file, which ferrovpn does not support; \
                     copy the options of that file into this profile"
            .to_owned(),
        "crl-verify" => "crl-verify is not supported yet; remove the line to connect without \
                         checking the server certificate against the revocation list"
            .to_owned(),
        "peer-fingerprint" | "verify-hash" => format!(
            "{name} is not supported yet; replace it with `ca FILE` naming the CA that signed \
             the server certificate"
        ),
        "tls-remote" => "tls-remote was removed in OpenVPN 2.4; replace it with \
                         `verify-x509-name NAME name`"
            .to_owned(),
        "cryptoapicert"
        | "pkcs11-id"
        | "pkcs11-providers"
        | "management-external-key"
        | "management-external-cert" => format!(
            "{name} is not supported; export the certificate and key to PEM files and use cert \
             and key"
        ),
        _ => return None,
    };
    Some(message)
}

/// Checks `script-security LEVEL`; levels above 1 allow external programs.
pub(crate) fn check_script_security(directive: &Directive) -> KindResult<()> {
    let level: u8 = directive.single_number("script-security LEVEL", "a level from 0 to 3")?;
    if level > 1 {
        return Err(directive.unsupported(format!(
            "script-security {level} allows external scripts, which ferrovpn never runs; remove \
             the line together with the up, down or other script lines"
        )));
    }
    Ok(())
}

/// Checks `mode p2p|server`; a client profile is in p2p mode, OpenVPN's default.
pub(crate) fn check_mode(directive: &Directive) -> KindResult<()> {
    directive.expect_args(1, 1, "mode p2p")?;

    match directive.args[0].as_str() {
        "p2p" => Ok(()),
        "server" => Err(directive.unsupported(
            "mode server is a server option, so this is not a client profile; use the client \
             profile the server administrator provides"
                .to_owned(),
        )),
        other => Err(directive.invalid(other, "p2p")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_names_have_messages() {
        let names = [
            "plugin",
            "up",
            "down",
            "route-up",
            "ipchange",
            "tls-verify",
            "auth-user-pass-verify",
            "secret",
            "pkcs12",
            "server",
            "tls-server",
            "fragment",
            "socks-proxy",
            "http-proxy",
            "tls-crypt-v2",
        ];

        for name in names {
            let message = rejection(name).unwrap_or_default();
            assert!(message.contains(name), "{name}: message was {message:?}");
        }
    }

    #[test]
    fn ignored_is_not_rejected() {
        for name in IGNORED {
            assert!(
                rejection(name).is_none(),
                "{name} is both ignored and rejected"
            );
        }
    }
}
