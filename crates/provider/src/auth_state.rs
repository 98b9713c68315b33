//! Authentication state a session keeps across its connection attempts:
//! the username and cached password, the auth-token, the one-time secret for
//! the next attempt, and how often answers were rejected.
//!
//! One-time codes (a CRV1 answer, a static-challenge response) are used for
//! exactly one attempt: they live only in [`AuthState::one_time`] and are
//! wiped when taken. Only the password (unless `auth-nocache`) and the
//! server's auth-token are reused.

use std::time::Duration;

use ferrovpn_profile::{Profile, StaticChallenge, StaticChallengeFormat};
use ferrovpn_protocol::auth_request::{AskReason, AuthAnswer, AuthRequestKind};
use ferrovpn_protocol::challenge::{sanitize_prompt, Crv1Challenge};
use ferrovpn_protocol::config::Credentials;
use ferrovpn_protocol::control_message::AuthFailed;
use ferrovpn_protocol::push_reply::PushedOptions;
use ferrovpn_protocol::static_challenge::{self, encode_static_challenge};
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::auth_broker::{AuthBroker, WaitEnd};

/// Attempts whose answers the server may reject before the session gives up, so a
/// wrong code never burns through a server's lockout budget.
pub const DEFAULT_MAX_AUTH_ATTEMPTS: u32 = 3;

/// `AUTH_FAILED,TEMP` retries before the session gives up.
const MAX_TEMP_FAILURES: u32 = 5;

/// CRV1 challenges in a row before the session gives up, so a server that keeps
/// asking (a long chain, or a challenge nobody can answer) cannot loop the client.
const MAX_CRV1_ROUNDS: u32 = 10;

/// Wait before answering a CRV1 challenge that needs no response, so repeated ones
/// are not sent back to back.
const CRV1_NO_RESPONSE_DELAY: Duration = Duration::from_secs(1);

/// Wait after `AUTH_FAILED,TEMP` when the server names no backoff.
const DEFAULT_TEMP_BACKOFF: Duration = Duration::from_secs(10);

/// Next step after the server rejected an attempt.
pub enum AuthDecision {
    /// Connect again after this delay.
    Retry(Duration),
    /// Give up with this message.
    Fail(String),
    /// Stop quietly: shutdown requested.
    Stop,
    /// Nobody can answer the server's question.
    AuthNeeded(String),
}

/// Authentication state of one session.
pub struct AuthState {
    /// The profile has `auth-user-pass`.
    needs_credentials: bool,
    /// `static-challenge` of the profile.
    static_challenge: Option<StaticChallenge>,
    /// `auth-nocache`: forget the password once it was sent.
    no_cache: bool,
    /// Known username.
    username: Option<String>,
    /// Cached password.
    password: Option<Zeroizing<String>>,
    /// Password from the profile's auth-user-pass file, read again under `auth-nocache`.
    file_password: Option<Zeroizing<String>>,
    /// Text of the last CRV1 challenge, to tell a repeated question from a next step.
    last_crv1_text: Option<String>,
    /// CRV1 challenges since the last connection.
    crv1_rounds: u32,
    /// The password came from a person, who may type it again when it is wrong.
    password_typed: bool,
    /// The server's auth-token, kept in memory only.
    token: Option<Zeroizing<String>>,
    /// `auth-token-user`, the username that goes with the token.
    token_username: Option<String>,
    /// Credentials for exactly one attempt: a CRV1 answer.
    one_time: Option<Credentials>,
    /// The attempt being made used a one-time secret.
    used_one_time: bool,
    /// Reason given with the next request.
    reason: AskReason,
    /// Answers the server rejected in a row.
    rejected: u32,
    /// `AUTH_FAILED,TEMP` in a row.
    temp_failures: u32,
    /// Limit for `rejected`.
    max_attempts: u32,
}

impl AuthState {
    /// Starts from the profile's `auth-user-pass` and an optional username from the command line.
    pub fn new(profile: &Profile, username: Option<String>, max_attempts: u32) -> AuthState {
        let from_profile = profile.auth_user_pass.as_ref();
        AuthState {
            needs_credentials: from_profile.is_some(),
            static_challenge: profile.static_challenge.clone(),
            no_cache: profile.auth_nocache,
            username: username.or_else(|| from_profile.and_then(|auth| auth.username.clone())),
            password: from_profile.and_then(|auth| auth.password.clone()),
            file_password: from_profile.and_then(|auth| auth.password.clone()),
            last_crv1_text: None,
            crv1_rounds: 0,
            password_typed: false,
            token: None,
            token_username: None,
            one_time: None,
            used_one_time: false,
            reason: AskReason::Initial,
            rejected: 0,
            temp_failures: 0,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Reason to give with a challenge raised during the next attempt.
    pub fn reason(&self) -> AskReason {
        self.reason.clone()
    }

    /// Resets the failure counters once a connection succeeded.
    pub fn connected(&mut self) {
        self.rejected = 0;
        self.crv1_rounds = 0;
        self.last_crv1_text = None;
        self.temp_failures = 0;
        self.reason = AskReason::Initial;
    }

    /// Keeps a pushed auth-token for later attempts.
    pub fn store_token(&mut self, options: &PushedOptions) {
        if let Some(token) = &options.auth_token {
            tracing::debug!("keeping the auth-token for reconnects");
            self.token = Some(Zeroizing::new(token.expose().to_owned()));
            if let Some(user) = &options.auth_token_user {
                self.token_username = Some(user.clone());
            }
        }
    }

    /// Returns the credentials for the next attempt, asking a person when something is missing.
    pub async fn credentials_for_attempt(
        &mut self,
        broker: &mut AuthBroker,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Option<Credentials>, AuthDecision> {
        self.used_one_time = false;
        if let Some(credentials) = self.one_time.take() {
            self.used_one_time = true;
            return Ok(Some(credentials));
        }
        if let Some(token) = &self.token {
            return Ok(Some(Credentials {
                username: self
                    .token_username
                    .clone()
                    .or_else(|| self.username.clone())
                    .unwrap_or_default(),
                password: token.clone(),
            }));
        }
        if !self.needs_credentials {
            return Ok(None);
        }
        if self.password.is_none() && !self.password_typed {
            // Under auth-nocache the password is dropped after each use; a file holds it again.
            self.password = self.file_password.clone();
        }

        if self.username.is_none() || (self.password.is_none() && self.static_challenge.is_none()) {
            self.ask_credentials(broker, shutdown).await?;
        }
        let username = self.username.clone().unwrap_or_default();

        if let Some(challenge) = self.static_challenge.clone() {
            let answer = broker
                .ask(
                    AuthRequestKind::StaticChallenge {
                        username: username.clone(),
                        password_known: self.password.is_some(),
                    },
                    challenge.text.clone(),
                    challenge.echo,
                    None,
                    self.reason.clone(),
                    shutdown,
                )
                .await
                .map_err(|end| wait_end(end, "the static challenge"))?;
            let AuthAnswer::StaticChallenge { password, response } = answer else {
                return Err(AuthDecision::Fail(
                    "unexpected answer to the static challenge".to_owned(),
                ));
            };
            if let Some(password) = password {
                self.password = Some(password);
                self.password_typed = true;
            }
            let password = self.take_password();
            let format = match challenge.format {
                StaticChallengeFormat::Scrv1 => static_challenge::StaticChallengeFormat::Scrv1,
                StaticChallengeFormat::Concat => static_challenge::StaticChallengeFormat::Concat,
            };
            self.used_one_time = true;
            return Ok(Some(Credentials {
                username,
                password: encode_static_challenge(&password, &response, format),
            }));
        }

        Ok(Some(Credentials {
            username,
            password: self.take_password(),
        }))
    }

    /// Decides what follows an `AUTH_FAILED`, asking for a CRV1 answer when the server sent one.
    pub async fn handle_auth_failed(
        &mut self,
        failed: AuthFailed,
        answered_challenge: bool,
        broker: &mut AuthBroker,
        shutdown: &mut watch::Receiver<bool>,
    ) -> AuthDecision {
        match failed {
            AuthFailed::Crv1 { raw } => self.answer_crv1(&raw, broker, shutdown).await,
            AuthFailed::Temp {
                backoff, reason, ..
            } => {
                self.temp_failures += 1;
                if self.temp_failures > MAX_TEMP_FAILURES {
                    return AuthDecision::Fail(format!(
                        "the server kept reporting a temporary failure: {reason}"
                    ));
                }
                let delay = backoff
                    .map(|seconds| Duration::from_secs(u64::from(seconds)))
                    .unwrap_or(DEFAULT_TEMP_BACKOFF);
                tracing::info!(delay_seconds = delay.as_secs(), %reason, "temporary authentication failure; retrying without asking");
                AuthDecision::Retry(delay)
            }
            other if self.token.is_some() => {
                tracing::info!(reason = %other, "the server rejected the auth-token: the session expired");
                self.token = None;
                self.token_username = None;
                self.reason = AskReason::SessionExpired;
                AuthDecision::Retry(Duration::ZERO)
            }
            other => {
                let server_reason = other.to_string();
                let interactive = answered_challenge || self.used_one_time || self.password_typed;
                if !interactive {
                    return AuthDecision::Fail(server_reason);
                }

                self.rejected += 1;
                if self.rejected >= self.max_attempts {
                    return AuthDecision::Fail(format!(
                        "{server_reason} (gave up after {} rejected attempts)",
                        self.rejected
                    ));
                }
                if self.password_typed && !answered_challenge && !self.used_one_time {
                    // A typed password was wrong: ask for it again.
                    self.password = None;
                }
                self.reason = AskReason::Rejected {
                    server_reason: sanitize_prompt(&server_reason).unwrap_or_default(),
                };
                AuthDecision::Retry(Duration::from_secs(1 << self.rejected.min(5)))
            }
        }
    }

    async fn answer_crv1(
        &mut self,
        raw: &str,
        broker: &mut AuthBroker,
        shutdown: &mut watch::Receiver<bool>,
    ) -> AuthDecision {
        let challenge = match Crv1Challenge::parse(raw) {
            Ok(challenge) => challenge,
            Err(error) => {
                return AuthDecision::Fail(format!(
                    "invalid CRV1 challenge from the server: {error}"
                ))
            }
        };
        self.crv1_rounds += 1;
        if self.crv1_rounds > MAX_CRV1_ROUNDS {
            return AuthDecision::Fail(format!(
                "the server sent {MAX_CRV1_ROUNDS} CRV1 challenges in a row; giving up"
            ));
        }
        // The same question after an answer means the answer was wrong; a different one
        // is the next step of a chain.
        let repeated =
            self.used_one_time && self.last_crv1_text.as_deref() == Some(challenge.text.as_str());
        self.last_crv1_text = Some(challenge.text.clone());
        let reason = if repeated {
            self.rejected += 1;
            if self.rejected >= self.max_attempts {
                return AuthDecision::Fail(format!(
                    "the server rejected {} answers to its challenge \"{}\"",
                    self.rejected, challenge.text
                ));
            }
            AskReason::Rejected {
                server_reason: "the server asked the same question again".to_owned(),
            }
        } else if self.used_one_time {
            AskReason::NextStep
        } else {
            self.reason.clone()
        };
        let username = challenge
            .username
            .clone()
            .or_else(|| self.username.clone())
            .unwrap_or_default();

        let password = if challenge.response_required {
            let answer = match broker
                .ask(
                    AuthRequestKind::DynamicChallenge,
                    challenge.text.clone(),
                    challenge.echo,
                    None,
                    reason,
                    shutdown,
                )
                .await
            {
                Ok(answer) => answer,
                Err(end) => return wait_end(end, "the CRV1 challenge"),
            };
            let AuthAnswer::Response(response) = answer else {
                return AuthDecision::Fail("unexpected answer to the CRV1 challenge".to_owned());
            };
            challenge.response_password(&response)
        } else {
            tracing::info!("CRV1 challenge needs no response; reconnecting at once");
            challenge.response_password("")
        };

        self.one_time = Some(Credentials { username, password });
        if challenge.response_required {
            AuthDecision::Retry(Duration::ZERO)
        } else {
            AuthDecision::Retry(CRV1_NO_RESPONSE_DELAY)
        }
    }

    async fn ask_credentials(
        &mut self,
        broker: &mut AuthBroker,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), AuthDecision> {
        let prompt = "Enter your username and password".to_owned();
        let answer = broker
            .ask(
                AuthRequestKind::Credentials {
                    username: self.username.clone(),
                },
                prompt,
                false,
                None,
                self.reason.clone(),
                shutdown,
            )
            .await
            .map_err(|end| wait_end(end, "the username and password"))?;
        let AuthAnswer::Credentials { username, password } = answer else {
            return Err(AuthDecision::Fail(
                "unexpected answer to the credentials request".to_owned(),
            ));
        };
        self.username = Some(username);
        self.password = Some(password);
        self.password_typed = true;
        Ok(())
    }

    fn take_password(&mut self) -> Zeroizing<String> {
        if self.no_cache {
            self.password.take().unwrap_or_default()
        } else {
            self.password.clone().unwrap_or_default()
        }
    }
}

fn wait_end(end: WaitEnd, what: &str) -> AuthDecision {
    match end {
        WaitEnd::Shutdown => AuthDecision::Stop,
        WaitEnd::Expired => AuthDecision::Fail(format!("nobody answered {what} in time")),
        WaitEnd::NoAnswerer => {
            AuthDecision::AuthNeeded(format!("the server needs {what}, and no prompt is allowed"))
        }
    }
}

#[cfg(test)]
mod tests {
    use ferrovpn_profile::AuthUserPass;
    use tokio::sync::mpsc;

    use super::*;
    use crate::auth_broker::answer_channel;

    /// Returns a profile whose auth-user-pass file contains both username and password.
    fn profile_with_password() -> Profile {
        Profile {
            auth_user_pass: Some(AuthUserPass {
                file: None,
                username: Some("alice".to_owned()),
                password: Some(Zeroizing::new("secret".to_owned())),
            }),
            ..Profile::default()
        }
    }

    fn broker() -> (
        AuthBroker,
        crate::auth_broker::AnswerSender,
        watch::Sender<bool>,
        watch::Receiver<bool>,
    ) {
        let (answers_tx, answers_rx) = answer_channel();
        let (events_tx, _events_rx) = mpsc::unbounded_channel();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        (
            AuthBroker::new("test".to_owned(), answers_rx, events_tx),
            answers_tx,
            shutdown_tx,
            shutdown_rx,
        )
    }

    fn temp(backoff: Option<u32>) -> AuthFailed {
        AuthFailed::Temp {
            backoff,
            advance: None,
            reason: "try later".to_owned(),
        }
    }

    #[tokio::test]
    async fn temp_failure_waits_server_backoff() {
        let (mut broker, _answers, _stop, mut shutdown) = broker();
        let mut state = AuthState::new(&profile_with_password(), None, 3);
        let decision = state
            .handle_auth_failed(temp(Some(7)), false, &mut broker, &mut shutdown)
            .await;
        assert!(matches!(decision, AuthDecision::Retry(delay) if delay == Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn temp_failures_are_bounded() {
        let (mut broker, _answers, _stop, mut shutdown) = broker();
        let mut state = AuthState::new(&profile_with_password(), None, 3);
        for _ in 0..MAX_TEMP_FAILURES {
            let decision = state
                .handle_auth_failed(temp(None), false, &mut broker, &mut shutdown)
                .await;
            assert!(matches!(decision, AuthDecision::Retry(_)), "retry expected");
        }
        let decision = state
            .handle_auth_failed(temp(None), false, &mut broker, &mut shutdown)
            .await;
        assert!(
            matches!(decision, AuthDecision::Fail(_)),
            "temporary failures never end"
        );
    }

    #[tokio::test]
    async fn password_from_file_rejected_fails_at_once() {
        let (mut broker, _answers, _stop, mut shutdown) = broker();
        let mut state = AuthState::new(&profile_with_password(), None, 3);
        let failed = AuthFailed::Plain {
            reason: Some("bad password".to_owned()),
        };
        let decision = state
            .handle_auth_failed(failed, false, &mut broker, &mut shutdown)
            .await;
        assert!(matches!(decision, AuthDecision::Fail(reason) if reason == "bad password"));
    }

    #[tokio::test]
    async fn rejected_token_falls_back_to_password() {
        let (mut broker, _answers, _stop, mut shutdown) = broker();
        let mut state = AuthState::new(&profile_with_password(), None, 3);
        state.token = Some(Zeroizing::new("SESS_ID_AT_token".to_owned()));

        let failed = AuthFailed::Session {
            reason: "token expired".to_owned(),
        };
        let decision = state
            .handle_auth_failed(failed, false, &mut broker, &mut shutdown)
            .await;
        assert!(matches!(decision, AuthDecision::Retry(delay) if delay.is_zero()));
        assert_eq!(
            state.reason(),
            AskReason::SessionExpired,
            "reason for the next request"
        );

        let credentials = state
            .credentials_for_attempt(&mut broker, &mut shutdown)
            .await
            .ok()
            .flatten()
            .expect("credentials for the next attempt");
        assert_eq!(
            credentials.password.as_str(),
            "secret",
            "the cached password is used again"
        );
    }

    #[tokio::test]
    async fn crv1_without_r_reconnects_without_asking() {
        let (mut broker, _answers, _stop, mut shutdown) = broker();
        let mut state = AuthState::new(&profile_with_password(), None, 3);
        let failed = AuthFailed::Crv1 {
            raw: "E:state+/=:YWxpY2U=:Approve on your phone".to_owned(),
        };
        let decision = state
            .handle_auth_failed(failed, false, &mut broker, &mut shutdown)
            .await;
        assert!(matches!(decision, AuthDecision::Retry(delay) if delay == CRV1_NO_RESPONSE_DELAY));
        assert!(
            !broker.has_pending(),
            "a request was raised for a challenge without R"
        );

        let credentials = state
            .credentials_for_attempt(&mut broker, &mut shutdown)
            .await
            .ok()
            .flatten()
            .expect("credentials for the next attempt");
        assert_eq!(
            credentials.password.as_str(),
            "CRV1::state+/=::",
            "CRV1 password"
        );
        let next = state
            .credentials_for_attempt(&mut broker, &mut shutdown)
            .await
            .ok()
            .flatten();
        assert_eq!(
            next.map(|c| c.password.to_string()),
            Some("secret".to_owned()),
            "the CRV1 answer was reused"
        );
    }
}
