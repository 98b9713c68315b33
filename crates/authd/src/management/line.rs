//! Parser for the lines an OpenVPN 2.6 server writes on its management interface.
//!
//! Lines starting with `>` are notifications (`doc/management-notes.txt`); with
//! `management-client-auth` the `>CLIENT:` ones announce clients to authenticate. Other
//! lines are responses to commands: `SUCCESS: ...`, `ERROR: ...` or lines of a
//! multi-line response. Parse errors name the notification type and the field, but
//! never quote a whole line, because `CR_RESPONSE` lines carry a client's one-time code.

use std::fmt;

use thiserror::Error;

/// Prefix of every notification that `management-client-auth` enables.
const CLIENT_PREFIX: &str = ">CLIENT:";

/// One line from the management interface, without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerLine {
    /// A `>CLIENT:` notification line.
    Client(ClientLine),
    /// Another notification, such as `>INFO:` or `>HOLD:`.
    Notification {
        /// Text between `>` and the first `:`, such as "INFO".
        kind: String,
    },
    /// `SUCCESS: <text>`, the response to a command that worked.
    Success(String),
    /// `ERROR: <text>`, the response to a command that failed.
    Error(String),
    /// Any other line, such as part of a multi-line response.
    Other(String),
}

/// One `>CLIENT:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientLine {
    /// The first line of a notification.
    Event(ClientEvent),
    /// `>CLIENT:ENV,name=value`, one variable of the block that follows an event.
    Env {
        /// Variable name, such as "username" or "IV_SSO".
        name: String,
        /// Value: everything after the first `=`, empty if there is none.
        value: String,
    },
    /// `>CLIENT:ENV,END`, the end of the variable block.
    EnvEnd,
}

/// The event of a `>CLIENT:` notification, as OpenVPN 2.6 `manage.c` writes it.
///
/// CID is the server's client id. KID is a key counter of the management interface,
/// except in `CR_RESPONSE`, where OpenVPN 2.6 writes the wire `key_id` instead.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// `>CLIENT:CONNECT,{CID},{KID}`: a new client session needs authentication.
    Connect {
        /// Client id.
        cid: u64,
        /// Management key id, to be echoed in the reply.
        kid: u32,
    },
    /// `>CLIENT:REAUTH,{CID},{KID}`: a TLS renegotiation of an established client needs
    /// authentication.
    Reauth {
        /// Client id.
        cid: u64,
        /// Management key id, to be echoed in the reply.
        kid: u32,
    },
    /// `>CLIENT:CR_RESPONSE,{CID},{KID},{base64}`: the answer to a `CR_TEXT` prompt.
    CrResponse {
        /// Client id.
        cid: u64,
        /// Wire `key_id` of the client's TLS session (OpenVPN 2.6 `push.c`
        /// `receive_cr_response`), which is not the management key id of `CONNECT`.
        key_id: u32,
        /// The response as the client sent it, base64 encoded.
        response: String,
    },
    /// `>CLIENT:ESTABLISHED,{CID}`: the client's session is up.
    Established {
        /// Client id.
        cid: u64,
    },
    /// `>CLIENT:DISCONNECT,{CID}`: the client instance is gone.
    Disconnect {
        /// Client id.
        cid: u64,
    },
    /// `>CLIENT:ADDRESS,{CID},{ADDR},{PRI}`: an address was assigned. No variable block
    /// follows this one.
    Address {
        /// Client id.
        cid: u64,
    },
    /// A type this parser does not know, such as one added by a later OpenVPN.
    Other {
        /// Text between `>CLIENT:` and the first comma.
        kind: String,
    },
}

impl ClientEvent {
    /// Returns whether OpenVPN follows this event with variables and `ENV,END`.
    ///
    /// OpenVPN 2.6 writes a variable block after every type except `ADDRESS`. An unknown
    /// type is assumed to have one, so that its variables are not taken for the next
    /// event's.
    pub fn has_env_block(&self) -> bool {
        !matches!(self, ClientEvent::Address { .. })
    }
}

impl fmt::Debug for ClientEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A CR_RESPONSE carries a one-time code, which stays out of debug output.
        match self {
            ClientEvent::Connect { cid, kid } => write!(f, "CONNECT cid={cid} kid={kid}"),
            ClientEvent::Reauth { cid, kid } => write!(f, "REAUTH cid={cid} kid={kid}"),
            ClientEvent::CrResponse { cid, key_id, .. } => {
                write!(f, "CR_RESPONSE cid={cid} key_id={key_id}")
            }
            ClientEvent::Established { cid } => write!(f, "ESTABLISHED cid={cid}"),
            ClientEvent::Disconnect { cid } => write!(f, "DISCONNECT cid={cid}"),
            ClientEvent::Address { cid } => write!(f, "ADDRESS cid={cid}"),
            ClientEvent::Other { kind } => write!(f, "{kind}"),
        }
    }
}

/// A `>CLIENT:` line that does not have the form OpenVPN 2.6 writes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    /// The line has the wrong number of comma-separated fields.
    #[error(
        "malformed >CLIENT:{kind} line from the server: expected {expected} fields after \
         the type, found {found}"
    )]
    FieldCount {
        /// Notification type, such as "CONNECT".
        kind: String,
        /// Fields expected after the type.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A CID or KID field is not a decimal number.
    #[error(
        "malformed >CLIENT:{kind} line from the server: {field} {value:?} is not a \
         decimal number"
    )]
    InvalidNumber {
        /// Notification type, such as "CONNECT".
        kind: String,
        /// Field name: "CID" or "KID".
        field: &'static str,
        /// The field's text.
        value: String,
    },
}

/// Classifies one line from the management interface.
pub fn parse_server_line(line: &str) -> Result<ServerLine, LineError> {
    if let Some(rest) = line.strip_prefix(CLIENT_PREFIX) {
        return parse_client_line(rest).map(ServerLine::Client);
    }
    if let Some(rest) = line.strip_prefix('>') {
        let kind = rest.split(':').next().unwrap_or_default().to_owned();
        return Ok(ServerLine::Notification { kind });
    }
    if let Some(text) = line.strip_prefix("SUCCESS:") {
        return Ok(ServerLine::Success(text.trim_start().to_owned()));
    }
    if let Some(text) = line.strip_prefix("ERROR:") {
        return Ok(ServerLine::Error(text.trim_start().to_owned()));
    }
    Ok(ServerLine::Other(line.to_owned()))
}

/// Parses the text after `>CLIENT:`.
fn parse_client_line(rest: &str) -> Result<ClientLine, LineError> {
    let (kind, fields) = rest.split_once(',').unwrap_or((rest, ""));

    if kind == "ENV" {
        if fields == "END" {
            return Ok(ClientLine::EnvEnd);
        }
        let (name, value) = fields.split_once('=').unwrap_or((fields, ""));
        return Ok(ClientLine::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }

    let event = match kind {
        "CONNECT" | "REAUTH" => {
            let [cid, kid] = split_fields(kind, fields)?;
            let cid = parse_number(kind, "CID", cid)?;
            let kid = parse_number(kind, "KID", kid)?;
            if kind == "CONNECT" {
                ClientEvent::Connect { cid, kid }
            } else {
                ClientEvent::Reauth { cid, kid }
            }
        }
        "CR_RESPONSE" => {
            // The response is the rest of the line: OpenVPN passes on the client's text
            // without checking that it is base64, so it may contain commas.
            let mut parts = fields.splitn(3, ',');
            let (Some(cid), Some(key_id), Some(response)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(LineError::FieldCount {
                    kind: kind.to_owned(),
                    expected: 3,
                    found: fields.split(',').count(),
                });
            };
            ClientEvent::CrResponse {
                cid: parse_number(kind, "CID", cid)?,
                key_id: parse_number(kind, "KID", key_id)?,
                response: response.to_owned(),
            }
        }
        "ESTABLISHED" | "DISCONNECT" => {
            let [cid] = split_fields(kind, fields)?;
            let cid = parse_number(kind, "CID", cid)?;
            if kind == "ESTABLISHED" {
                ClientEvent::Established { cid }
            } else {
                ClientEvent::Disconnect { cid }
            }
        }
        "ADDRESS" => {
            let [cid, _address, _primary] = split_fields(kind, fields)?;
            ClientEvent::Address {
                cid: parse_number(kind, "CID", cid)?,
            }
        }
        other => ClientEvent::Other {
            kind: other.to_owned(),
        },
    };
    Ok(ClientLine::Event(event))
}

/// Splits the comma-separated fields after the type into exactly `N` parts.
fn split_fields<'a, const N: usize>(
    kind: &str,
    fields: &'a str,
) -> Result<[&'a str; N], LineError> {
    let parts: Vec<&str> = fields.split(',').collect();
    let found = parts.len();
    parts.try_into().map_err(|_| LineError::FieldCount {
        kind: kind.to_owned(),
        expected: N,
        found,
    })
}

/// Parses a decimal CID or KID field.
fn parse_number<T: std::str::FromStr>(
    kind: &str,
    field: &'static str,
    value: &str,
) -> Result<T, LineError> {
    value.parse().map_err(|_| LineError::InvalidNumber {
        kind: kind.to_owned(),
        field,
        value: value.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: ClientEvent) -> ServerLine {
        ServerLine::Client(ClientLine::Event(event))
    }

    fn env(name: &str, value: &str) -> ServerLine {
        ServerLine::Client(ClientLine::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }

    #[test]
    fn parse_server_line_valid_table() {
        let cases = [
            (
                ">CLIENT:CONNECT,0,1",
                event(ClientEvent::Connect { cid: 0, kid: 1 }),
            ),
            (
                ">CLIENT:REAUTH,18446744073709551615,7",
                event(ClientEvent::Reauth {
                    cid: u64::MAX,
                    kid: 7,
                }),
            ),
            (
                ">CLIENT:CR_RESPONSE,3,0,MTIzNDU2",
                event(ClientEvent::CrResponse {
                    cid: 3,
                    key_id: 0,
                    response: "MTIzNDU2".to_owned(),
                }),
            ),
            (
                ">CLIENT:CR_RESPONSE,3,0,",
                event(ClientEvent::CrResponse {
                    cid: 3,
                    key_id: 0,
                    response: String::new(),
                }),
            ),
            (
                ">CLIENT:CR_RESPONSE,3,2,a,b",
                event(ClientEvent::CrResponse {
                    cid: 3,
                    key_id: 2,
                    response: "a,b".to_owned(),
                }),
            ),
            (
                ">CLIENT:ESTABLISHED,12",
                event(ClientEvent::Established { cid: 12 }),
            ),
            (
                ">CLIENT:DISCONNECT,12",
                event(ClientEvent::Disconnect { cid: 12 }),
            ),
            (
                ">CLIENT:ADDRESS,12,198.19.0.2,1",
                event(ClientEvent::Address { cid: 12 }),
            ),
            (
                ">CLIENT:CR_CHANGED,1",
                event(ClientEvent::Other {
                    kind: "CR_CHANGED".to_owned(),
                }),
            ),
            (">CLIENT:ENV,username=alice", env("username", "alice")),
            (
                ">CLIENT:ENV,IV_SSO=crtext,webauth",
                env("IV_SSO", "crtext,webauth"),
            ),
            (">CLIENT:ENV,password=a=b,c", env("password", "a=b,c")),
            (">CLIENT:ENV,password=", env("password", "")),
            (">CLIENT:ENV,bare", env("bare", "")),
            (">CLIENT:ENV,END", ServerLine::Client(ClientLine::EnvEnd)),
            (
                ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info",
                ServerLine::Notification {
                    kind: "INFO".to_owned(),
                },
            ),
            (
                "SUCCESS: client-auth command succeeded",
                ServerLine::Success("client-auth command succeeded".to_owned()),
            ),
            (
                "ERROR: client-deny command failed",
                ServerLine::Error("client-deny command failed".to_owned()),
            ),
            ("END", ServerLine::Other("END".to_owned())),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_server_line(line), Ok(expected), "parsing {line:?}");
        }
    }

    #[test]
    fn parse_server_line_malformed_table() {
        let cases = [
            (
                ">CLIENT:CONNECT,0",
                "expected 2 fields after the type, found 1",
            ),
            (
                ">CLIENT:CONNECT,0,1,2",
                "expected 2 fields after the type, found 3",
            ),
            (">CLIENT:CONNECT,x,1", "CID \"x\" is not a decimal number"),
            (">CLIENT:REAUTH,1,-1", "KID \"-1\" is not a decimal number"),
            (">CLIENT:CR_RESPONSE,1", "expected 3"),
            (">CLIENT:CR_RESPONSE,1,z,MTIz", "KID \"z\""),
            (">CLIENT:DISCONNECT,", "CID \"\""),
            (">CLIENT:ADDRESS,1,198.19.0.2", "expected 3"),
        ];
        for (line, expected) in cases {
            let error = parse_server_line(line).expect_err(line).to_string();
            assert!(
                error.contains(expected),
                "error for {line:?} must contain {expected:?}, got {error:?}"
            );
        }
    }

    #[test]
    fn parse_error_hides_cr_response_code() {
        let error = parse_server_line(">CLIENT:CR_RESPONSE,x,0,MTIzNDU2")
            .expect_err("CID x is invalid")
            .to_string();
        assert!(!error.contains("MTIzNDU2"), "response leaked: {error}");
    }

    #[test]
    fn cr_response_debug_hides_response() {
        let event = ClientEvent::CrResponse {
            cid: 1,
            key_id: 0,
            response: "MTIzNDU2".to_owned(),
        };
        let debug = format!("{event:?}");
        assert!(!debug.contains("MTIzNDU2"), "response leaked: {debug}");
    }
}
