//! Management commands that decide on a client: `client-auth-nt`, `client-deny` and
//! `client-pending-auth` (OpenVPN `doc/management-notes.txt`).

use std::fmt;

/// A management command that decides on a client.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Reply {
    /// `client-auth-nt {CID} {KID}`.
    Accept {
        /// Client id.
        cid: u64,
        /// Management key id.
        kid: u32,
    },
    /// `client-deny {CID} {KID} "reason" ["client reason"]`; the client reason reaches the
    /// client as `AUTH_FAILED,<client reason>`.
    Deny {
        /// Client id.
        cid: u64,
        /// Management key id.
        kid: u32,
        /// Text for the server log.
        reason: String,
        /// Text for the client, or `None` for a plain `AUTH_FAILED`.
        client_reason: Option<String>,
    },
    /// `client-pending-auth {CID} {KID} "extra" {timeout}`; the server sends
    /// `AUTH_PENDING,timeout <timeout>` and `INFO_PRE,<extra>`.
    Pending {
        /// Client id.
        cid: u64,
        /// Management key id.
        kid: u32,
        /// `CR_TEXT:...` or `WEB_AUTH:...` text.
        extra: String,
        /// Seconds the server waits for the outcome.
        timeout_seconds: u64,
    },
}

impl Reply {
    /// Returns the command line without its line ending.
    pub(super) fn command(&self) -> String {
        match self {
            Reply::Accept { cid, kid } => format!("client-auth-nt {cid} {kid}"),
            Reply::Deny {
                cid,
                kid,
                reason,
                client_reason: None,
            } => format!("client-deny {cid} {kid} {}", quote(reason)),
            Reply::Deny {
                cid,
                kid,
                reason,
                client_reason: Some(client_reason),
            } => format!(
                "client-deny {cid} {kid} {} {}",
                quote(reason),
                quote(client_reason)
            ),
            Reply::Pending {
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

    /// First word of the command, for logs.
    pub(super) fn verb(&self) -> &'static str {
        match self {
            Reply::Accept { .. } => "client-auth-nt",
            Reply::Deny { .. } => "client-deny",
            Reply::Pending { .. } => "client-pending-auth",
        }
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The command of a CRV1 challenge carries the state id, which stays out of logs.
        match self {
            Reply::Accept { cid, kid } | Reply::Pending { cid, kid, .. } => {
                write!(f, "{} {cid} {kid}", self.verb())
            }
            Reply::Deny {
                cid, kid, reason, ..
            } => write!(f, "client-deny {cid} {kid} {reason:?}"),
        }
    }
}

/// Builds a `client-deny` reply.
pub(super) fn deny(cid: u64, kid: u32, reason: &str, client_reason: Option<&str>) -> Reply {
    Reply::Deny {
        cid,
        kid,
        reason: reason.to_owned(),
        client_reason: client_reason.map(str::to_owned),
    }
}

/// Quotes `value` as one parameter of a management command.
///
/// The management interface splits commands like the configuration file parser (OpenVPN
/// `doc/management-notes.txt`, "Command Parsing"): inside double quotes a backslash escapes
/// `\` and `"`, and everything else, single quotes included, is literal.
fn quote(value: &str) -> String {
    debug_assert!(
        !value.contains(['\n', '\r']),
        "a management command parameter cannot contain a line break"
    );
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authenticator::policy::CR_TEXT_CHALLENGE;

    #[test]
    fn reply_commands_quote_texts() {
        let cases = [
            (Reply::Accept { cid: 3, kid: 1 }, "client-auth-nt 3 1"),
            (
                deny(3, 1, "wrong password", None),
                r#"client-deny 3 1 "wrong password""#,
            ),
            (
                deny(3, 1, "otp required", Some("CRV1:R,E:s+t/a=:YWxpY2U=:Enter")),
                r#"client-deny 3 1 "otp required" "CRV1:R,E:s+t/a=:YWxpY2U=:Enter""#,
            ),
            (
                Reply::Pending {
                    cid: 3,
                    kid: 1,
                    extra: CR_TEXT_CHALLENGE.to_owned(),
                    timeout_seconds: 120,
                },
                r#"client-pending-auth 3 1 "CR_TEXT:R,E:Enter your authenticator code" 120"#,
            ),
        ];
        for (reply, expected) in cases {
            assert_eq!(reply.command(), expected);
        }
    }

    #[test]
    fn quote_escapes_backslash_and_double_quote() {
        let cases = [
            ("otp required", r#""otp required""#),
            ("Enter the word 'blue'", r#""Enter the word 'blue'""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            (r"a\b", r#""a\\b""#),
            (
                "CRV1:R,E:a/b+c=:YWxpY2U=:Code",
                r#""CRV1:R,E:a/b+c=:YWxpY2U=:Code""#,
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(quote(value), expected, "quoting {value:?}");
        }
    }
}
