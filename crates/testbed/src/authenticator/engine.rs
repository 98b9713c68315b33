//! The policy state machine: turns `>CLIENT:` notifications into replies, without I/O.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::challenge::{crv1_challenge_text, decode_static_challenge, new_state_id};
use super::notification::{ClientEvent, ClientNotification};
use super::policy::{
    AuthPolicy, Decision, DecisionKind, CRV1_CODE_TEXT, CRV1_STATE_LIFETIME, CRV1_WORD,
    CRV1_WORD_TEXT, CR_TEXT_CHALLENGE, DEFAULT_PENDING_TIMEOUT, PUSH_CHALLENGE,
};
use super::reply::{deny, Reply};
use crate::totp::{totp_for_step, totp_step, TOTP_DIGITS};

/// Number of time steps before and after the current one whose codes are accepted, for
/// clock skew and for codes typed just before a step ends.
const TOTP_WINDOW_STEPS: u64 = 1;

/// Password and TOTP secret of one user.
#[derive(Clone)]
struct User {
    /// Expected password.
    password: String,
    /// Shared TOTP secret, raw bytes.
    totp_secret: Vec<u8>,
}

/// Second-factor method of a client waiting after `client-pending-auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingMethod {
    /// Waits for `>CLIENT:CR_RESPONSE` with a code.
    CrText,
    /// Waits for the authenticator's own delayed approval.
    Push,
    /// Waits for [`super::Authenticator::complete_web_auth`].
    WebAuth,
}

/// A client the server keeps waiting after `client-pending-auth`.
#[derive(Debug, Clone)]
struct PendingAuth {
    /// Management key id of the attempt.
    kid: u32,
    /// Username of the attempt.
    username: String,
    /// Event that finishes it.
    method: PendingMethod,
}

/// A push approval due at a later time.
#[derive(Debug, Clone)]
struct ScheduledApproval {
    /// Time at which `client-auth-nt` is due.
    due: Instant,
    /// Client id.
    cid: u64,
    /// Management key id.
    kid: u32,
}

/// Round of a CRV1 challenge that a state id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crv1Round {
    /// The response is a TOTP code.
    Code,
    /// The response is [`CRV1_WORD`].
    Word,
}

/// Outstanding CRV1 challenge, stored under its state id.
#[derive(Debug, Clone)]
struct Crv1State {
    /// User the challenge was sent to, whose username the response must come with.
    username: String,
    /// Round the response belongs to.
    round: Crv1Round,
    /// Time the challenge was sent.
    issued: Instant,
}

/// One authentication attempt, announced by `CONNECT` or `REAUTH`.
struct Attempt<'a> {
    /// Client id.
    cid: u64,
    /// Management key id.
    kid: u32,
    /// `username` from the ENV block, empty if absent.
    username: &'a str,
    /// `password` from the ENV block, empty if absent.
    password: &'a str,
    /// `IV_SSO` from the ENV block: the comma-separated pending auth methods the client
    /// supports, empty if absent.
    iv_sso: &'a str,
}

impl Attempt<'_> {
    /// Returns `client-auth-nt` for this attempt.
    fn accept(&self) -> Reply {
        Reply::Accept {
            cid: self.cid,
            kid: self.kid,
        }
    }

    /// Returns `client-deny` for this attempt.
    fn deny(&self, reason: &str, client_reason: Option<&str>) -> Reply {
        deny(self.cid, self.kid, reason, client_reason)
    }
}

/// State of the policy: users, waiting clients, CRV1 states, used codes and decisions.
///
/// Time comes in as arguments: Unix seconds for TOTP and an [`Instant`] for delays and
/// state lifetimes.
pub(super) struct Engine {
    /// Flow of the second factor.
    policy: AuthPolicy,
    /// Known users by username.
    users: HashMap<String, User>,
    /// Timeout passed with `client-pending-auth`.
    pending_timeout: Duration,
    /// Clients held after `client-pending-auth`, by client id.
    pending: HashMap<u64, PendingAuth>,
    /// Push approvals not yet sent.
    approvals: Vec<ScheduledApproval>,
    /// Outstanding CRV1 challenges by state id.
    crv1_states: HashMap<String, Crv1State>,
    /// Time steps whose code a user has already used, so a replayed code is rejected.
    used_steps: HashSet<(String, u64)>,
    /// Every step taken, in order.
    decisions: Vec<Decision>,
    /// Number of `>CLIENT:CR_RESPONSE` notifications received.
    cr_responses: usize,
}

impl Engine {
    /// Starts with no users and nothing pending.
    pub(super) fn new(policy: AuthPolicy) -> Engine {
        Engine {
            policy,
            users: HashMap::new(),
            pending_timeout: DEFAULT_PENDING_TIMEOUT,
            pending: HashMap::new(),
            approvals: Vec::new(),
            crv1_states: HashMap::new(),
            used_steps: HashSet::new(),
            decisions: Vec::new(),
            cr_responses: 0,
        }
    }

    /// Policy the engine runs.
    pub(super) fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// Adds or replaces a user.
    pub(super) fn add_user(&mut self, username: &str, password: &str, totp_secret: &[u8]) {
        let user = User {
            password: password.to_owned(),
            totp_secret: totp_secret.to_vec(),
        };
        self.users.insert(username.to_owned(), user);
    }

    /// Sets the timeout sent with later `client-pending-auth` commands.
    pub(super) fn set_pending_timeout(&mut self, timeout: Duration) {
        self.pending_timeout = timeout;
    }

    /// Returns every decision so far, oldest first.
    pub(super) fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// Number of `>CLIENT:CR_RESPONSE` notifications received.
    pub(super) fn cr_responses(&self) -> usize {
        self.cr_responses
    }

    /// Handles one complete notification and returns the replies to send. `unix_time` is in
    /// seconds.
    pub(super) fn handle(
        &mut self,
        notification: &ClientNotification,
        unix_time: u64,
        now: Instant,
    ) -> Vec<Reply> {
        match &notification.event {
            ClientEvent::Connect { cid, kid } | ClientEvent::Reauth { cid, kid } => {
                vec![self.authenticate(*cid, *kid, notification, unix_time, now)]
            }
            ClientEvent::CrResponse {
                cid,
                key_id,
                response,
            } => {
                self.cr_responses += 1;
                self.check_cr_response(*cid, *key_id, response, unix_time)
                    .into_iter()
                    .collect()
            }
            ClientEvent::Disconnect { cid } => {
                self.forget_client(*cid);
                Vec::new()
            }
            ClientEvent::Established { .. }
            | ClientEvent::Address { .. }
            | ClientEvent::Other { .. } => Vec::new(),
        }
    }

    /// Decides on `CONNECT` or `REAUTH`.
    fn authenticate(
        &mut self,
        cid: u64,
        kid: u32,
        notification: &ClientNotification,
        unix_time: u64,
        now: Instant,
    ) -> Reply {
        let attempt = Attempt {
            cid,
            kid,
            username: notification.env("username").unwrap_or_default(),
            password: notification.env("password").unwrap_or_default(),
            iv_sso: notification.env("IV_SSO").unwrap_or_default(),
        };

        // A new attempt of the same client replaces whatever it was waiting for.
        self.forget_client(cid);

        // `auth-gen-token ... external-auth` sets session_state (OpenVPN 2.6
        // `auth_token.c`): "Initial" when the password is no token, otherwise the result of
        // the token check. Without that flag a valid token skips the management client.
        if let Some(session_state) = notification.env("session_state") {
            if session_state != "Initial" {
                return self.check_session_state(&attempt, session_state);
            }
        }

        match self.policy.clone() {
            AuthPolicy::StaticChallenge => self.check_static_challenge(&attempt, unix_time),
            AuthPolicy::Crv1 | AuthPolicy::Crv1Chain => {
                match attempt.password.strip_prefix("CRV1::") {
                    Some(rest) => self.check_crv1_response(&attempt, rest, unix_time, now),
                    None => self.send_crv1_challenge(&attempt, now),
                }
            }
            AuthPolicy::CrText => {
                self.send_pending(&attempt, PendingMethod::CrText, CR_TEXT_CHALLENGE)
            }
            AuthPolicy::CrTextNoResponse { approve_after } => {
                let reply = self.send_pending(&attempt, PendingMethod::Push, PUSH_CHALLENGE);
                if matches!(reply, Reply::Pending { .. }) {
                    self.approvals.push(ScheduledApproval {
                        due: now + approve_after,
                        cid,
                        kid,
                    });
                }
                reply
            }
            AuthPolicy::WebAuth { url } => {
                let extra = format!("WEB_AUTH::{url}");
                self.send_pending(&attempt, PendingMethod::WebAuth, &extra)
            }
        }
    }

    /// Accepts a session whose auth-token the server found valid, and denies the others.
    fn check_session_state(&mut self, attempt: &Attempt<'_>, session_state: &str) -> Reply {
        let (accepted, reason, client_reason) = match session_state {
            "Authenticated" | "AuthenticatedEmptyUser" => (true, "valid auth-token", None),
            "Expired" | "ExpiredEmptyUser" => (
                false,
                "auth-token expired",
                Some("SESSION: auth-token expired"),
            ),
            _ => (false, "auth-token invalid", None),
        };
        let reason = format!("{reason} (session_state {session_state})");
        self.record(attempt.username, DecisionKind::AuthToken, accepted, &reason);

        if accepted {
            attempt.accept()
        } else {
            attempt.deny(&reason, client_reason)
        }
    }

    /// Checks a `SCRV1:<base64 password>:<base64 code>` password.
    fn check_static_challenge(&mut self, attempt: &Attempt<'_>, unix_time: u64) -> Reply {
        let Some((password, code)) = decode_static_challenge(attempt.password) else {
            let reason = "password is not a SCRV1 static challenge response";
            self.record(attempt.username, DecisionKind::Password, false, reason);
            return attempt.deny(reason, Some("static challenge response required"));
        };

        if let Err(reason) = self.check_password(attempt.username, &password) {
            return attempt.deny(reason, None);
        }
        self.finish_with_code(attempt.cid, attempt.kid, attempt.username, &code, unix_time)
    }

    /// Checks the password and replies with a CRV1 challenge for a TOTP code.
    fn send_crv1_challenge(&mut self, attempt: &Attempt<'_>, now: Instant) -> Reply {
        if let Err(reason) = self.check_password(attempt.username, attempt.password) {
            return attempt.deny(reason, None);
        }
        self.crv1_challenge(attempt, Crv1Round::Code, now)
    }

    /// Sends a CRV1 challenge for `round` and remembers its state id.
    fn crv1_challenge(&mut self, attempt: &Attempt<'_>, round: Crv1Round, now: Instant) -> Reply {
        let (text, reason) = match round {
            Crv1Round::Code => (CRV1_CODE_TEXT, "otp required"),
            Crv1Round::Word => (CRV1_WORD_TEXT, "second question required"),
        };
        let state_id = new_state_id();
        let challenge = crv1_challenge_text("R,E", &state_id, attempt.username, text);

        self.record(attempt.username, DecisionKind::Crv1Challenge, true, reason);
        self.crv1_states.insert(
            state_id,
            Crv1State {
                username: attempt.username.to_owned(),
                round,
                issued: now,
            },
        );
        attempt.deny(reason, Some(&challenge))
    }

    /// Checks `<state_id>::<response>`, the part of a CRV1 password after `CRV1::`.
    fn check_crv1_response(
        &mut self,
        attempt: &Attempt<'_>,
        state_and_response: &str,
        unix_time: u64,
        now: Instant,
    ) -> Reply {
        let username = attempt.username;
        let Some((state_id, response)) = state_and_response.split_once("::") else {
            let reason = "malformed CRV1 response";
            self.record(username, DecisionKind::Code, false, reason);
            return attempt.deny(reason, Some(reason));
        };

        // Removing the state makes it single use, whatever the outcome.
        let state = match self.crv1_states.remove(state_id) {
            Some(state) if state.username != username => Err("CRV1 state of another user"),
            Some(state) if now.duration_since(state.issued) > CRV1_STATE_LIFETIME => {
                Err("CRV1 state expired")
            }
            Some(state) => Ok(state),
            None => Err("unknown or used CRV1 state"),
        };
        let state = match state {
            Ok(state) => state,
            Err(reason) => {
                self.record(username, DecisionKind::Code, false, reason);
                return attempt.deny(reason, Some(reason));
            }
        };

        match state.round {
            Crv1Round::Code if self.policy == AuthPolicy::Crv1Chain => {
                if let Err(reason) = self.check_code(username, response, unix_time) {
                    return attempt.deny(reason, Some(reason));
                }
                self.crv1_challenge(attempt, Crv1Round::Word, now)
            }
            Crv1Round::Code => {
                self.finish_with_code(attempt.cid, attempt.kid, username, response, unix_time)
            }
            Crv1Round::Word => {
                let accepted = response == CRV1_WORD;
                let reason = if accepted {
                    "answer accepted"
                } else {
                    "wrong answer"
                };
                self.record(username, DecisionKind::Answer, accepted, reason);
                if accepted {
                    attempt.accept()
                } else {
                    attempt.deny(reason, Some(reason))
                }
            }
        }
    }

    /// Checks the password and the client's `IV_SSO`, then keeps the client waiting with
    /// `client-pending-auth`.
    fn send_pending(&mut self, attempt: &Attempt<'_>, method: PendingMethod, extra: &str) -> Reply {
        if let Err(reason) = self.check_password(attempt.username, attempt.password) {
            return attempt.deny(reason, None);
        }

        // OpenVPN leaves the IV_SSO check to the management client (management-notes.txt,
        // "client-pending-auth").
        let (sso_method, kind) = match method {
            PendingMethod::CrText | PendingMethod::Push => ("crtext", DecisionKind::CrTextPrompt),
            PendingMethod::WebAuth => ("webauth", DecisionKind::WebAuthPrompt),
        };
        if !attempt.iv_sso.split(',').any(|listed| listed == sso_method) {
            let reason = format!("IV_SSO {:?} lacks {sso_method}", attempt.iv_sso);
            self.record(attempt.username, kind, false, &reason);
            let client_reason = format!("this server requires the {sso_method} method in IV_SSO");
            return attempt.deny(&reason, Some(&client_reason));
        }

        self.record(attempt.username, kind, true, extra);
        self.pending.insert(
            attempt.cid,
            PendingAuth {
                kid: attempt.kid,
                username: attempt.username.to_owned(),
                method,
            },
        );
        Reply::Pending {
            cid: attempt.cid,
            kid: attempt.kid,
            extra: extra.to_owned(),
            timeout_seconds: self.pending_timeout.as_secs(),
        }
    }

    /// Checks the TOTP code of a `>CLIENT:CR_RESPONSE`.
    ///
    /// The client is found by CID alone. OpenVPN 2.6 `push.c` (`receive_cr_response`) fills
    /// the KID field of CR_RESPONSE with the wire `key_id` of the primary key, 0 on the first
    /// key, and not with the management key id of the `CONNECT`. The `client-auth-nt`
    /// therefore uses the KID remembered from the `CONNECT`.
    ///
    /// Returns no reply for a client that is not waiting for a code, because OpenVPN passes
    /// every CR_RESPONSE on unchecked, also late or repeated ones.
    fn check_cr_response(
        &mut self,
        cid: u64,
        wire_key_id: u32,
        response: &str,
        unix_time: u64,
    ) -> Option<Reply> {
        let waiting = self
            .pending
            .get(&cid)
            .is_some_and(|pending| pending.method == PendingMethod::CrText);
        if !waiting {
            tracing::warn!(
                cid,
                key_id = wire_key_id,
                "ignoring a cr_response from a client not waiting for a code"
            );
            return None;
        }
        let pending = self.pending.remove(&cid)?;
        let kid = pending.kid;

        let code = BASE64
            .decode(response)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let Some(code) = code else {
            let reason = "CR_RESPONSE is not base64 of UTF-8 text";
            self.record(&pending.username, DecisionKind::Code, false, reason);
            return Some(deny(cid, kid, reason, Some(reason)));
        };
        Some(self.finish_with_code(cid, kid, &pending.username, &code, unix_time))
    }

    /// Accepts the client if `code` is a fresh TOTP code of `username`, else denies it.
    fn finish_with_code(
        &mut self,
        cid: u64,
        kid: u32,
        username: &str,
        code: &str,
        unix_time: u64,
    ) -> Reply {
        match self.check_code(username, code, unix_time) {
            Ok(()) => Reply::Accept { cid, kid },
            Err(reason) => deny(cid, kid, reason, Some(reason)),
        }
    }

    /// Checks a TOTP code against the current step and its neighbours and records the
    /// result. A step whose code was accepted once is not accepted again.
    fn check_code(
        &mut self,
        username: &str,
        code: &str,
        unix_time: u64,
    ) -> Result<(), &'static str> {
        let result = self.verify_code(username, code, unix_time);
        let reason = match result {
            Ok(()) => "code accepted",
            Err(reason) => reason,
        };
        self.record(username, DecisionKind::Code, result.is_ok(), reason);
        result
    }

    /// Verification behind [`Engine::check_code`], without the record.
    fn verify_code(
        &mut self,
        username: &str,
        code: &str,
        unix_time: u64,
    ) -> Result<(), &'static str> {
        let user = self.users.get(username).ok_or("unknown user")?;
        if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err("malformed code");
        }

        let current = totp_step(unix_time);
        let first = current.saturating_sub(TOTP_WINDOW_STEPS);
        let last = current + TOTP_WINDOW_STEPS;
        let matched = (first..=last).find(|step| totp_for_step(&user.totp_secret, *step) == code);
        let Some(step) = matched else {
            return Err("wrong code");
        };

        if !self.used_steps.insert((username.to_owned(), step)) {
            return Err("code already used");
        }
        Ok(())
    }

    /// Checks username and password and records the result.
    fn check_password(&mut self, username: &str, password: &str) -> Result<(), &'static str> {
        let result = match self.users.get(username) {
            None => Err("unknown user"),
            Some(user) if user.password != password => Err("wrong password"),
            Some(_) => Ok(()),
        };
        let reason = match result {
            Ok(()) => "password accepted",
            Err(reason) => reason,
        };
        self.record(username, DecisionKind::Password, result.is_ok(), reason);
        result
    }

    /// Returns the approvals that are due at `now`.
    pub(super) fn poll_approvals(&mut self, now: Instant) -> Vec<Reply> {
        let (due, later): (Vec<_>, Vec<_>) = self
            .approvals
            .drain(..)
            .partition(|approval| approval.due <= now);
        self.approvals = later;

        let mut replies = Vec::new();
        for approval in due {
            let Some(pending) = self.pending.remove(&approval.cid) else {
                continue;
            };
            self.record(
                &pending.username,
                DecisionKind::Approval,
                true,
                "push approved",
            );
            replies.push(Reply::Accept {
                cid: approval.cid,
                kid: approval.kid,
            });
        }
        replies
    }

    /// Finishes the pending web authentication of `username`.
    pub(super) fn complete_web_auth(&mut self, username: &str) -> Result<Reply, String> {
        let cid = self
            .pending
            .iter()
            .find(|(_, pending)| {
                pending.method == PendingMethod::WebAuth && pending.username == username
            })
            .map(|(cid, _)| *cid)
            .ok_or_else(|| format!("no web authentication of user {username:?} is pending"))?;
        let pending = self.pending.remove(&cid).expect("the entry was just found");

        self.record(
            username,
            DecisionKind::Approval,
            true,
            "web authentication completed",
        );
        Ok(Reply::Accept {
            cid,
            kid: pending.kid,
        })
    }

    /// Forgets what client `cid` was waiting for.
    fn forget_client(&mut self, cid: u64) {
        self.pending.remove(&cid);
        self.approvals.retain(|approval| approval.cid != cid);
    }

    /// Forgets every waiting client, whose ids die with the management connection.
    ///
    /// CRV1 states and used codes stay: they belong to users, not to server processes.
    pub(super) fn forget_clients(&mut self) {
        self.pending.clear();
        self.approvals.clear();
    }

    /// Appends a decision and logs it.
    fn record(&mut self, username: &str, kind: DecisionKind, accepted: bool, reason: &str) {
        tracing::info!(username, ?kind, accepted, reason, "authenticator decision");
        self.decisions.push(Decision {
            username: username.to_owned(),
            kind,
            accepted,
            reason: reason.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::totp::totp_at;

    const SECRET: &[u8] = b"12345678901234567890";
    const TIME: u64 = 1_700_000_000;

    fn engine(policy: AuthPolicy) -> Engine {
        let mut engine = Engine::new(policy);
        engine.users.insert(
            "alice".to_owned(),
            User {
                password: "correct horse".to_owned(),
                totp_secret: SECRET.to_vec(),
            },
        );
        engine
    }

    fn connect(cid: u64, env: &[(&str, &str)]) -> ClientNotification {
        ClientNotification {
            event: ClientEvent::Connect { cid, kid: 1 },
            env: env
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect(),
        }
    }

    fn cr_response(cid: u64, response: &str) -> ClientNotification {
        ClientNotification {
            // OpenVPN sends the wire key_id here, 0 on the first key, where CONNECT had
            // management key id 1.
            event: ClientEvent::CrResponse {
                cid,
                key_id: 0,
                response: BASE64.encode(response),
            },
            env: Vec::new(),
        }
    }

    fn password_env<'a>(password: &'a str, iv_sso: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("username", "alice"),
            ("password", password),
            ("IV_SSO", iv_sso),
        ]
    }

    fn only(replies: Vec<Reply>) -> Reply {
        let [reply] = <[Reply; 1]>::try_from(replies).expect("exactly one reply");
        reply
    }

    fn last_kind(engine: &Engine) -> (DecisionKind, bool) {
        let decision = engine.decisions.last().expect("a decision was recorded");
        (decision.kind, decision.accepted)
    }

    /// Extracts the state id from the client reason of a CRV1 challenge.
    fn crv1_state(reply: &Reply) -> String {
        let Reply::Deny {
            client_reason: Some(challenge),
            ..
        } = reply
        else {
            panic!("expected a CRV1 challenge, got {reply:?}");
        };
        let fields: Vec<&str> = challenge.splitn(5, ':').collect();
        assert_eq!(
            fields[0], "CRV1",
            "challenge {challenge:?} must start with CRV1"
        );
        fields[2].to_owned()
    }

    #[test]
    fn cr_text_correct_code_accepts() {
        let mut engine = engine(AuthPolicy::CrText);
        let env = password_env("correct horse", "openurl,crtext");
        let prompt = only(engine.handle(&connect(7, &env), TIME, Instant::now()));
        assert!(
            matches!(prompt, Reply::Pending { cid: 7, kid: 1, .. }),
            "got {prompt:?}"
        );

        let code = totp_at(SECRET, TIME);
        let reply = only(engine.handle(&cr_response(7, &code), TIME, Instant::now()));
        assert_eq!(reply, Reply::Accept { cid: 7, kid: 1 });
        assert_eq!(engine.cr_responses, 1, "one CR_RESPONSE counted");
    }

    #[test]
    fn cr_text_wrong_code_denies() {
        let mut engine = engine(AuthPolicy::CrText);
        let env = password_env("correct horse", "crtext");
        engine.handle(&connect(7, &env), TIME, Instant::now());

        let reply = only(engine.handle(&cr_response(7, "000000"), TIME + 3600, Instant::now()));
        assert!(matches!(reply, Reply::Deny { .. }), "got {reply:?}");
        assert_eq!(last_kind(&engine), (DecisionKind::Code, false));
    }

    #[test]
    fn cr_text_without_crtext_denies() {
        let mut engine = engine(AuthPolicy::CrText);
        let env = password_env("correct horse", "openurl,webauth");
        let reply = only(engine.handle(&connect(7, &env), TIME, Instant::now()));
        assert!(matches!(reply, Reply::Deny { .. }), "got {reply:?}");
        assert_eq!(last_kind(&engine), (DecisionKind::CrTextPrompt, false));
    }

    #[test]
    fn cr_text_wrong_password_sends_no_prompt() {
        let mut engine = engine(AuthPolicy::CrText);
        let env = password_env("wrong horse", "crtext");
        let reply = only(engine.handle(&connect(7, &env), TIME, Instant::now()));
        assert_eq!(reply, deny(7, 1, "wrong password", None));
        assert_eq!(last_kind(&engine), (DecisionKind::Password, false));
    }

    #[test]
    fn cr_response_without_prompt_is_ignored() {
        let mut engine = engine(AuthPolicy::CrText);
        let replies = engine.handle(&cr_response(9, "123456"), TIME, Instant::now());
        assert!(
            replies.is_empty(),
            "no reply for an unknown client: {replies:?}"
        );
        assert_eq!(engine.cr_responses, 1, "the response is still counted");
    }

    #[test]
    fn code_replayed_in_window_is_rejected() {
        let mut engine = engine(AuthPolicy::StaticChallenge);
        let code = totp_at(SECRET, TIME);
        let password = format!(
            "SCRV1:{}:{}",
            BASE64.encode("correct horse"),
            BASE64.encode(&code)
        );
        let env = password_env(&password, "");

        let first = only(engine.handle(&connect(1, &env), TIME, Instant::now()));
        assert_eq!(first, Reply::Accept { cid: 1, kid: 1 });

        let second = only(engine.handle(&connect(2, &env), TIME + 30, Instant::now()));
        assert_eq!(
            second,
            deny(2, 1, "code already used", Some("code already used"))
        );
    }

    #[test]
    fn code_of_neighbour_steps_accepted() {
        for offset in [-30i64, 30] {
            let mut engine = engine(AuthPolicy::StaticChallenge);
            let code = totp_at(SECRET, TIME.checked_add_signed(offset).expect("in range"));
            let password = format!(
                "SCRV1:{}:{}",
                BASE64.encode("correct horse"),
                BASE64.encode(&code)
            );
            let reply = only(engine.handle(
                &connect(1, &password_env(&password, "")),
                TIME,
                Instant::now(),
            ));
            assert_eq!(
                reply,
                Reply::Accept { cid: 1, kid: 1 },
                "code of step offset {offset} s"
            );
        }
    }

    #[test]
    fn code_two_steps_old_rejected() {
        let mut engine = engine(AuthPolicy::StaticChallenge);
        let code = totp_at(SECRET, TIME - 60);
        let password = format!(
            "SCRV1:{}:{}",
            BASE64.encode("correct horse"),
            BASE64.encode(&code)
        );
        let reply = only(engine.handle(
            &connect(1, &password_env(&password, "")),
            TIME,
            Instant::now(),
        ));
        assert_eq!(reply, deny(1, 1, "wrong code", Some("wrong code")));
    }

    #[test]
    fn static_challenge_plain_password_denied() {
        let mut engine = engine(AuthPolicy::StaticChallenge);
        let reply = only(engine.handle(
            &connect(1, &password_env("correct horse", "")),
            TIME,
            Instant::now(),
        ));
        assert!(matches!(reply, Reply::Deny { .. }), "got {reply:?}");
        assert_eq!(last_kind(&engine), (DecisionKind::Password, false));
    }

    #[test]
    fn crv1_challenge_then_response_accepts() {
        let mut engine = engine(AuthPolicy::Crv1);
        let now = Instant::now();
        let challenge =
            only(engine.handle(&connect(1, &password_env("correct horse", "")), TIME, now));
        let state = crv1_state(&challenge);

        let password = format!("CRV1::{state}::{}", totp_at(SECRET, TIME));
        let reply = only(engine.handle(&connect(2, &password_env(&password, "")), TIME, now));
        assert_eq!(reply, Reply::Accept { cid: 2, kid: 1 });
    }

    #[test]
    fn crv1_challenge_names_user_in_base64() {
        let mut engine = engine(AuthPolicy::Crv1);
        let challenge = only(engine.handle(
            &connect(1, &password_env("correct horse", "")),
            TIME,
            Instant::now(),
        ));
        let Reply::Deny {
            client_reason: Some(text),
            ..
        } = challenge
        else {
            panic!("expected a CRV1 challenge");
        };
        let fields: Vec<&str> = text.splitn(5, ':').collect();
        assert_eq!(fields[1], "R,E", "flags of {text:?}");
        assert_eq!(fields[3], "YWxpY2U=", "base64 username of {text:?}");
        assert_eq!(fields[4], CRV1_CODE_TEXT, "challenge text of {text:?}");
    }

    #[test]
    fn crv1_state_is_single_use() {
        let mut engine = engine(AuthPolicy::Crv1);
        let now = Instant::now();
        let challenge =
            only(engine.handle(&connect(1, &password_env("correct horse", "")), TIME, now));
        let state = crv1_state(&challenge);

        let wrong = format!("CRV1::{state}::000000");
        engine.handle(&connect(2, &password_env(&wrong, "")), TIME + 3600, now);

        let right = format!("CRV1::{state}::{}", totp_at(SECRET, TIME));
        let reply = only(engine.handle(&connect(3, &password_env(&right, "")), TIME, now));
        let expected = "unknown or used CRV1 state";
        assert_eq!(reply, deny(3, 1, expected, Some(expected)));
    }

    #[test]
    fn crv1_state_bound_to_user() {
        let mut engine = engine(AuthPolicy::Crv1);
        engine.users.insert(
            "bob".to_owned(),
            User {
                password: "bob".to_owned(),
                totp_secret: SECRET.to_vec(),
            },
        );
        let now = Instant::now();
        let challenge =
            only(engine.handle(&connect(1, &password_env("correct horse", "")), TIME, now));
        let state = crv1_state(&challenge);

        let password = format!("CRV1::{state}::{}", totp_at(SECRET, TIME));
        let env = [("username", "bob"), ("password", password.as_str())];
        let reply = only(engine.handle(&connect(2, &env), TIME, now));
        let expected = "CRV1 state of another user";
        assert_eq!(reply, deny(2, 1, expected, Some(expected)));
    }

    #[test]
    fn crv1_state_expires() {
        let mut engine = engine(AuthPolicy::Crv1);
        let issued = Instant::now();
        let challenge = only(engine.handle(
            &connect(1, &password_env("correct horse", "")),
            TIME,
            issued,
        ));
        let state = crv1_state(&challenge);

        let late = issued + CRV1_STATE_LIFETIME + Duration::from_secs(1);
        let password = format!("CRV1::{state}::{}", totp_at(SECRET, TIME));
        let reply = only(engine.handle(&connect(2, &password_env(&password, "")), TIME, late));
        assert_eq!(
            reply,
            deny(2, 1, "CRV1 state expired", Some("CRV1 state expired"))
        );
    }

    #[test]
    fn crv1_chain_asks_word_after_code() {
        let mut engine = engine(AuthPolicy::Crv1Chain);
        let now = Instant::now();
        let first = only(engine.handle(&connect(1, &password_env("correct horse", "")), TIME, now));
        let code_state = crv1_state(&first);

        let code_password = format!("CRV1::{code_state}::{}", totp_at(SECRET, TIME));
        let second = only(engine.handle(&connect(2, &password_env(&code_password, "")), TIME, now));
        let word_state = crv1_state(&second);
        assert_ne!(
            word_state, code_state,
            "the second round needs a new state id"
        );

        let word_password = format!("CRV1::{word_state}::{CRV1_WORD}");
        let third = only(engine.handle(&connect(3, &password_env(&word_password, "")), TIME, now));
        assert_eq!(third, Reply::Accept { cid: 3, kid: 1 });
        assert_eq!(
            engine
                .decisions
                .iter()
                .filter(|d| d.kind == DecisionKind::Crv1Challenge)
                .count(),
            2
        );
    }

    #[test]
    fn crv1_chain_wrong_word_denies() {
        let mut engine = engine(AuthPolicy::Crv1Chain);
        let now = Instant::now();
        let first = only(engine.handle(&connect(1, &password_env("correct horse", "")), TIME, now));
        let code_password = format!("CRV1::{}::{}", crv1_state(&first), totp_at(SECRET, TIME));
        let second = only(engine.handle(&connect(2, &password_env(&code_password, "")), TIME, now));

        let word_password = format!("CRV1::{}::red", crv1_state(&second));
        let third = only(engine.handle(&connect(3, &password_env(&word_password, "")), TIME, now));
        assert_eq!(third, deny(3, 1, "wrong answer", Some("wrong answer")));
    }

    #[test]
    fn push_approved_after_delay() {
        let approve_after = Duration::from_secs(2);
        let mut engine = engine(AuthPolicy::CrTextNoResponse { approve_after });
        let start = Instant::now();
        let prompt = only(engine.handle(
            &connect(4, &password_env("correct horse", "crtext")),
            TIME,
            start,
        ));
        let Reply::Pending { extra, .. } = prompt else {
            panic!("expected client-pending-auth, got {prompt:?}");
        };
        assert_eq!(extra, PUSH_CHALLENGE);

        let early = engine.poll_approvals(start + Duration::from_secs(1));
        assert!(early.is_empty(), "approval must wait 2 s: {early:?}");
        let due = engine.poll_approvals(start + approve_after);
        assert_eq!(due, vec![Reply::Accept { cid: 4, kid: 1 }]);
    }

    #[test]
    fn push_for_disconnected_client_dropped() {
        let approve_after = Duration::from_secs(2);
        let mut engine = engine(AuthPolicy::CrTextNoResponse { approve_after });
        let start = Instant::now();
        engine.handle(
            &connect(4, &password_env("correct horse", "crtext")),
            TIME,
            start,
        );
        let disconnect = ClientNotification {
            event: ClientEvent::Disconnect { cid: 4 },
            env: Vec::new(),
        };
        engine.handle(&disconnect, TIME, start);

        let due = engine.poll_approvals(start + approve_after);
        assert!(due.is_empty(), "a gone client gets no approval: {due:?}");
    }

    #[test]
    fn web_auth_completes_pending_user() {
        let url = "https://idp.example/login".to_owned();
        let mut engine = engine(AuthPolicy::WebAuth { url });
        let prompt = only(engine.handle(
            &connect(5, &password_env("correct horse", "webauth")),
            TIME,
            Instant::now(),
        ));
        let Reply::Pending { extra, .. } = prompt else {
            panic!("expected client-pending-auth, got {prompt:?}");
        };
        assert_eq!(extra, "WEB_AUTH::https://idp.example/login");

        assert_eq!(
            engine.complete_web_auth("alice"),
            Ok(Reply::Accept { cid: 5, kid: 1 })
        );
        assert!(
            engine.complete_web_auth("alice").is_err(),
            "a second completion has nothing to finish"
        );
    }

    #[test]
    fn session_state_decides_without_code() {
        let cases = [
            ("Authenticated", true),
            ("AuthenticatedEmptyUser", true),
            ("Expired", false),
            ("ExpiredEmptyUser", false),
            ("Invalid", false),
        ];
        for (session_state, accepted) in cases {
            let mut engine = engine(AuthPolicy::CrText);
            let env = [
                ("username", "alice"),
                ("password", "SESS_ID_AT_token"),
                ("session_state", session_state),
            ];
            let reply = only(engine.handle(&connect(6, &env), TIME, Instant::now()));
            assert_eq!(
                matches!(reply, Reply::Accept { .. }),
                accepted,
                "session_state {session_state} gave {reply:?}"
            );
            assert_eq!(
                last_kind(&engine),
                (DecisionKind::AuthToken, accepted),
                "session_state {session_state}"
            );
        }
    }

    #[test]
    fn session_state_initial_runs_policy() {
        let mut engine = engine(AuthPolicy::CrText);
        let mut env = password_env("correct horse", "crtext");
        env.push(("session_state", "Initial"));
        let reply = only(engine.handle(&connect(6, &env), TIME, Instant::now()));
        assert!(matches!(reply, Reply::Pending { .. }), "got {reply:?}");
    }
}
