//! Events the provider sends to apps that subscribed.

use serde::{Deserialize, Serialize};

use crate::session_status::SessionState;
use crate::wire_auth_request::{WireAuthOutcome, WireAuthRequest};

/// Something that happened in a session, sent to each subscribed app allowed to see it.
///
/// In JSON the variant is the `type` field:
/// `{"type":"auth_request_added","request":{...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "EventJson", from = "EventJson")]
pub enum Event {
    /// A session changed state.
    SessionState {
        /// Session name.
        session: String,
        /// The new state.
        state: SessionState,
        /// Reason or detail for people, such as the error that caused a reconnect.
        detail: Option<String>,
    },
    /// A new auth request waits for an answer.
    AuthRequestAdded(WireAuthRequest),
    /// An auth request left the pending list.
    AuthRequestClosed {
        /// Id of the auth request.
        id: u64,
        /// Session the request belonged to.
        session: String,
        /// Reason the request left the pending list.
        outcome: WireAuthOutcome,
    },
}

impl Event {
    /// Name of the session the event belongs to.
    pub fn session(&self) -> &str {
        match self {
            Event::SessionState { session, .. } => session,
            Event::AuthRequestAdded(request) => &request.session,
            Event::AuthRequestClosed { session, .. } => session,
        }
    }
}

/// JSON form of [`Event`], with the auth request under the `request` key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EventJson {
    SessionState {
        session: String,
        state: SessionState,
        #[serde(default)]
        detail: Option<String>,
    },
    AuthRequestAdded {
        request: WireAuthRequest,
    },
    AuthRequestClosed {
        id: u64,
        session: String,
        outcome: WireAuthOutcome,
    },
}

impl From<Event> for EventJson {
    fn from(event: Event) -> EventJson {
        match event {
            Event::SessionState {
                session,
                state,
                detail,
            } => EventJson::SessionState {
                session,
                state,
                detail,
            },
            Event::AuthRequestAdded(request) => EventJson::AuthRequestAdded { request },
            Event::AuthRequestClosed {
                id,
                session,
                outcome,
            } => EventJson::AuthRequestClosed {
                id,
                session,
                outcome,
            },
        }
    }
}

impl From<EventJson> for Event {
    fn from(json: EventJson) -> Event {
        match json {
            EventJson::SessionState {
                session,
                state,
                detail,
            } => Event::SessionState {
                session,
                state,
                detail,
            },
            EventJson::AuthRequestAdded { request } => Event::AuthRequestAdded(request),
            EventJson::AuthRequestClosed {
                id,
                session,
                outcome,
            } => Event::AuthRequestClosed {
                id,
                session,
                outcome,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_event_json() {
        let event = Event::AuthRequestClosed {
            id: 9,
            session: "work".to_owned(),
            outcome: WireAuthOutcome::Expired,
        };

        let json = serde_json::to_value(&event).expect("serialize");

        assert_eq!(
            json,
            serde_json::json!({
                "type": "auth_request_closed",
                "id": 9,
                "session": "work",
                "outcome": "expired",
            })
        );
    }

    #[test]
    fn state_event_json_names_state() {
        let event = Event::SessionState {
            session: "work".to_owned(),
            state: SessionState::Connected,
            detail: None,
        };

        let json = serde_json::to_value(&event).expect("serialize");

        assert_eq!(json["type"], "session_state");
        assert_eq!(json["state"], "connected");
    }
}
