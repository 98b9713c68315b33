//! Text control messages carried in TLS application data after key method 2.
//!
//! Each message is a NUL-terminated string, and several may share one TLS record.
//! The server sends `PUSH_REPLY`, `AUTH_FAILED`, `AUTH_PENDING`, `INFO_PRE`, `INFO`,
//! `RESTART`, `HALT` and `EXIT`. The client sends `PUSH_REQUEST`, `CR_RESPONSE` and
//! `EXIT`. Dispatch follows OpenVPN 2.6 `forward.c`
//! `parse_incoming_control_channel_command`.

use std::fmt;

use base64::Engine as _;
use zeroize::Zeroizing;

/// Size in bytes of the buffer into which an OpenVPN 2.6 peer reads the plaintext of one
/// TLS record (`TLS_CHANNEL_BUF_SIZE` in `common.h`).
///
/// A longer message is read in two parts, which the peer then parses as two broken messages.
pub const TLS_CHANNEL_BUF_SIZE: usize = 2048;

/// Maximum length in bytes of a `CR_RESPONSE` response, before base64, whose message fits
/// [`TLS_CHANNEL_BUF_SIZE`].
///
/// 2048 bytes minus `CR_RESPONSE,` (12 bytes) and the NUL leave 2035 characters of base64,
/// which encode 508 groups of 3 bytes.
pub const CR_RESPONSE_MAX_LEN: usize = 1524;

/// Maximum number of characters of a message name quoted in an error, so that an error
/// does not repeat message content.
const QUOTED_NAME_MAX_CHARS: usize = 32;

/// A control message that the client cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlMessageError {
    /// The message has bytes that are not UTF-8.
    #[error("control message {name:?} is not valid UTF-8; the server sent a corrupt message")]
    InvalidUtf8 {
        /// The message name, with unprintable characters escaped.
        name: String,
    },
    /// The message has a control character other than a trailing CR or LF.
    #[error(
        "control message {name:?} contains control character {character:#04x}; OpenVPN \
         drops such messages as well"
    )]
    ControlCharacter {
        /// The message name, with unprintable characters escaped.
        name: String,
        /// The offending character.
        character: u32,
    },
    /// `AUTH_FAILED,TEMP[...]` has a `[` without a closing `]`.
    #[error("AUTH_FAILED,TEMP flags start with '[' but have no closing ']': {text:?}")]
    UnclosedTempFlags {
        /// The text after `TEMP`.
        text: String,
    },
    /// `AUTH_FAILED,TEMP` is followed by something other than `[flags]`, `:` or the end.
    #[error("AUTH_FAILED,TEMP is not followed by ':' or '[flags]:': {text:?}")]
    MalformedTemp {
        /// The text after `TEMP`.
        text: String,
    },
    /// `backoff` in `AUTH_FAILED,TEMP[...]` is not a number of seconds.
    #[error("AUTH_FAILED,TEMP backoff {value:?} is not a number of seconds")]
    InvalidBackoff {
        /// The value after `backoff`.
        value: String,
    },
    /// `advance` in `AUTH_FAILED,TEMP[...]` is not `no`, `addr` or `remote`.
    #[error("AUTH_FAILED,TEMP advance {value:?} is not one of no, addr, remote")]
    InvalidAdvance {
        /// The value after `advance`.
        value: String,
    },
    /// `timeout` in `AUTH_PENDING` is not a number of seconds.
    #[error("AUTH_PENDING timeout {value:?} is not a number of seconds")]
    InvalidAuthPendingTimeout {
        /// The value after `timeout`.
        value: String,
    },
    /// `RESTART,[flags]` or `HALT,[flags]` has a `[` without a closing `]`.
    #[error("{name} flags start with '[' but have no closing ']': {text:?}")]
    UnclosedSignalFlags {
        /// `RESTART` or `HALT`.
        name: &'static str,
        /// The text after the comma.
        text: String,
    },
}

/// A message from the server, parsed by its name.
///
/// `Debug` output shows only the length of a `PUSH_REPLY` body.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// `PUSH_REPLY[,options]`: the options after the comma, still unparsed.
    ///
    /// The body may contain an `auth-token`, so it must not be logged.
    PushReply(String),
    /// `AUTH_FAILED[,reason]`.
    AuthFailed(AuthFailed),
    /// `AUTH_PENDING[,keywords]`: the server keeps authentication pending.
    AuthPending {
        /// Seconds from `timeout N`, the only keyword OpenVPN 2.6 defines.
        timeout: Option<u32>,
        /// Every keyword as received, comma-separated.
        keywords: String,
    },
    /// `INFO_PRE,text`: pending-auth information such as `CR_TEXT:` or `WEB_AUTH:`.
    InfoPre(String),
    /// `INFO,text`: information for the user.
    Info(String),
    /// `RESTART[,[flags]text]`: the server requests that the client reconnect.
    Restart {
        /// Flag `P`: keep the cached username and password, which are purged otherwise.
        preserve_credentials: bool,
        /// Flag `N`: connect to the next remote.
        advance: bool,
        /// The server's text after the flags.
        text: String,
    },
    /// `HALT[,text]`: the server requests that the client stop and not reconnect.
    Halt {
        /// The server's text.
        text: String,
    },
    /// `EXIT`: the server is going away.
    Exit,
    /// A message this client does not handle, kept whole for logging.
    Unknown(String),
}

/// The reason in an `AUTH_FAILED` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailed {
    /// `AUTH_FAILED` or `AUTH_FAILED,reason`.
    Plain {
        /// The text after the comma, if the server sent any.
        reason: Option<String>,
    },
    /// `AUTH_FAILED,SESSION:reason`: the auth-token was rejected, so the client must drop it.
    Session {
        /// The text after `SESSION:`, leading spaces removed.
        reason: String,
    },
    /// `AUTH_FAILED,TEMP[flags]:reason`: a temporary failure, worth retrying.
    Temp {
        /// Seconds to wait before reconnecting, from the `backoff` flag.
        backoff: Option<u32>,
        /// The remote to use next, from the `advance` flag.
        advance: Option<Advance>,
        /// The text after the flags.
        reason: String,
    },
    /// `AUTH_FAILED,CRV1:flags:state_id:username:text`: a dynamic challenge.
    Crv1 {
        /// Everything after `CRV1:`.
        raw: String,
    },
}

/// The `advance` flag of `AUTH_FAILED,TEMP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// `advance no`: retry the same remote.
    No,
    /// `advance addr`: try the next address of the same remote.
    Addr,
    /// `advance remote`: try the next remote.
    Remote,
}

impl fmt::Debug for ServerMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerMessage::PushReply(body) => f
                .debug_tuple("PushReply")
                .field(&format_args!("<{} bytes>", body.len()))
                .finish(),
            ServerMessage::AuthFailed(failed) => f.debug_tuple("AuthFailed").field(failed).finish(),
            ServerMessage::AuthPending { timeout, keywords } => f
                .debug_struct("AuthPending")
                .field("timeout", timeout)
                .field("keywords", keywords)
                .finish(),
            ServerMessage::InfoPre(text) => f.debug_tuple("InfoPre").field(text).finish(),
            ServerMessage::Info(text) => f.debug_tuple("Info").field(text).finish(),
            ServerMessage::Restart {
                preserve_credentials,
                advance,
                text,
            } => f
                .debug_struct("Restart")
                .field("preserve_credentials", preserve_credentials)
                .field("advance", advance)
                .field("text", text)
                .finish(),
            ServerMessage::Halt { text } => f.debug_struct("Halt").field("text", text).finish(),
            ServerMessage::Exit => f.write_str("Exit"),
            ServerMessage::Unknown(text) => f.debug_tuple("Unknown").field(text).finish(),
        }
    }
}

impl fmt::Display for AuthFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthFailed::Plain { reason: None } => f.write_str("the server gave no reason"),
            AuthFailed::Plain {
                reason: Some(reason),
            } => f.write_str(reason),
            AuthFailed::Session { reason } => write!(f, "session rejected: {reason}"),
            AuthFailed::Temp { reason, .. } => write!(f, "temporary failure: {reason}"),
            AuthFailed::Crv1 { .. } => f.write_str("the server sent a CRV1 challenge"),
        }
    }
}

/// Splits the plaintext of TLS records into text messages.
///
/// Messages end at a NUL byte. Empty messages are skipped, trailing CR and LF are removed,
/// and a last message without a NUL is returned as well. OpenVPN 2.6 drops that last
/// part instead, but its servers always send the NUL. A message with another control
/// character or with bytes that are not UTF-8 becomes an error, and the other messages
/// are still returned.
pub fn split_messages(plaintext: &[u8]) -> Vec<Result<String, ControlMessageError>> {
    plaintext
        .split(|byte| *byte == 0)
        .map(trim_line_end)
        .filter(|message| !message.is_empty())
        .map(decode_message)
        .collect()
}

fn trim_line_end(mut message: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = message {
        message = rest;
    }
    message
}

fn decode_message(message: &[u8]) -> Result<String, ControlMessageError> {
    // Messages that end or redirect the session must never be lost to a stray byte: like
    // OpenVPN 2.x, replace control characters and invalid UTF-8 and act on the message.
    if [&b"AUTH_FAILED"[..], b"RESTART", b"HALT"]
        .iter()
        .any(|name| message.starts_with(name))
    {
        let text = String::from_utf8_lossy(message);
        return Ok(text
            .chars()
            .map(|character| {
                if character.is_control() {
                    ' '
                } else {
                    character
                }
            })
            .collect());
    }

    let Ok(text) = std::str::from_utf8(message) else {
        return Err(ControlMessageError::InvalidUtf8 {
            name: quoted_name(&String::from_utf8_lossy(message)),
        });
    };

    if let Some(character) = text.chars().find(|character| character.is_control()) {
        return Err(ControlMessageError::ControlCharacter {
            name: quoted_name(text),
            character: u32::from(character),
        });
    }

    Ok(text.to_owned())
}

/// Returns the message name (the text before the first comma), shortened and escaped.
fn quoted_name(text: &str) -> String {
    let name = text.split(',').next().unwrap_or_default();
    name.chars()
        .take(QUOTED_NAME_MAX_CHARS)
        .flat_map(char::escape_default)
        .collect()
}

impl ServerMessage {
    /// Parses one message, as returned by [`split_messages`].
    ///
    /// The name is the text before the first comma. Names other than those above, such as
    /// `PUSH_UPDATE` from OpenVPN 2.7 or `ACC` from OpenVPN 3, become [`ServerMessage::Unknown`].
    pub fn parse(text: &str) -> Result<ServerMessage, ControlMessageError> {
        let (name, argument) = match text.split_once(',') {
            Some((name, argument)) => (name, Some(argument)),
            None => (text, None),
        };
        let argument_text = || argument.unwrap_or_default().to_owned();

        let message = match name {
            "PUSH_REPLY" => ServerMessage::PushReply(argument_text()),
            "AUTH_FAILED" => ServerMessage::AuthFailed(parse_auth_failed(argument)?),
            "AUTH_PENDING" => parse_auth_pending(argument.unwrap_or_default())?,
            "INFO_PRE" => ServerMessage::InfoPre(argument_text()),
            "INFO" => ServerMessage::Info(argument_text()),
            "RESTART" => {
                let signal = parse_signal_text("RESTART", argument.unwrap_or_default())?;
                ServerMessage::Restart {
                    preserve_credentials: signal.preserve_credentials,
                    advance: signal.advance,
                    text: signal.text,
                }
            }
            "HALT" => {
                // HALT takes the same flags as RESTART, but they have no effect on a halt.
                let signal = parse_signal_text("HALT", argument.unwrap_or_default())?;
                ServerMessage::Halt { text: signal.text }
            }
            "EXIT" => ServerMessage::Exit,
            _ => ServerMessage::Unknown(text.to_owned()),
        };
        Ok(message)
    }
}

fn parse_auth_failed(argument: Option<&str>) -> Result<AuthFailed, ControlMessageError> {
    let Some(reason) = argument.filter(|reason| !reason.is_empty()) else {
        return Ok(AuthFailed::Plain { reason: None });
    };

    if let Some(rest) = reason.strip_prefix("SESSION:") {
        return Ok(AuthFailed::Session {
            reason: rest.trim_start().to_owned(),
        });
    }

    if let Some(raw) = reason.strip_prefix("CRV1:") {
        return Ok(AuthFailed::Crv1 {
            raw: raw.to_owned(),
        });
    }

    if let Some(rest) = reason.strip_prefix("TEMP") {
        if rest.is_empty() || rest.starts_with(['[', ':']) {
            return parse_auth_failed_temp(rest);
        }
    }

    Ok(AuthFailed::Plain {
        reason: Some(reason.to_owned()),
    })
}

/// Parses the text after `TEMP`: `[backoff 30,advance addr]:reason`, `:reason` or nothing.
fn parse_auth_failed_temp(text: &str) -> Result<AuthFailed, ControlMessageError> {
    let mut backoff = None;
    let mut advance = None;

    let after_flags = match text.strip_prefix('[') {
        Some(flagged) => {
            let Some((flags, rest)) = flagged.split_once(']') else {
                return Err(ControlMessageError::UnclosedTempFlags {
                    text: text.to_owned(),
                });
            };

            for flag in flags.split(',').map(str::trim).filter(|f| !f.is_empty()) {
                if let Some(value) = flag.strip_prefix("backoff ") {
                    let seconds = value.trim().parse::<u32>().map_err(|_| {
                        ControlMessageError::InvalidBackoff {
                            value: value.to_owned(),
                        }
                    })?;
                    backoff = Some(seconds);
                } else if let Some(value) = flag.strip_prefix("advance ") {
                    advance = Some(parse_advance(value.trim())?);
                } else {
                    tracing::debug!(flag, "ignoring unknown AUTH_FAILED,TEMP flag");
                }
            }
            rest
        }
        None => text,
    };

    let reason = match after_flags.strip_prefix(':') {
        Some(reason) => reason.to_owned(),
        None if after_flags.is_empty() => String::new(),
        None => {
            return Err(ControlMessageError::MalformedTemp {
                text: text.to_owned(),
            })
        }
    };

    Ok(AuthFailed::Temp {
        backoff,
        advance,
        reason,
    })
}

fn parse_advance(value: &str) -> Result<Advance, ControlMessageError> {
    match value {
        "no" => Ok(Advance::No),
        "addr" => Ok(Advance::Addr),
        "remote" => Ok(Advance::Remote),
        _ => Err(ControlMessageError::InvalidAdvance {
            value: value.to_owned(),
        }),
    }
}

/// Parses the comma-separated `key value` keywords of `AUTH_PENDING`.
fn parse_auth_pending(keywords: &str) -> Result<ServerMessage, ControlMessageError> {
    let mut timeout = None;

    for keyword in keywords.split(',').map(str::trim) {
        let (key, value) = keyword.split_once(' ').unwrap_or((keyword, ""));
        if key != "timeout" {
            if !keyword.is_empty() {
                tracing::debug!(keyword, "ignoring unknown AUTH_PENDING keyword");
            }
            continue;
        }

        let value = value.trim();
        let seconds =
            value
                .parse::<u32>()
                .map_err(|_| ControlMessageError::InvalidAuthPendingTimeout {
                    value: value.to_owned(),
                })?;
        timeout = Some(seconds);
    }

    Ok(ServerMessage::AuthPending {
        timeout,
        keywords: keywords.to_owned(),
    })
}

/// The argument of `RESTART` or `HALT`, split into flags and text.
struct SignalText {
    preserve_credentials: bool,
    advance: bool,
    text: String,
}

/// Parses `[flags]text` after `RESTART,` or `HALT,`.
///
/// OpenVPN 2.6 `push.c` `server_pushed_signal` reads `P` and `N` between the brackets and
/// ignores other letters. OpenVPN 3 writes `[P]:reason`, so a colon after the flags is
/// dropped from the text.
fn parse_signal_text(
    name: &'static str,
    argument: &str,
) -> Result<SignalText, ControlMessageError> {
    let Some(flagged) = argument.strip_prefix('[') else {
        return Ok(SignalText {
            preserve_credentials: false,
            advance: false,
            text: argument.to_owned(),
        });
    };

    let Some((flags, rest)) = flagged.split_once(']') else {
        return Err(ControlMessageError::UnclosedSignalFlags {
            name,
            text: argument.to_owned(),
        });
    };

    Ok(SignalText {
        preserve_credentials: flags.contains('P'),
        advance: flags.contains('N'),
        text: rest.strip_prefix(':').unwrap_or(rest).to_owned(),
    })
}

/// Returns the `PUSH_REQUEST` message, NUL included.
pub fn push_request() -> &'static [u8] {
    b"PUSH_REQUEST\0"
}

/// Returns the `EXIT` message, NUL included, sent when the client leaves and the server
/// announced `protocol-flags cc-exit`.
pub fn exit() -> &'static [u8] {
    b"EXIT\0"
}

/// Encodes `CR_RESPONSE,<base64(response)>` with its NUL, the reply to a `CR_TEXT` challenge.
///
/// A response longer than [`CR_RESPONSE_MAX_LEN`] bytes does not fit the server's read
/// buffer, so the caller should reject it before calling this.
pub fn cr_response(response: &str) -> Zeroizing<Vec<u8>> {
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(response));

    let mut message = Zeroizing::new(Vec::with_capacity(
        b"CR_RESPONSE,".len() + encoded.len() + 1,
    ));
    message.extend_from_slice(b"CR_RESPONSE,");
    message.extend_from_slice(encoded.as_bytes());
    message.push(0);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> ServerMessage {
        match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(error) => panic!("{text:?} did not parse: {error}"),
        }
    }

    #[test]
    fn split_messages_on_nul() {
        let messages = split_messages(b"AUTH_PENDING,timeout 9\0INFO_PRE,CR_TEXT:R,E:Enter OTP\0");
        let expected = vec![
            Ok("AUTH_PENDING,timeout 9".to_owned()),
            Ok("INFO_PRE,CR_TEXT:R,E:Enter OTP".to_owned()),
        ];
        assert_eq!(messages, expected, "two NUL-terminated messages");
    }

    #[test]
    fn split_messages_strips_line_ends() {
        let messages = split_messages(b"INFO,hello\r\n\0");
        assert_eq!(messages, vec![Ok("INFO,hello".to_owned())]);
    }

    #[test]
    fn split_messages_skips_empty() {
        let messages = split_messages(b"\0\0EXIT\0\0");
        assert_eq!(messages, vec![Ok("EXIT".to_owned())]);
    }

    #[test]
    fn split_messages_keeps_unterminated_tail() {
        let messages = split_messages(b"PUSH_REPLY,ping 10\0HALT");
        assert_eq!(messages.len(), 2, "messages: {messages:?}");
        assert_eq!(messages[1], Ok("HALT".to_owned()));
    }

    #[test]
    fn split_messages_rejects_control_character() {
        let messages = split_messages(b"INFO,a\tb\0EXIT\0");
        let expected_error = ControlMessageError::ControlCharacter {
            name: "INFO".to_owned(),
            character: 9,
        };
        assert_eq!(messages[0], Err(expected_error), "tab in the first message");
        assert_eq!(
            messages[1],
            Ok("EXIT".to_owned()),
            "second message survives"
        );
    }

    #[test]
    fn split_messages_rejects_invalid_utf8() {
        let messages = split_messages(b"INFO,caf\xe9\0");
        let expected_error = ControlMessageError::InvalidUtf8 {
            name: "INFO".to_owned(),
        };
        assert_eq!(messages, vec![Err(expected_error)]);
    }

    #[test]
    fn split_messages_accepts_utf8_text() {
        let messages = split_messages("INFO,Zugang gewährt\0".as_bytes());
        assert_eq!(messages, vec![Ok("INFO,Zugang gewährt".to_owned())]);
    }

    #[test]
    fn error_quotes_only_message_name() {
        let messages = split_messages(b"PUSH_REPLY,auth-token SECRET\x01\0");
        let Some(Err(error)) = messages.first() else {
            panic!("expected an error, got {messages:?}");
        };
        assert!(
            !error.to_string().contains("SECRET"),
            "error repeats message content: {error}"
        );
    }

    #[test]
    fn parse_server_messages_table() {
        let cases: Vec<(&str, ServerMessage)> = vec![
            (
                "PUSH_REPLY,ping 10,ping-restart 60",
                ServerMessage::PushReply("ping 10,ping-restart 60".to_owned()),
            ),
            ("PUSH_REPLY", ServerMessage::PushReply(String::new())),
            (
                "AUTH_PENDING",
                ServerMessage::AuthPending {
                    timeout: None,
                    keywords: String::new(),
                },
            ),
            (
                "AUTH_PENDING,timeout 9",
                ServerMessage::AuthPending {
                    timeout: Some(9),
                    keywords: "timeout 9".to_owned(),
                },
            ),
            (
                "AUTH_PENDING,future 1,timeout 300",
                ServerMessage::AuthPending {
                    timeout: Some(300),
                    keywords: "future 1,timeout 300".to_owned(),
                },
            ),
            (
                "INFO_PRE,CR_TEXT:R,E:Enter OTP",
                ServerMessage::InfoPre("CR_TEXT:R,E:Enter OTP".to_owned()),
            ),
            (
                "INFO_PRE,WEB_AUTH::https://vpn.example/auth",
                ServerMessage::InfoPre("WEB_AUTH::https://vpn.example/auth".to_owned()),
            ),
            ("INFO,hello", ServerMessage::Info("hello".to_owned())),
            (
                "RESTART",
                ServerMessage::Restart {
                    preserve_credentials: false,
                    advance: false,
                    text: String::new(),
                },
            ),
            (
                "RESTART,[N]",
                ServerMessage::Restart {
                    preserve_credentials: false,
                    advance: true,
                    text: String::new(),
                },
            ),
            (
                "RESTART,[P]:server restarting",
                ServerMessage::Restart {
                    preserve_credentials: true,
                    advance: false,
                    text: "server restarting".to_owned(),
                },
            ),
            (
                "RESTART,[PN]shutting down",
                ServerMessage::Restart {
                    preserve_credentials: true,
                    advance: true,
                    text: "shutting down".to_owned(),
                },
            ),
            (
                "RESTART,client-kill by admin",
                ServerMessage::Restart {
                    preserve_credentials: false,
                    advance: false,
                    text: "client-kill by admin".to_owned(),
                },
            ),
            (
                "HALT",
                ServerMessage::Halt {
                    text: String::new(),
                },
            ),
            (
                "HALT,go away",
                ServerMessage::Halt {
                    text: "go away".to_owned(),
                },
            ),
            ("EXIT", ServerMessage::Exit),
            (
                "PUSH_UPDATE,route 198.18.5.0 255.255.255.0",
                ServerMessage::Unknown("PUSH_UPDATE,route 198.18.5.0 255.255.255.0".to_owned()),
            ),
            (
                "CR_RESPONSE,MTIz",
                ServerMessage::Unknown("CR_RESPONSE,MTIz".to_owned()),
            ),
        ];

        for (text, expected) in cases {
            assert_eq!(parse(text), expected, "message {text:?}");
        }
    }

    #[test]
    fn parse_auth_failed_table() {
        let cases: Vec<(&str, AuthFailed)> = vec![
            ("AUTH_FAILED", AuthFailed::Plain { reason: None }),
            ("AUTH_FAILED,", AuthFailed::Plain { reason: None }),
            (
                "AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)",
                AuthFailed::Plain {
                    reason: Some(
                        "Data channel cipher negotiation failed (no shared cipher)".to_owned(),
                    ),
                },
            ),
            (
                "AUTH_FAILED,SESSION: token expired",
                AuthFailed::Session {
                    reason: "token expired".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP",
                AuthFailed::Temp {
                    backoff: None,
                    advance: None,
                    reason: String::new(),
                },
            ),
            (
                "AUTH_FAILED,TEMP:server busy",
                AuthFailed::Temp {
                    backoff: None,
                    advance: None,
                    reason: "server busy".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP[backoff 30,advance remote]:try later",
                AuthFailed::Temp {
                    backoff: Some(30),
                    advance: Some(Advance::Remote),
                    reason: "try later".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP[advance no,future flag]:",
                AuthFailed::Temp {
                    backoff: None,
                    advance: Some(Advance::No),
                    reason: String::new(),
                },
            ),
            (
                "AUTH_FAILED,TEMPORARY outage",
                AuthFailed::Plain {
                    reason: Some("TEMPORARY outage".to_owned()),
                },
            ),
            (
                "AUTH_FAILED,CRV1:R,E:abc123:dGVzdHVzZXI=:Enter your OTP: now",
                AuthFailed::Crv1 {
                    raw: "R,E:abc123:dGVzdHVzZXI=:Enter your OTP: now".to_owned(),
                },
            ),
        ];

        for (text, expected) in cases {
            assert_eq!(
                parse(text),
                ServerMessage::AuthFailed(expected),
                "message {text:?}"
            );
        }
    }

    #[test]
    fn parse_malformed_messages_table() {
        let cases: Vec<(&str, ControlMessageError)> = vec![
            (
                "AUTH_FAILED,TEMP[backoff 30:oops",
                ControlMessageError::UnclosedTempFlags {
                    text: "[backoff 30:oops".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP[backoff soon]:x",
                ControlMessageError::InvalidBackoff {
                    value: "soon".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP[advance sideways]:x",
                ControlMessageError::InvalidAdvance {
                    value: "sideways".to_owned(),
                },
            ),
            (
                "AUTH_FAILED,TEMP[backoff 5]later",
                ControlMessageError::MalformedTemp {
                    text: "[backoff 5]later".to_owned(),
                },
            ),
            (
                "AUTH_PENDING,timeout nine",
                ControlMessageError::InvalidAuthPendingTimeout {
                    value: "nine".to_owned(),
                },
            ),
            (
                "AUTH_PENDING,timeout -1",
                ControlMessageError::InvalidAuthPendingTimeout {
                    value: "-1".to_owned(),
                },
            ),
            (
                "RESTART,[P",
                ControlMessageError::UnclosedSignalFlags {
                    name: "RESTART",
                    text: "[P".to_owned(),
                },
            ),
        ];

        for (text, expected) in cases {
            assert_eq!(
                ServerMessage::parse(text),
                Err(expected),
                "message {text:?}"
            );
        }
    }

    #[test]
    fn push_reply_debug_hides_body() {
        let message = parse("PUSH_REPLY,auth-token SESS_ID_AT_secret");
        let debug = format!("{message:?}");
        assert_eq!(debug, "PushReply(<28 bytes>)");
    }

    #[test]
    fn auth_failed_display_hides_crv1_state() {
        let failed = AuthFailed::Crv1 {
            raw: "R:state123:dXNlcg==:Enter code".to_owned(),
        };
        assert!(
            !failed.to_string().contains("state123"),
            "display: {failed}"
        );
    }

    #[test]
    fn push_request_is_nul_terminated() {
        assert_eq!(push_request(), b"PUSH_REQUEST\0");
    }

    #[test]
    fn exit_is_nul_terminated() {
        assert_eq!(exit(), b"EXIT\0");
    }

    #[test]
    fn cr_response_encodes_base64() {
        let message = cr_response("123456");
        assert_eq!(message.as_slice(), b"CR_RESPONSE,MTIzNDU2\0");
    }

    #[test]
    fn cr_response_max_len_fits_buffer() {
        let response = "x".repeat(CR_RESPONSE_MAX_LEN);
        let message = cr_response(&response);
        assert!(
            message.len() <= TLS_CHANNEL_BUF_SIZE,
            "message is {} bytes",
            message.len()
        );
    }

    #[test]
    fn cr_response_above_max_len_overflows() {
        let response = "x".repeat(CR_RESPONSE_MAX_LEN + 1);
        let message = cr_response(&response);
        assert!(
            message.len() > TLS_CHANNEL_BUF_SIZE,
            "message is {} bytes",
            message.len()
        );
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            for message in split_messages(&bytes).into_iter().flatten() {
                let _ = ServerMessage::parse(&message);
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "(AUTH_FAILED|AUTH_PENDING|RESTART|HALT|INFO_PRE|PUSH_REPLY)?[,:\\[\\] A-Za-z0-9]{0,64}") {
            let _ = ServerMessage::parse(&text);
        }
    }
}
