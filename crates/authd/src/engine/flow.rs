//! Choice of the second-factor flow from what the client sent.

use super::crv1;
use super::decision::Flow;
use super::static_challenge;
use crate::management::ClientNotification;

/// Result of the server's auth-token check, from the `session_state` variable that
/// `auth-gen-token ... external-auth` adds (OpenVPN 2.6 `auth_token.c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// The password is no auth-token: `Initial`, or no `session_state` at all.
    Initial,
    /// A valid token: `Authenticated` or `AuthenticatedEmptyUser`.
    Authenticated,
    /// A token whose HMAC is valid but whose lifetime has passed: `Expired` or
    /// `ExpiredEmptyUser`.
    Expired,
    /// A token that failed the check: `Invalid`, or a value this build does not know.
    Invalid,
}

impl SessionState {
    /// Reads the `session_state` variable of a notification.
    pub fn of(notification: &ClientNotification) -> SessionState {
        match notification.env("session_state") {
            None | Some("Initial") => SessionState::Initial,
            Some("Authenticated" | "AuthenticatedEmptyUser") => SessionState::Authenticated,
            Some("Expired" | "ExpiredEmptyUser") => SessionState::Expired,
            Some(_) => SessionState::Invalid,
        }
    }
}

/// Returns whether the comma-separated `IV_SSO` list contains `method`.
pub fn iv_sso_lists(notification: &ClientNotification, method: &str) -> bool {
    notification
        .env("IV_SSO")
        .is_some_and(|methods| methods.split(',').any(|listed| listed.trim() == method))
}

/// Chooses the flow of a `CONNECT` or `REAUTH`.
///
/// A token the server checked comes first, then the two password forms that carry a
/// code (a CRV1 response and a static challenge response). A plain password gets a
/// `CR_TEXT` prompt if the client announced `crtext` in `IV_SSO`. OpenVPN leaves that
/// check to the management client (`management-notes.txt`, "client-pending-auth").
/// Every other client gets a CRV1 challenge, which OpenVPN 2.x clients with
/// `auth-retry interact` and OpenVPN 3 clients can respond to.
pub fn select_flow(notification: &ClientNotification) -> Flow {
    if SessionState::of(notification) != SessionState::Initial {
        return Flow::AuthToken;
    }
    let password = notification.env("password").unwrap_or_default();
    if password.starts_with(crv1::RESPONSE_PREFIX) {
        return Flow::Crv1;
    }
    if static_challenge::is_static_challenge(password) {
        return Flow::StaticChallenge;
    }
    if iv_sso_lists(notification, "crtext") {
        return Flow::CrText;
    }
    Flow::Crv1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::ClientEvent;

    fn notification(env: &[(&str, &str)]) -> ClientNotification {
        ClientNotification {
            event: ClientEvent::Connect { cid: 1, kid: 0 },
            env: env
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn select_flow_table() {
        let cases: [(&[(&str, &str)], Flow); 9] = [
            (&[("password", "secret")], Flow::Crv1),
            (
                &[("password", "secret"), ("IV_SSO", "crtext")],
                Flow::CrText,
            ),
            (
                &[("password", "secret"), ("IV_SSO", "openurl,crtext,webauth")],
                Flow::CrText,
            ),
            (&[("password", "secret"), ("IV_SSO", "webauth")], Flow::Crv1),
            (&[("password", "secret"), ("IV_SSO", "crtextx")], Flow::Crv1),
            (
                &[("password", "CRV1::state::123456"), ("IV_SSO", "crtext")],
                Flow::Crv1,
            ),
            (&[("password", "SCRV1:YQ==:MTIz")], Flow::StaticChallenge),
            (
                &[("password", "token"), ("session_state", "Authenticated")],
                Flow::AuthToken,
            ),
            (
                &[("password", "secret"), ("session_state", "Initial")],
                Flow::Crv1,
            ),
        ];
        for (env, expected) in cases {
            assert_eq!(
                select_flow(&notification(env)),
                expected,
                "variables {env:?}"
            );
        }
    }

    #[test]
    fn session_state_table() {
        let cases = [
            (None, SessionState::Initial),
            (Some("Initial"), SessionState::Initial),
            (Some("Authenticated"), SessionState::Authenticated),
            (Some("AuthenticatedEmptyUser"), SessionState::Authenticated),
            (Some("Expired"), SessionState::Expired),
            (Some("ExpiredEmptyUser"), SessionState::Expired),
            (Some("Invalid"), SessionState::Invalid),
            (Some("SomethingNew"), SessionState::Invalid),
        ];
        for (value, expected) in cases {
            let env: Vec<(&str, &str)> = value.map(|v| ("session_state", v)).into_iter().collect();
            assert_eq!(
                SessionState::of(&notification(&env)),
                expected,
                "session_state {value:?}"
            );
        }
    }
}
