//! Parser for the `>CLIENT:` notifications that `--management-client-auth` enables
//! (OpenVPN `doc/management-notes.txt`, "The CLIENT notification").

use std::fmt;

/// Prefix of every notification that `--management-client-auth` enables.
const CLIENT_PREFIX: &str = ">CLIENT:";

/// Environment variables whose values are credentials and stay out of debug output.
const SECRET_ENV_NAMES: [&str; 1] = ["password"];

/// A `>CLIENT:` notification line other than `ENV`, as OpenVPN 2.6 `manage.c` writes it.
///
/// CID is the server's client id and KID its management key counter, which is not the
/// `key_id` of the wire protocol.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum ClientEvent {
    /// `>CLIENT:CONNECT,{CID},{KID}`: a new client needs authentication.
    Connect {
        /// Client id.
        cid: u64,
        /// Management key id.
        kid: u32,
    },
    /// `>CLIENT:REAUTH,{CID},{KID}`: a TLS renegotiation of a client needs authentication.
    Reauth {
        /// Client id.
        cid: u64,
        /// Management key id.
        kid: u32,
    },
    /// `>CLIENT:CR_RESPONSE,{CID},{KID},{base64}`: the client's response to a `CR_TEXT` prompt.
    CrResponse {
        /// Client id.
        cid: u64,
        /// Wire `key_id` of the client's primary key, 0 on the first key: OpenVPN 2.6
        /// `push.c` fills the KID field of this notification with it, not with the
        /// management key id of `CONNECT`.
        key_id: u32,
        /// Response as the client sent it, still base64 encoded.
        response: String,
    },
    /// `>CLIENT:ESTABLISHED,{CID}`: the client is authenticated and its session runs.
    Established {
        /// Client id.
        cid: u64,
    },
    /// `>CLIENT:DISCONNECT,{CID}`: the client instance is gone.
    Disconnect {
        /// Client id.
        cid: u64,
    },
    /// `>CLIENT:ADDRESS,{CID},{ADDR},{PRI}`: an address was assigned; no ENV block follows.
    Address {
        /// Client id.
        cid: u64,
        /// Address or subnet, such as "198.19.0.2".
        address: String,
        /// Whether this is the primary address (`PRI` 1) or an `iroute` (`PRI` 0).
        primary: bool,
    },
    /// A notification type this parser does not know, such as one of a later OpenVPN.
    Other {
        /// Text between `>CLIENT:` and the first comma.
        kind: String,
    },
}

/// One parsed `>CLIENT:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ClientLine {
    /// The first line of a notification.
    Event(ClientEvent),
    /// `>CLIENT:ENV,name=value`, one variable of the ENV block.
    Env {
        /// Variable name, such as "username" or "IV_SSO".
        name: String,
        /// Value, everything after the first `=`.
        value: String,
    },
    /// `>CLIENT:ENV,END`, the end of the ENV block.
    EnvEnd,
}

/// A complete `>CLIENT:` notification: the event and its ENV block.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ClientNotification {
    /// The first line.
    pub(super) event: ClientEvent,
    /// Variables of the ENV block in the order received, empty for `ADDRESS`.
    pub(super) env: Vec<(String, String)>,
}

impl ClientNotification {
    /// Value of the ENV variable `name`, if the block has it.
    pub(super) fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value.as_str())
    }
}

impl ClientEvent {
    /// Returns whether OpenVPN follows this line with an ENV block ending in `ENV,END`.
    ///
    /// OpenVPN 2.6 `manage.c` writes an ENV block after every type except `ADDRESS`. Unknown
    /// types are assumed to have one, so their variables are not taken for the next event.
    fn has_env_block(&self) -> bool {
        !matches!(self, ClientEvent::Address { .. })
    }
}

impl fmt::Debug for ClientEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The CR_RESPONSE response is a one-time password and stays out of debug output.
        match self {
            ClientEvent::Connect { cid, kid } => write!(f, "Connect {{ cid: {cid}, kid: {kid} }}"),
            ClientEvent::Reauth { cid, kid } => write!(f, "Reauth {{ cid: {cid}, kid: {kid} }}"),
            ClientEvent::CrResponse { cid, key_id, .. } => {
                write!(f, "CrResponse {{ cid: {cid}, key_id: {key_id}, .. }}")
            }
            ClientEvent::Established { cid } => write!(f, "Established {{ cid: {cid} }}"),
            ClientEvent::Disconnect { cid } => write!(f, "Disconnect {{ cid: {cid} }}"),
            ClientEvent::Address {
                cid,
                address,
                primary,
            } => write!(
                f,
                "Address {{ cid: {cid}, address: {address:?}, primary: {primary} }}"
            ),
            ClientEvent::Other { kind } => write!(f, "Other {{ kind: {kind:?} }}"),
        }
    }
}

impl fmt::Debug for ClientNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| {
                let shown = if SECRET_ENV_NAMES.contains(&name.as_str()) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("ClientNotification")
            .field("event", &self.event)
            .field("env", &env)
            .finish()
    }
}

/// Parses one `>CLIENT:` line without its line ending.
///
/// The error names the line, except for ENV lines, whose values may be credentials.
pub(super) fn parse_client_line(line: &str) -> Result<ClientLine, String> {
    let rest = line
        .strip_prefix(CLIENT_PREFIX)
        .ok_or_else(|| format!("management line {line:?} is not a >CLIENT: notification"))?;

    if let Some(variable) = rest.strip_prefix("ENV,") {
        if variable == "END" {
            return Ok(ClientLine::EnvEnd);
        }
        let (name, value) = variable.split_once('=').unwrap_or((variable, ""));
        return Ok(ClientLine::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }

    let (kind, fields) = rest.split_once(',').unwrap_or((rest, ""));
    let event = match kind {
        "CONNECT" | "REAUTH" => {
            let [cid, kid] = split_fields::<2>(fields, line)?;
            let cid = parse_number(cid, "CID", line)?;
            let kid = parse_number(kid, "KID", line)?;
            if kind == "CONNECT" {
                ClientEvent::Connect { cid, kid }
            } else {
                ClientEvent::Reauth { cid, kid }
            }
        }
        "CR_RESPONSE" => {
            // Only CID and KID are split off, so the response is kept whole. Base64 has no
            // commas, but OpenVPN passes the client's text on without checking it.
            let (cid, rest) = fields.split_once(',').ok_or_else(|| missing(line))?;
            let (kid, response) = rest.split_once(',').ok_or_else(|| missing(line))?;
            ClientEvent::CrResponse {
                cid: parse_number(cid, "CID", line)?,
                key_id: parse_number(kid, "KID", line)?,
                response: response.to_owned(),
            }
        }
        "ESTABLISHED" | "DISCONNECT" => {
            let [cid] = split_fields::<1>(fields, line)?;
            let cid = parse_number(cid, "CID", line)?;
            if kind == "ESTABLISHED" {
                ClientEvent::Established { cid }
            } else {
                ClientEvent::Disconnect { cid }
            }
        }
        "ADDRESS" => {
            let [cid, address, primary] = split_fields::<3>(fields, line)?;
            let primary = match primary {
                "1" => true,
                "0" => false,
                other => {
                    return Err(format!(
                        "invalid PRI {other:?} in management line {line:?}; expected 0 or 1"
                    ))
                }
            };
            ClientEvent::Address {
                cid: parse_number(cid, "CID", line)?,
                address: address.to_owned(),
                primary,
            }
        }
        other => ClientEvent::Other {
            kind: other.to_owned(),
        },
    };
    Ok(ClientLine::Event(event))
}

/// Splits the comma-separated fields of a `>CLIENT:` line into exactly `N` parts.
fn split_fields<'a, const N: usize>(fields: &'a str, line: &str) -> Result<[&'a str; N], String> {
    let parts: Vec<&str> = fields.split(',').collect();
    parts.try_into().map_err(|parts: Vec<&str>| {
        format!(
            "management line {line:?} has {} fields after the type; expected {N}",
            parts.len()
        )
    })
}

/// Parses a decimal CID or KID field.
fn parse_number<T: std::str::FromStr>(field: &str, what: &str, line: &str) -> Result<T, String> {
    field
        .parse()
        .map_err(|_| format!("invalid {what} {field:?} in management line {line:?}"))
}

/// Error for a `CR_RESPONSE` line without its CID, KID and response fields.
fn missing(line: &str) -> String {
    format!("management line {line:?} lacks CID, KID and response fields")
}

/// Collects `>CLIENT:` lines into complete notifications.
#[derive(Debug, Default)]
pub(super) struct ClientNotificationReader {
    /// Notification whose ENV block is still being read.
    open: Option<ClientNotification>,
}

impl ClientNotificationReader {
    /// Feeds one `>CLIENT:` line and returns the notification it completes, if any.
    ///
    /// OpenVPN writes a notification and its ENV block without interruption. A new event
    /// before `ENV,END` therefore means a lost line: the open notification is dropped, the
    /// new one is started and an error is returned. An ENV line outside a block is an error
    /// too.
    pub(super) fn push_line(&mut self, line: &str) -> Result<Option<ClientNotification>, String> {
        match parse_client_line(line)? {
            ClientLine::Event(event) => {
                let notification = ClientNotification {
                    event,
                    env: Vec::new(),
                };
                if !notification.event.has_env_block() {
                    return Ok(Some(notification));
                }
                match self.open.replace(notification) {
                    Some(dropped) => Err(format!(
                        "management notification {:?} ended without ENV,END",
                        dropped.event
                    )),
                    None => Ok(None),
                }
            }
            ClientLine::Env { name, value } => match self.open.as_mut() {
                Some(open) => {
                    open.env.push((name, value));
                    Ok(None)
                }
                None => Err(format!(
                    "management ENV line for {name:?} arrived outside a notification"
                )),
            },
            ClientLine::EnvEnd => self
                .open
                .take()
                .map(Some)
                .ok_or_else(|| "management ENV,END arrived outside a notification".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: ClientEvent) -> Result<ClientLine, String> {
        Ok(ClientLine::Event(event))
    }

    fn env(name: &str, value: &str) -> Result<ClientLine, String> {
        Ok(ClientLine::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        })
    }

    #[test]
    fn parse_client_line_accepts_openvpn_lines() {
        let cases = [
            (
                ">CLIENT:CONNECT,0,1",
                event(ClientEvent::Connect { cid: 0, kid: 1 }),
            ),
            (
                ">CLIENT:REAUTH,4294967295,7",
                event(ClientEvent::Reauth {
                    cid: 4_294_967_295,
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
                ">CLIENT:CR_RESPONSE,3,0,a,b",
                event(ClientEvent::CrResponse {
                    cid: 3,
                    key_id: 0,
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
                event(ClientEvent::Address {
                    cid: 12,
                    address: "198.19.0.2".to_owned(),
                    primary: true,
                }),
            ),
            (
                ">CLIENT:PF_REQUEST,12",
                event(ClientEvent::Other {
                    kind: "PF_REQUEST".to_owned(),
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
            (">CLIENT:ENV,END", Ok(ClientLine::EnvEnd)),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_client_line(line), expected, "parsing {line:?}");
        }
    }

    #[test]
    fn parse_client_line_rejects_malformed_lines() {
        let cases = [
            (">INFO:OpenVPN Management Interface", "not a >CLIENT:"),
            (">CLIENT:CONNECT,0", "expected 2"),
            (">CLIENT:CONNECT,0,1,2", "expected 2"),
            (">CLIENT:CONNECT,x,1", "invalid CID"),
            (">CLIENT:REAUTH,1,-1", "invalid KID"),
            (">CLIENT:CR_RESPONSE,1", "lacks CID, KID"),
            (">CLIENT:CR_RESPONSE,1,z,MTIz", "invalid KID"),
            (">CLIENT:DISCONNECT,", "invalid CID"),
            (">CLIENT:ADDRESS,1,198.19.0.2,2", "invalid PRI"),
        ];
        for (line, expected) in cases {
            let error = parse_client_line(line).expect_err(line);
            assert!(
                error.contains(expected),
                "error for {line:?} must contain {expected:?}, got {error:?}"
            );
        }
    }

    #[test]
    fn reader_assembles_connect_with_env() {
        let mut reader = ClientNotificationReader::default();
        let lines = [
            ">CLIENT:CONNECT,5,2",
            ">CLIENT:ENV,username=alice",
            ">CLIENT:ENV,password=secret",
            ">CLIENT:ENV,IV_SSO=crtext",
        ];
        for line in lines {
            assert_eq!(
                reader.push_line(line),
                Ok(None),
                "{line:?} completes nothing"
            );
        }

        let notification = reader
            .push_line(">CLIENT:ENV,END")
            .expect("ENV,END is valid")
            .expect("ENV,END completes the notification");
        assert_eq!(notification.event, ClientEvent::Connect { cid: 5, kid: 2 });
        assert_eq!(notification.env("username"), Some("alice"));
        assert_eq!(notification.env("password"), Some("secret"));
        assert_eq!(notification.env("IV_SSO"), Some("crtext"));
        assert_eq!(notification.env("session_state"), None);
    }

    #[test]
    fn reader_assembles_cr_response_with_env() {
        let mut reader = ClientNotificationReader::default();
        let first = reader.push_line(">CLIENT:CR_RESPONSE,5,2,MTIzNDU2");
        assert_eq!(first, Ok(None), "CR_RESPONSE waits for its ENV block");
        let second = reader.push_line(">CLIENT:ENV,common_name=client");
        assert_eq!(second, Ok(None), "ENV line completes nothing");

        let notification = reader
            .push_line(">CLIENT:ENV,END")
            .expect("ENV,END is valid")
            .expect("ENV,END completes the notification");
        let expected = ClientEvent::CrResponse {
            cid: 5,
            key_id: 2,
            response: "MTIzNDU2".to_owned(),
        };
        assert_eq!(notification.event, expected);
    }

    #[test]
    fn reader_returns_address_at_once() {
        let mut reader = ClientNotificationReader::default();
        let notification = reader
            .push_line(">CLIENT:ADDRESS,5,198.19.0.2,1")
            .expect("ADDRESS is valid")
            .expect("ADDRESS has no ENV block");
        assert!(notification.env.is_empty(), "ADDRESS carries no variables");
    }

    #[test]
    fn reader_reports_interrupted_notification() {
        let mut reader = ClientNotificationReader::default();
        assert_eq!(reader.push_line(">CLIENT:CONNECT,1,0"), Ok(None));

        let interrupted = reader.push_line(">CLIENT:CONNECT,2,0");
        assert!(
            interrupted.is_err(),
            "a second event before ENV,END is an error"
        );

        let notification = reader
            .push_line(">CLIENT:ENV,END")
            .expect("ENV,END is valid")
            .expect("the second notification completes");
        assert_eq!(notification.event, ClientEvent::Connect { cid: 2, kid: 0 });
    }

    #[test]
    fn reader_rejects_env_outside_notification() {
        let mut reader = ClientNotificationReader::default();
        assert!(reader.push_line(">CLIENT:ENV,username=alice").is_err());
        assert!(reader.push_line(">CLIENT:ENV,END").is_err());
    }

    #[test]
    fn notification_debug_hides_password() {
        let notification = ClientNotification {
            event: ClientEvent::Connect { cid: 0, kid: 1 },
            env: vec![
                ("username".to_owned(), "alice".to_owned()),
                ("password".to_owned(), "hunter2".to_owned()),
            ],
        };
        let debug = format!("{notification:?}");
        assert!(!debug.contains("hunter2"), "password leaked: {debug}");
        assert!(debug.contains("alice"), "username missing: {debug}");
    }

    #[test]
    fn cr_response_debug_hides_response() {
        let event = ClientEvent::CrResponse {
            cid: 0,
            key_id: 1,
            response: "MTIzNDU2".to_owned(),
        };
        let debug = format!("{event:?}");
        assert!(!debug.contains("MTIzNDU2"), "response leaked: {debug}");
    }
}
