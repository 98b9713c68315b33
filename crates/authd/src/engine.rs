//! The decision engine: turns `>CLIENT:` notifications into client commands, without I/O.
//!
//! It is fed complete notifications and the current Unix time, and returns a [`Verdict`]:
//! the command for the server and the [`Decision`] for the audit log. Users, replay and
//! lockout state and CRV1 challenges live in the [`Store`], so they survive a restart.
//! Clients waiting for a `CR_TEXT` response live in memory, because their client ids are
//! only valid on the current management connection. Every path that cannot finish a
//! check, a database failure included, ends in `client-deny`.

mod crv1;
mod decision;
mod flow;
mod static_challenge;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::management::{ClientCommand, ClientEvent, ClientNotification};
use crate::password::{verify_password, verify_unknown_user};
use crate::rate_limit::{SourceLimiter, SourceLimits};
use crate::store::{Store, StoreError, UserRecord};
use crate::totp::{verify_code, CodeError};
pub use crv1::CRV1_PROMPT;
pub use decision::{Decision, Flow, Outcome, Reason, Verdict};
pub use flow::{select_flow, SessionState};

/// `client-pending-auth` text of the `CR_TEXT` flow: a response is required (`R`) and may
/// be echoed (`E`).
pub const CR_TEXT_PROMPT: &str = "CR_TEXT:R,E:Enter your authenticator code";

/// Settings of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Failures in a row after which a user is locked until `user unlock`.
    pub max_failures: u32,
    /// Failure limits per client address.
    pub source_limits: SourceLimits,
    /// Seconds a client may take to respond to a `CR_TEXT` prompt, after which the server fails it.
    pub pending_timeout_seconds: u32,
    /// Seconds a CRV1 state id stays valid after the challenge.
    pub crv1_lifetime_seconds: u64,
}

impl Default for EngineConfig {
    /// 5 failures, 20 per address in 10 minutes, 120 s for a `CR_TEXT` response and
    /// 300 s for a CRV1 response, which includes the client's reconnect.
    fn default() -> Self {
        EngineConfig {
            max_failures: 5,
            source_limits: SourceLimits::default(),
            pending_timeout_seconds: 120,
            crv1_lifetime_seconds: 300,
        }
    }
}

/// A failure that stops a check before it reaches a decision.
#[derive(Debug, Error)]
enum EngineError {
    /// The user database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The operating system's random source failed.
    #[error("the random source failed: {0}")]
    Random(getrandom::Error),
}

/// A client that was sent a `CR_TEXT` prompt and whose response is awaited.
#[derive(Debug, Clone)]
struct PendingCrText {
    /// Management key id of the `CONNECT` or `REAUTH`, which the decision must echo.
    kid: u32,
    /// Username whose password was checked.
    user: String,
    /// Client address.
    source: String,
    /// Time of the prompt, Unix seconds.
    prompted_at: u64,
}

/// One authentication attempt and who made it.
#[derive(Debug, Clone)]
struct Attempt {
    /// Client id.
    cid: u64,
    /// Management key id to echo.
    kid: u32,
    /// Username the client sent.
    user: String,
    /// Client address.
    source: String,
    /// Chosen flow.
    flow: Flow,
}

impl Attempt {
    /// Builds the decision record of this attempt.
    fn decision(&self, outcome: Outcome, reason: Reason) -> Decision {
        Decision {
            cid: self.cid,
            user: self.user.clone(),
            source: self.source.clone(),
            flow: self.flow,
            outcome,
            reason,
        }
    }

    /// Admits the client.
    fn accept(&self, reason: Reason) -> Verdict {
        Verdict {
            command: ClientCommand::Auth {
                cid: self.cid,
                kid: self.kid,
            },
            decision: self.decision(Outcome::Accepted, reason),
        }
    }

    /// Denies the client, with the reason's client text if it has one.
    fn reject(&self, reason: Reason) -> Verdict {
        Verdict {
            command: ClientCommand::Deny {
                cid: self.cid,
                kid: self.kid,
                reason: reason.to_string(),
                client_reason: reason.client_reason().map(str::to_owned),
            },
            decision: self.decision(Outcome::Rejected, reason),
        }
    }
}

/// The decision engine of one server.
#[derive(Debug)]
pub struct Engine {
    /// Users and persistent state.
    store: Store,
    /// Settings.
    config: EngineConfig,
    /// Clients waiting for a `CR_TEXT` response, by client id.
    // NOTE: clients prompted before an authd restart are not in here, so their
    // CR_RESPONSE is ignored and the server fails them at the pending timeout.
    pending: HashMap<u64, PendingCrText>,
    /// Failure counts per client address.
    sources: SourceLimiter,
}

impl Engine {
    /// Starts an engine on `store` with no waiting clients.
    pub fn new(store: Store, config: EngineConfig) -> Engine {
        Engine {
            store,
            config,
            pending: HashMap::new(),
            sources: SourceLimiter::new(config.source_limits),
        }
    }

    /// Returns the user database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Number of clients waiting for a `CR_TEXT` response.
    pub fn pending_clients(&self) -> usize {
        self.pending.len()
    }

    /// Decides on one notification at `now` (Unix seconds).
    ///
    /// `CONNECT` and `REAUTH` always get a verdict. `CR_RESPONSE` gets one if the client
    /// waits for a response. `DISCONNECT` ends the wait of its client, and other events need
    /// nothing.
    pub fn handle(&mut self, notification: &ClientNotification, now: u64) -> Option<Verdict> {
        match &notification.event {
            ClientEvent::Connect { cid, kid } | ClientEvent::Reauth { cid, kid } => {
                Some(self.authenticate(*cid, *kid, notification, now))
            }
            ClientEvent::CrResponse {
                cid,
                key_id,
                response,
            } => self.check_cr_response(*cid, *key_id, response, now),
            ClientEvent::Disconnect { cid } => {
                self.pending.remove(cid);
                None
            }
            ClientEvent::Established { .. }
            | ClientEvent::Address { .. }
            | ClientEvent::Other { .. } => None,
        }
    }

    /// Denies a `CONNECT` or `REAUTH` whose variables never arrived in full, so the
    /// client is not left waiting. Returns `None` for other events.
    pub fn deny_incomplete(&mut self, event: &ClientEvent) -> Option<Verdict> {
        let (ClientEvent::Connect { cid, kid } | ClientEvent::Reauth { cid, kid }) = event else {
            return None;
        };
        self.pending.remove(cid);
        let attempt = Attempt {
            cid: *cid,
            kid: *kid,
            user: String::new(),
            source: String::new(),
            flow: Flow::Unknown,
        };
        Some(attempt.reject(Reason::IncompleteNotification))
    }

    /// Forgets the clients waiting for a response, whose client ids mean nothing on a new
    /// management connection.
    pub fn forget_clients(&mut self) {
        self.pending.clear();
    }

    /// Decides on `CONNECT` or `REAUTH`.
    fn authenticate(
        &mut self,
        cid: u64,
        kid: u32,
        notification: &ClientNotification,
        now: u64,
    ) -> Verdict {
        // A new attempt of the same client replaces whatever it was waiting for.
        self.pending.remove(&cid);
        self.expire_pending(now);

        let source = notification
            .env("untrusted_ip")
            .or_else(|| notification.env("untrusted_ip6"))
            .unwrap_or_default();
        let attempt = Attempt {
            cid,
            kid,
            user: notification.env("username").unwrap_or_default().to_owned(),
            source: source.to_owned(),
            flow: select_flow(notification),
        };

        let result = self.try_authenticate(&attempt, notification, now);
        settle(&attempt, result)
    }

    /// Body of [`Engine::authenticate`], with database errors returned.
    fn try_authenticate(
        &mut self,
        attempt: &Attempt,
        notification: &ClientNotification,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let password = notification.env("password").unwrap_or_default();
        if attempt.flow == Flow::AuthToken {
            return self.check_session_state(attempt, SessionState::of(notification), now);
        }

        if self.sources.is_blocked(&attempt.source, now) {
            return Ok(attempt.reject(Reason::SourceRateLimited));
        }
        let Some(user) = self.store.user(&attempt.user)? else {
            verify_unknown_user(password);
            self.sources.record_failure(&attempt.source, now);
            return Ok(attempt.reject(Reason::UnknownUser));
        };
        if user.locked_at.is_some() {
            self.sources.record_failure(&attempt.source, now);
            return Ok(attempt.reject(Reason::UserLocked));
        }

        match attempt.flow {
            Flow::StaticChallenge => self.check_static_challenge(attempt, &user, password, now),
            Flow::Crv1 if password.starts_with(crv1::RESPONSE_PREFIX) => {
                self.check_crv1_response(attempt, &user, password, now)
            }
            Flow::Crv1 => self.send_crv1_challenge(attempt, &user, password, now),
            Flow::CrText => self.send_cr_text_prompt(attempt, &user, password, now),
            Flow::AuthToken | Flow::Unknown => Ok(attempt.reject(Reason::IncompleteNotification)),
        }
    }

    /// Decides on a session whose auth-token the server has checked.
    ///
    /// A valid token is accepted without a code, as long as its user still exists and is
    /// not locked. An expired one is denied with `SESSION:`, after which OpenVPN clients
    /// drop the token and reconnect with their credentials, which brings a new challenge.
    fn check_session_state(
        &mut self,
        attempt: &Attempt,
        state: SessionState,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        match state {
            SessionState::Authenticated => match self.store.user(&attempt.user)? {
                None => Ok(attempt.reject(Reason::UnknownUser)),
                Some(user) if user.locked_at.is_some() => Ok(attempt.reject(Reason::UserLocked)),
                Some(user) => {
                    self.store.record_success(&user.name, now)?;
                    Ok(attempt.accept(Reason::AuthTokenValid))
                }
            },
            SessionState::Expired => Ok(attempt.reject(Reason::AuthTokenExpired)),
            SessionState::Invalid | SessionState::Initial => {
                self.sources.record_failure(&attempt.source, now);
                Ok(attempt.reject(Reason::AuthTokenInvalid))
            }
        }
    }

    /// Checks password and code of a `SCRV1:` password in one step.
    fn check_static_challenge(
        &mut self,
        attempt: &Attempt,
        user: &UserRecord,
        password: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let Some(response) = static_challenge::decode(password) else {
            return self.fail(attempt, Reason::MalformedStaticChallenge, now);
        };
        if !verify_password(&user.password_hash, &response.password) {
            return self.fail(attempt, Reason::WrongPassword, now);
        }
        self.check_code(attempt, user, &response.response, now)
    }

    /// Checks the password and sends a CRV1 challenge with a new state id.
    fn send_crv1_challenge(
        &mut self,
        attempt: &Attempt,
        user: &UserRecord,
        password: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        if !verify_password(&user.password_hash, password) {
            return self.fail(attempt, Reason::WrongPassword, now);
        }

        let lifetime = self.config.crv1_lifetime_seconds;
        self.store.purge_crv1_states(now.saturating_sub(lifetime))?;
        let state_id = crv1::new_state_id().map_err(EngineError::Random)?;
        self.store
            .insert_crv1_state(&crv1::state_hash(&state_id), &user.name, now)?;

        let reason = Reason::Crv1ChallengeSent;
        Ok(Verdict {
            command: ClientCommand::Deny {
                cid: attempt.cid,
                kid: attempt.kid,
                reason: reason.to_string(),
                client_reason: Some(crv1::challenge_text(&state_id, &user.name)),
            },
            decision: attempt.decision(Outcome::Challenged, reason),
        })
    }

    /// Checks a `CRV1::<state_id>::<code>` password: the state id must exist, belong to
    /// this user and be fresh, and the code must be right. The state id is used up
    /// whatever the result.
    fn check_crv1_response(
        &mut self,
        attempt: &Attempt,
        user: &UserRecord,
        password: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let Some((state_id, code)) = crv1::parse_response(password) else {
            return self.fail(attempt, Reason::MalformedCrv1Response, now);
        };
        let state = self.store.take_crv1_state(&crv1::state_hash(state_id))?;
        let lifetime = self.config.crv1_lifetime_seconds;
        match state {
            None => self.fail(attempt, Reason::Crv1StateUnknown, now),
            Some((owner, _)) if owner != user.name => {
                self.fail(attempt, Reason::Crv1StateOtherUser, now)
            }
            Some((_, issued_at)) if now.saturating_sub(issued_at) > lifetime => {
                self.fail(attempt, Reason::Crv1StateExpired, now)
            }
            Some(_) => self.check_code(attempt, user, code, now),
        }
    }

    /// Checks the password and keeps the client pending with a `CR_TEXT` prompt.
    fn send_cr_text_prompt(
        &mut self,
        attempt: &Attempt,
        user: &UserRecord,
        password: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        if !verify_password(&user.password_hash, password) {
            return self.fail(attempt, Reason::WrongPassword, now);
        }

        self.pending.insert(
            attempt.cid,
            PendingCrText {
                kid: attempt.kid,
                user: user.name.clone(),
                source: attempt.source.clone(),
                prompted_at: now,
            },
        );
        Ok(Verdict {
            command: ClientCommand::PendingAuth {
                cid: attempt.cid,
                kid: attempt.kid,
                extra: CR_TEXT_PROMPT.to_owned(),
                timeout_seconds: self.config.pending_timeout_seconds,
            },
            decision: attempt.decision(Outcome::Challenged, Reason::CrTextPromptSent),
        })
    }

    /// Checks the response to a `CR_TEXT` prompt.
    ///
    /// The waiting client is found by CID alone, because OpenVPN 2.6 `push.c` writes the
    /// wire `key_id` into the KID field of `CR_RESPONSE`. The decision echoes the KID of
    /// the `CONNECT`. A response from a client that waits for none gets no verdict,
    /// because OpenVPN passes on every `CR_RESPONSE`, late and repeated ones too.
    fn check_cr_response(
        &mut self,
        cid: u64,
        key_id: u32,
        response: &str,
        now: u64,
    ) -> Option<Verdict> {
        let Some(pending) = self.pending.remove(&cid) else {
            tracing::warn!(
                cid,
                key_id,
                "cr_response from a client that waits for no code"
            );
            return None;
        };
        let waited = now.saturating_sub(pending.prompted_at);
        if waited > u64::from(self.config.pending_timeout_seconds) {
            tracing::info!(cid, waited, "cr_response after the pending timeout");
            return None;
        }

        let attempt = Attempt {
            cid,
            kid: pending.kid,
            user: pending.user,
            source: pending.source,
            flow: Flow::CrText,
        };
        let result = self.try_check_cr_response(&attempt, response, now);
        Some(settle(&attempt, result))
    }

    /// Body of [`Engine::check_cr_response`], with database errors returned.
    fn try_check_cr_response(
        &mut self,
        attempt: &Attempt,
        response: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let code = BASE64
            .decode(response)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Zeroizing::new);
        let Some(code) = code else {
            return self.fail(attempt, Reason::MalformedCrResponse, now);
        };

        // The user may have been removed or locked while the prompt was open.
        let Some(user) = self.store.user(&attempt.user)? else {
            return Ok(attempt.reject(Reason::UnknownUser));
        };
        if user.locked_at.is_some() {
            return Ok(attempt.reject(Reason::UserLocked));
        }
        self.check_code(attempt, &user, &code, now)
    }

    /// Accepts the client if `code` is a fresh code of `user`, and fails it otherwise.
    fn check_code(
        &mut self,
        attempt: &Attempt,
        user: &UserRecord,
        code: &str,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let step = match verify_code(&user.totp_secret, code, now, user.last_totp_step) {
            Ok(step) => step,
            Err(CodeError::Malformed) => return self.fail(attempt, Reason::MalformedCode, now),
            Err(CodeError::Wrong) => return self.fail(attempt, Reason::WrongCode, now),
            Err(CodeError::Replayed) => return self.fail(attempt, Reason::CodeAlreadyUsed, now),
        };

        // The store takes the step only if it is later than the last one, which also
        // catches a replay that raced this check.
        if !self.store.use_totp_step(&user.name, step)? {
            return self.fail(attempt, Reason::CodeAlreadyUsed, now);
        }
        self.store.record_success(&user.name, now)?;
        Ok(attempt.accept(Reason::CodeAccepted))
    }

    /// Counts a failure against the user and the address and denies the client.
    fn fail(
        &mut self,
        attempt: &Attempt,
        reason: Reason,
        now: u64,
    ) -> Result<Verdict, EngineError> {
        let source_failures = self.sources.record_failure(&attempt.source, now);
        let count = self
            .store
            .record_failure(&attempt.user, self.config.max_failures, now)?;
        if let Some(count) = count.filter(|count| count.locked) {
            tracing::warn!(
                user = %attempt.user,
                source = %attempt.source,
                failures = count.failed_attempts,
                source_failures,
                "user locked after repeated failures; `ferrovpn-authd user unlock` clears it"
            );
        }
        Ok(attempt.reject(reason))
    }

    /// Drops waiting clients whose prompt is older than the pending timeout, which the
    /// server has failed by now.
    fn expire_pending(&mut self, now: u64) {
        let timeout = u64::from(self.config.pending_timeout_seconds);
        self.pending
            .retain(|_, pending| now.saturating_sub(pending.prompted_at) <= timeout);
    }
}

/// Turns a failed check into a denial, logging the failure.
fn settle(attempt: &Attempt, result: Result<Verdict, EngineError>) -> Verdict {
    result.unwrap_or_else(|error| {
        tracing::error!(
            cid = attempt.cid,
            user = %attempt.user,
            %error,
            "check failed; denying the client"
        );
        attempt.reject(Reason::InternalError)
    })
}
