//! `<connection>` blocks: one server each, with its own `port` and `proto`.
//!
//! OpenVPN allows more options inside a block, such as timeouts, proxies and MTU. ferrovpn
//! applies `remote`, `port`, `rport` and `proto`, rejects what it rejects elsewhere, and warns
//! about the rest.

use crate::directive::{Directive, KindResult};
use crate::error::{ProfileError, ProfileErrorKind};
use crate::lexer;
use crate::rejected;
use crate::remote::{self, PendingRemote};
use crate::warning::Warnings;

/// Settings of one block read so far.
#[derive(Default)]
struct Entry {
    remote: Option<PendingRemote>,
    port: Option<u16>,
    proto: Option<remote::Proto>,
}

/// Parses the text of a `<connection>` block into the server it describes.
///
/// Errors name the line inside the block, counted from the top of the profile.
pub(crate) fn parse_connection(
    block: &Directive,
    source: &str,
    warnings: &mut Warnings,
) -> Result<PendingRemote, ProfileError> {
    let text = block
        .inline
        .as_deref()
        .map(String::as_str)
        .unwrap_or_default();
    let directives = lexer::lex(text, block.line + 1, source)?;

    let mut entry = Entry::default();
    for directive in &directives {
        apply(directive, &mut entry, warnings)
            .map_err(|kind| ProfileError::new(source, Some(directive.line), kind))?;
    }

    let Some(mut remote) = entry.remote else {
        let kind = ProfileErrorKind::InvalidContent {
            directive: block.name.clone(),
            origin: "the inline block".to_owned(),
            problem: "it has no remote; add `remote HOST [PORT] [PROTO]` inside it".to_owned(),
        };
        return Err(ProfileError::new(source, Some(block.line), kind));
    };
    remote.port = remote.port.or(entry.port);
    remote.proto = remote.proto.or(entry.proto);
    Ok(remote)
}

fn apply(directive: &Directive, entry: &mut Entry, warnings: &mut Warnings) -> KindResult<()> {
    let name = directive.name.as_str();
    match name {
        "remote" => {
            if entry.remote.is_some() {
                return Err(directive.unsupported(
                    "a <connection> block holds one remote; put each remote in its own block"
                        .to_owned(),
                ));
            }
            entry.remote = Some(remote::parse_remote(directive)?);
        }
        "port" | "rport" => {
            directive.expect_args(1, 1, "port PORT")?;
            entry.port = Some(remote::parse_port(directive, &directive.args[0])?);
        }
        "proto" => {
            directive.expect_args(1, 1, "proto udp|tcp-client|...")?;
            entry.proto = Some(remote::parse_proto(directive, &directive.args[0])?);
        }
        _ => {
            if let Some(message) = rejected::rejection(name) {
                return Err(directive.unsupported(message));
            }
            if !rejected::is_ignored(name) {
                warnings.push(
                    directive.line,
                    name,
                    format!("{name} inside <connection> is not applied"),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;

    fn block(text: &str) -> Directive {
        Directive {
            name: "connection".to_owned(),
            args: Vec::new(),
            line: 10,
            inline: Some(Zeroizing::new(text.to_owned())),
        }
    }

    #[test]
    fn block_port_and_proto_apply() {
        let mut warnings = Warnings::default();

        let remote = parse_connection(
            &block("remote vpn.example.net\nport 443\nproto tcp\n"),
            "t",
            &mut warnings,
        )
        .expect("valid block")
        .complete(None, None);

        assert_eq!(remote.to_string(), "vpn.example.net:443/tcp");
    }

    #[test]
    fn other_directives_warn() {
        let mut warnings = Warnings::default();

        parse_connection(
            &block("remote vpn.example.net\nconnect-timeout 10\n"),
            "t",
            &mut warnings,
        )
        .expect("valid block");

        let list = warnings.into_vec();
        assert_eq!(list.len(), 1, "warnings were {list:?}");
        assert_eq!(list[0].line, 12, "line inside the block");
    }

    #[test]
    fn rejected_directive_inside_block() {
        let mut warnings = Warnings::default();

        let error = parse_connection(
            &block("remote vpn.example.net\nhttp-proxy 127.0.0.1 3128\n"),
            "t",
            &mut warnings,
        )
        .err()
        .expect("http-proxy is rejected");

        assert_eq!(error.line, Some(12), "error was {error}");
    }
}
