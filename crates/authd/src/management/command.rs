//! The management commands that decide on a client: `client-auth-nt`, `client-deny` and
//! `client-pending-auth` (OpenVPN `doc/management-notes.txt`).

use std::fmt;

/// A command that decides on, or holds, one client.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCommand {
    /// `client-auth-nt {CID} {KID}`: admit the client, with no extra configuration.
    Auth {
        /// Client id.
        cid: u64,
        /// Management key id from `CONNECT` or `REAUTH`.
        kid: u32,
    },
    /// `client-deny {CID} {KID} "reason" ["client reason"]`. The server logs the reason
    /// and sends `AUTH_FAILED,<client reason>`, or a plain `AUTH_FAILED` without one.
    Deny {
        /// Client id.
        cid: u64,
        /// Management key id from `CONNECT` or `REAUTH`.
        kid: u32,
        /// Text for the server log.
        reason: String,
        /// Text for the client, such as a `CRV1:` challenge.
        client_reason: Option<String>,
    },
    /// `client-pending-auth {CID} {KID} "extra" {TIMEOUT}`: the server sends
    /// `AUTH_PENDING,timeout <TIMEOUT>` and `INFO_PRE,<extra>` and waits for a decision.
    PendingAuth {
        /// Client id.
        cid: u64,
        /// Management key id from `CONNECT` or `REAUTH`.
        kid: u32,
        /// Pending method and prompt, such as `CR_TEXT:R,E:Enter your code`.
        extra: String,
        /// Seconds the server waits before it fails the client.
        timeout_seconds: u32,
    },
}

impl ClientCommand {
    /// Returns the command line, without line ending.
    pub fn to_line(&self) -> String {
        match self {
            ClientCommand::Auth { cid, kid } => format!("client-auth-nt {cid} {kid}"),
            ClientCommand::Deny {
                cid,
                kid,
                reason,
                client_reason,
            } => {
                let mut line = format!("client-deny {cid} {kid} {}", quote(reason));
                if let Some(client_reason) = client_reason {
                    line.push(' ');
                    line.push_str(&quote(client_reason));
                }
                line
            }
            ClientCommand::PendingAuth {
                cid,
                kid,
                extra,
                timeout_seconds,
            } => format!(
                "client-pending-auth {cid} {kid} {} {timeout_seconds}",
                quote(extra)
            ),
        }
    }

    /// Command name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            ClientCommand::Auth { .. } => "client-auth-nt",
            ClientCommand::Deny { .. } => "client-deny",
            ClientCommand::PendingAuth { .. } => "client-pending-auth",
        }
    }

    /// Client id the command is about.
    pub fn cid(&self) -> u64 {
        match self {
            ClientCommand::Auth { cid, .. }
            | ClientCommand::Deny { cid, .. }
            | ClientCommand::PendingAuth { cid, .. } => *cid,
        }
    }
}

impl fmt::Debug for ClientCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A CRV1 client reason carries the state id, which stays out of debug output.
        match self {
            ClientCommand::Deny {
                cid, kid, reason, ..
            } => write!(f, "client-deny {cid} {kid} {reason:?}"),
            other => write!(f, "{} {} ..", other.name(), other.cid()),
        }
    }
}

/// Quotes `value` as one parameter of a management command.
///
/// The management interface splits commands like the configuration parser (OpenVPN
/// `doc/management-notes.txt`, "Command Parsing"): inside double quotes a backslash
/// escapes `\` and `"`. Control characters, which would end or corrupt the command line,
/// become spaces.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for character in value.chars() {
        match character {
            '\\' | '"' => {
                quoted.push('\\');
                quoted.push(character);
            }
            c if c.is_control() => quoted.push(' '),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_line_table() {
        let cases = [
            (ClientCommand::Auth { cid: 3, kid: 1 }, "client-auth-nt 3 1"),
            (
                ClientCommand::Deny {
                    cid: 3,
                    kid: 1,
                    reason: "wrong password".to_owned(),
                    client_reason: None,
                },
                r#"client-deny 3 1 "wrong password""#,
            ),
            (
                ClientCommand::Deny {
                    cid: 3,
                    kid: 1,
                    reason: "challenge sent".to_owned(),
                    client_reason: Some("CRV1:R,E:s+t/a=:YWxpY2U=:Enter".to_owned()),
                },
                r#"client-deny 3 1 "challenge sent" "CRV1:R,E:s+t/a=:YWxpY2U=:Enter""#,
            ),
            (
                ClientCommand::PendingAuth {
                    cid: 3,
                    kid: 1,
                    extra: "CR_TEXT:R,E:Enter your authenticator code".to_owned(),
                    timeout_seconds: 120,
                },
                r#"client-pending-auth 3 1 "CR_TEXT:R,E:Enter your authenticator code" 120"#,
            ),
        ];
        for (command, expected) in cases {
            assert_eq!(command.to_line(), expected, "{command:?}");
        }
    }

    #[test]
    fn quote_escape_table() {
        let cases = [
            ("plain", r#""plain""#),
            ("it's", r#""it's""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r"a\b", r#""a\\b""#),
            ("two\nlines", r#""two lines""#),
        ];
        for (value, expected) in cases {
            assert_eq!(quote(value), expected, "quoting {value:?}");
        }
    }

    #[test]
    fn deny_debug_hides_client_reason() {
        let command = ClientCommand::Deny {
            cid: 1,
            kid: 0,
            reason: "challenge sent".to_owned(),
            client_reason: Some("CRV1:R,E:secret-state:YQ==:Code".to_owned()),
        };
        let debug = format!("{command:?}");
        assert!(!debug.contains("secret-state"), "state id leaked: {debug}");
    }
}
