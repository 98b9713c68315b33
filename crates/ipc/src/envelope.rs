//! The versioned JSON envelope around requests, responses and events.
//!
//! App to provider: `{"version":1,"id":7,"request":{"type":"status"}}`.
//! Provider to app: `{"version":1,"id":7,"response":{...}}`, or after a
//! `subscribe` request also `{"version":1,"event":{...}}`. Id 0 is reserved
//! for error responses to messages whose id could not be read, so apps number
//! their requests from 1. Unknown envelope fields are ignored.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::event::Event;
use crate::protocol_error::{describe_json_error, truncate_for_message, ProtocolError};
use crate::request::Request;
use crate::response::Response;

/// Version of the app message protocol this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// Id of an error response to a message whose id could not be read.
pub const UNKNOWN_ID: u64 = 0;

/// Maximum length of a request `type` quoted back in an error message, in characters.
const MAX_QUOTED_TYPE_CHARS: usize = 64;

/// A message from the provider to an app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderMessage {
    /// The response to the request with the same id.
    Response {
        /// Id of the request, or [`UNKNOWN_ID`].
        id: u64,
        /// The response.
        response: Response,
    },
    /// An event for a subscribed app.
    Event(Event),
}

/// Outgoing app message.
#[derive(Serialize)]
pub(crate) struct RequestEnvelope<'a> {
    pub(crate) version: u32,
    pub(crate) id: u64,
    pub(crate) request: &'a Request,
}

/// Outgoing provider response.
#[derive(Serialize)]
pub(crate) struct ResponseEnvelope<'a> {
    pub(crate) version: u32,
    pub(crate) id: u64,
    pub(crate) response: &'a Response,
}

/// Outgoing provider event.
#[derive(Serialize)]
pub(crate) struct EventEnvelope<'a> {
    pub(crate) version: u32,
    pub(crate) event: &'a Event,
}

/// Incoming app message, with the request left unparsed until the envelope checks pass.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with version, id and request")]
struct RequestHead<'a> {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, borrow)]
    request: Option<&'a RawValue>,
}

/// Incoming provider message, with the body left unparsed until the envelope checks pass.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with version and a response or an event")]
struct ProviderHead<'a> {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    id: Option<Value>,
    #[serde(default, borrow)]
    response: Option<&'a RawValue>,
    #[serde(default, borrow)]
    event: Option<&'a RawValue>,
}

/// The `type` of a request, read before the whole request.
#[derive(Deserialize)]
#[serde(expecting = "a JSON object with a string \"type\"")]
struct RequestTag<'a> {
    #[serde(rename = "type", default, borrow)]
    type_name: Option<Cow<'a, str>>,
}

/// Decodes one app message payload into its id and request.
///
/// The id is [`UNKNOWN_ID`] when it cannot be read. An error comes with the
/// id so the provider can send the matching error response.
pub fn decode_request(payload: &[u8]) -> (u64, Result<Request, ProtocolError>) {
    let text = match std::str::from_utf8(payload) {
        Ok(text) => text,
        Err(error) => {
            let error = ProtocolError::InvalidUtf8 {
                valid_up_to: error.valid_up_to(),
            };
            return (UNKNOWN_ID, Err(error));
        }
    };

    let head: RequestHead<'_> = match parse_object(text) {
        Ok(head) => head,
        Err(error) => return (UNKNOWN_ID, Err(error)),
    };

    let id = head.id.as_ref().and_then(Value::as_u64);
    let result = check_version(head.version.as_ref())
        .and_then(|()| id.ok_or(ProtocolError::MissingId))
        .and_then(|_| head.request.ok_or(ProtocolError::MissingRequest))
        .and_then(parse_request);
    (id.unwrap_or(UNKNOWN_ID), result)
}

/// Decodes one provider message payload.
pub fn decode_provider_message(payload: &[u8]) -> Result<ProviderMessage, ProtocolError> {
    let text = std::str::from_utf8(payload).map_err(|error| ProtocolError::InvalidUtf8 {
        valid_up_to: error.valid_up_to(),
    })?;
    let head: ProviderHead<'_> = parse_object(text)?;

    check_version(head.version.as_ref())?;

    match (head.response, head.event) {
        (Some(response), None) => {
            let id = head
                .id
                .as_ref()
                .and_then(Value::as_u64)
                .ok_or(ProtocolError::MissingId)?;
            let response = serde_json::from_str(response.get()).map_err(|error| {
                ProtocolError::InvalidResponse {
                    message: describe_json_error(&error),
                }
            })?;
            Ok(ProviderMessage::Response { id, response })
        }
        (None, Some(event)) => {
            let event =
                serde_json::from_str(event.get()).map_err(|error| ProtocolError::InvalidEvent {
                    message: describe_json_error(&error),
                })?;
            Ok(ProviderMessage::Event(event))
        }
        _ => Err(ProtocolError::InvalidEnvelope {
            message: "a provider message needs exactly one of \"response\" and \"event\""
                .to_owned(),
        }),
    }
}

/// Parses an envelope, which must be a JSON object.
///
/// serde's derived structs also accept a JSON array of the fields in order,
/// which this protocol does not allow, hence the check of the first character.
fn parse_object<'a, T>(text: &'a str) -> Result<T, ProtocolError>
where
    T: Deserialize<'a>,
{
    let head = serde_json::from_str(text).map_err(|error| {
        let message = describe_json_error(&error);
        if error.is_data() {
            ProtocolError::InvalidEnvelope { message }
        } else {
            ProtocolError::MalformedJson { message }
        }
    })?;

    if !text.trim_start().starts_with('{') {
        return Err(ProtocolError::InvalidEnvelope {
            message: "a message must be a JSON object".to_owned(),
        });
    }
    Ok(head)
}

fn check_version(version: Option<&Value>) -> Result<(), ProtocolError> {
    let Some(version) = version.and_then(Value::as_u64) else {
        return Err(ProtocolError::MissingVersion);
    };
    if version != u64::from(PROTOCOL_VERSION) {
        return Err(ProtocolError::UnsupportedVersion { found: version });
    }
    Ok(())
}

fn parse_request(raw: &RawValue) -> Result<Request, ProtocolError> {
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return Err(ProtocolError::MissingRequestType);
    }

    let tag: RequestTag<'_> =
        serde_json::from_str(text).map_err(|_| ProtocolError::MissingRequestType)?;
    let Some(type_name) = tag.type_name else {
        return Err(ProtocolError::MissingRequestType);
    };
    if !Request::TYPE_NAMES.contains(&type_name.as_ref()) {
        return Err(ProtocolError::UnknownRequestType {
            name: truncate_for_message(&type_name, MAX_QUOTED_TYPE_CHARS),
        });
    }

    serde_json::from_str(text).map_err(|error| ProtocolError::InvalidRequest {
        request_type: type_name.into_owned(),
        message: describe_json_error(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> (u64, Result<Request, ProtocolError>) {
        decode_request(json.as_bytes())
    }

    #[test]
    fn request_decodes_id_and_body() {
        let (id, request) = decode(r#"{"version":1,"id":7,"request":{"type":"subscribe"}}"#);

        assert_eq!(id, 7);
        assert_eq!(request, Ok(Request::Subscribe));
    }

    #[test]
    fn request_ignores_unknown_envelope_fields() {
        let json = r#"{"version":1,"id":7,"trace":"x","request":{"type":"subscribe"}}"#;

        let (_, request) = decode(json);

        assert_eq!(request, Ok(Request::Subscribe));
    }

    #[test]
    fn request_errors_carry_expected_id() {
        let cases = [
            ("not json", UNKNOWN_ID),
            ("[1,2]", UNKNOWN_ID),
            (
                r#"{"version":1,"request":{"type":"subscribe"}}"#,
                UNKNOWN_ID,
            ),
            (
                r#"{"version":1,"id":"7","request":{"type":"subscribe"}}"#,
                UNKNOWN_ID,
            ),
            (r#"{"version":2,"id":7,"request":{"type":"subscribe"}}"#, 7),
            (r#"{"id":7,"request":{"type":"subscribe"}}"#, 7),
            (r#"{"version":1,"id":7}"#, 7),
            (r#"{"version":1,"id":7,"request":{"type":"reboot"}}"#, 7),
            (r#"{"version":1,"id":7,"request":{"type":"logs"}}"#, 7),
            (r#"{"version":1,"id":7,"request":"status"}"#, 7),
        ];

        for (json, expected_id) in cases {
            let (id, request) = decode(json);

            assert!(request.is_err(), "{json} decoded as {request:?}");
            assert_eq!(id, expected_id, "id for {json}");
        }
    }

    #[test]
    fn request_error_variants() {
        let cases: [(&[u8], &str); 11] = [
            (b"\xff\xfe", "InvalidUtf8"),
            (b"{\"version\":1,", "MalformedJson"),
            (b"[1]", "InvalidEnvelope"),
            (br#"{"id":1,"request":{"type":"status"}}"#, "MissingVersion"),
            (
                br#"{"version":3,"id":1,"request":{}}"#,
                "UnsupportedVersion",
            ),
            (br#"{"version":1,"request":{"type":"status"}}"#, "MissingId"),
            (br#"{"version":1,"id":1}"#, "MissingRequest"),
            (
                br#"{"version":1,"id":1,"request":{"type":"x"}}"#,
                "UnknownRequestType",
            ),
            (
                br#"{"version":1,"id":1,"request":["status"]}"#,
                "MissingRequestType",
            ),
            (
                br#"{"version":1,"id":1,"request":{"type":5}}"#,
                "MissingRequestType",
            ),
            (
                br#"{"version":1,"id":1,"request":{"type":"logs"}}"#,
                "InvalidRequest",
            ),
        ];

        for (payload, expected) in cases {
            let (_, request) = decode_request(payload);
            let error = request.expect_err("payload should be rejected");

            let variant = format!("{error:?}");
            assert!(
                variant.starts_with(expected),
                "{} gave {variant}, expected {expected}",
                String::from_utf8_lossy(payload)
            );
        }
    }

    #[test]
    fn unknown_type_lists_known_types() {
        let json = r#"{"version":1,"id":1,"request":{"type":"reboot"}}"#;

        let (_, request) = decode(json);
        let message = request.expect_err("unknown type").to_string();

        assert!(message.contains("\"reboot\""), "name missing: {message}");
        assert!(
            message.contains("list_auth_requests"),
            "list missing: {message}"
        );
    }

    #[test]
    fn invalid_answer_hides_response_value() {
        let json = r#"{"version":1,"id":1,"request":{"type":"answer","request":3,
            "answer":{"type":"response","response":918273}}}"#;

        let (_, request) = decode(json);
        let message = request.expect_err("integer response").to_string();

        assert!(!message.contains("918273"), "code quoted: {message}");
    }

    #[test]
    fn provider_response_decodes() {
        let json = r#"{"version":1,"id":4,"response":{"type":"ok"}}"#;

        let message = decode_provider_message(json.as_bytes());

        assert_eq!(
            message,
            Ok(ProviderMessage::Response {
                id: 4,
                response: Response::Ok
            })
        );
    }

    #[test]
    fn provider_message_needs_one_body() {
        let json = r#"{"version":1,"id":4}"#;

        let message = decode_provider_message(json.as_bytes());

        assert!(
            matches!(message, Err(ProtocolError::InvalidEnvelope { .. })),
            "unexpected result: {message:?}"
        );
    }

    #[test]
    fn provider_message_rejects_other_version() {
        let json = r#"{"version":2,"id":4,"response":{"type":"ok"}}"#;

        let message = decode_provider_message(json.as_bytes());

        assert_eq!(message, Err(ProtocolError::UnsupportedVersion { found: 2 }));
    }
}
