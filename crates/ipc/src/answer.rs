//! Answer to an auth request as it travels in an app message.

use std::fmt;

use ferrovpn_protocol::auth_request::AuthAnswer;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// A person's answer to an auth request, in its JSON form.
///
/// The secret strings are wiped from memory on drop, and `Debug` shows none of
/// them. Convert it into the provider's [`AuthAnswer`] with `AuthAnswer::from`,
/// which moves the strings into `Zeroizing` without copying them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireAnswer {
    /// Username and password, for a `credentials` request.
    Credentials {
        /// The username.
        username: String,
        /// The password.
        password: String,
    },
    /// Answer to a `static_challenge` request.
    StaticChallenge {
        /// The password, or `None` when the request marked it as known.
        #[serde(default)]
        password: Option<String>,
        /// The challenge response, such as a one-time code.
        response: String,
    },
    /// The response to a dynamic or pending challenge, such as a one-time code.
    Response {
        /// The response text.
        response: String,
    },
    /// Acknowledgement of a request that needs no input, such as a web sign-in in progress.
    Acknowledge,
}

impl WireAnswer {
    /// Name of the answer type as it appears in JSON, such as `static_challenge`.
    pub fn type_name(&self) -> &'static str {
        match self {
            WireAnswer::Credentials { .. } => "credentials",
            WireAnswer::StaticChallenge { .. } => "static_challenge",
            WireAnswer::Response { .. } => "response",
            WireAnswer::Acknowledge => "acknowledge",
        }
    }
}

impl fmt::Debug for WireAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireAnswer::Credentials { username, .. } => f
                .debug_struct("Credentials")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            WireAnswer::StaticChallenge { password, .. } => f
                .debug_struct("StaticChallenge")
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .field("response", &"<redacted>")
                .finish(),
            WireAnswer::Response { .. } => f
                .debug_struct("Response")
                .field("response", &"<redacted>")
                .finish(),
            WireAnswer::Acknowledge => f.write_str("Acknowledge"),
        }
    }
}

impl Drop for WireAnswer {
    fn drop(&mut self) {
        match self {
            WireAnswer::Credentials { password, .. } => password.zeroize(),
            WireAnswer::StaticChallenge { password, response } => {
                password.zeroize();
                response.zeroize();
            }
            WireAnswer::Response { response } => response.zeroize(),
            WireAnswer::Acknowledge => {}
        }
    }
}

impl From<WireAnswer> for AuthAnswer {
    fn from(mut wire: WireAnswer) -> AuthAnswer {
        // `mem::take` moves each heap buffer out, so no unwiped copy is made. The
        // emptied strings left in `wire` are dropped by its `Drop`.
        match &mut wire {
            WireAnswer::Credentials { username, password } => AuthAnswer::Credentials {
                username: std::mem::take(username),
                password: Zeroizing::new(std::mem::take(password)),
            },
            WireAnswer::StaticChallenge { password, response } => AuthAnswer::StaticChallenge {
                password: password.take().map(Zeroizing::new),
                response: Zeroizing::new(std::mem::take(response)),
            },
            WireAnswer::Response { response } => {
                AuthAnswer::Response(Zeroizing::new(std::mem::take(response)))
            }
            WireAnswer::Acknowledge => AuthAnswer::Acknowledge,
        }
    }
}

impl From<&AuthAnswer> for WireAnswer {
    fn from(answer: &AuthAnswer) -> WireAnswer {
        match answer {
            AuthAnswer::Credentials { username, password } => WireAnswer::Credentials {
                username: username.clone(),
                password: password.as_str().to_owned(),
            },
            AuthAnswer::StaticChallenge { password, response } => WireAnswer::StaticChallenge {
                password: password.as_ref().map(|p| p.as_str().to_owned()),
                response: response.as_str().to_owned(),
            },
            AuthAnswer::Response(response) => WireAnswer::Response {
                response: response.as_str().to_owned(),
            },
            AuthAnswer::Acknowledge => WireAnswer::Acknowledge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers() -> Vec<WireAnswer> {
        vec![
            WireAnswer::Credentials {
                username: "alice".to_owned(),
                password: "hunter2-secret".to_owned(),
            },
            WireAnswer::StaticChallenge {
                password: Some("hunter2-secret".to_owned()),
                response: "918273".to_owned(),
            },
            WireAnswer::StaticChallenge {
                password: None,
                response: "918273".to_owned(),
            },
            WireAnswer::Response {
                response: "918273".to_owned(),
            },
        ]
    }

    #[test]
    fn debug_hides_every_secret() {
        for answer in answers() {
            let text = format!("{answer:?}");
            assert!(!text.contains("hunter2"), "password shown: {text}");
            assert!(!text.contains("918273"), "response shown: {text}");
        }
    }

    #[test]
    fn debug_shows_username() {
        let answer = &answers()[0];

        let text = format!("{answer:?}");

        assert!(text.contains("alice"), "username missing: {text}");
    }

    #[test]
    fn converts_credentials_into_auth_answer() {
        let answer = AuthAnswer::from(answers().remove(0));

        let AuthAnswer::Credentials { username, password } = answer else {
            panic!("expected credentials, got {answer:?}");
        };
        assert_eq!(username, "alice");
        assert_eq!(password.as_str(), "hunter2-secret");
    }

    #[test]
    fn converts_static_challenge_into_auth_answer() {
        let answer = AuthAnswer::from(answers().remove(1));

        let AuthAnswer::StaticChallenge { password, response } = answer else {
            panic!("expected static challenge, got {answer:?}");
        };
        assert_eq!(
            password.as_deref().map(String::as_str),
            Some("hunter2-secret")
        );
        assert_eq!(response.as_str(), "918273");
    }

    #[test]
    fn converts_response_into_auth_answer() {
        let answer = AuthAnswer::from(answers().remove(3));

        let AuthAnswer::Response(response) = answer else {
            panic!("expected a response, got {answer:?}");
        };
        assert_eq!(response.as_str(), "918273");
    }

    #[test]
    fn auth_answer_round_trips_through_wire() {
        for wire in answers() {
            let back = WireAnswer::from(&AuthAnswer::from(wire.clone()));

            assert_eq!(back, wire, "{} changed", wire.type_name());
        }
    }

    #[test]
    fn json_uses_snake_case_type() {
        let answer = &answers()[1];

        let json = serde_json::to_value(answer).expect("serialize");

        assert_eq!(json["type"], "static_challenge");
    }
}
