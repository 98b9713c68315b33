//! Decisions of the engine on one client and their reasons: the content of an audit line.

use std::fmt;

use crate::management::ClientCommand;

/// Second-factor flow of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Pending authentication with a `CR_TEXT` prompt, for clients whose `IV_SSO` lists
    /// `crtext`.
    CrText,
    /// Dynamic challenge: `AUTH_FAILED,CRV1:...`, then a reconnect with
    /// `CRV1::<state_id>::<code>` as password.
    Crv1,
    /// Static challenge: password `SCRV1:<base64 password>:<base64 code>`.
    StaticChallenge,
    /// A session that presents an auth-token, checked by the server (`session_state`).
    AuthToken,
    /// No flow was chosen, because the notification was incomplete.
    Unknown,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::CrText => "crtext",
            Flow::Crv1 => "crv1",
            Flow::StaticChallenge => "static-challenge",
            Flow::AuthToken => "auth-token",
            Flow::Unknown => "unknown",
        })
    }
}

/// Result of one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The client is admitted with `client-auth-nt`.
    Accepted,
    /// The client is denied with `client-deny`.
    Rejected,
    /// The password was right and the client was asked for a code, by a CRV1 challenge
    /// or by `client-pending-auth`.
    Challenged,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Challenged => "challenged",
        })
    }
}

/// Reason for a decision. The text never contains a password, code, secret or
/// state id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A fresh, correct TOTP code.
    CodeAccepted,
    /// The server found the auth-token valid.
    AuthTokenValid,
    /// A CRV1 challenge was sent.
    Crv1ChallengeSent,
    /// A `CR_TEXT` prompt was sent.
    CrTextPromptSent,
    /// No user of that name exists.
    UnknownUser,
    /// The password does not match.
    WrongPassword,
    /// The code matches no step in the accepted window.
    WrongCode,
    /// The code is not six digits.
    MalformedCode,
    /// The code's step was already used.
    CodeAlreadyUsed,
    /// The user is locked after too many failures.
    UserLocked,
    /// Too many failures came from the client's address.
    SourceRateLimited,
    /// The CRV1 state id is unknown or was already used.
    Crv1StateUnknown,
    /// The CRV1 state id has expired.
    Crv1StateExpired,
    /// The CRV1 state id was issued to another user.
    Crv1StateOtherUser,
    /// The password starts with `CRV1::` but lacks `::` after the state id.
    MalformedCrv1Response,
    /// The password starts with `SCRV1:` but is not two base64 fields.
    MalformedStaticChallenge,
    /// The `CR_RESPONSE` is not base64 of UTF-8 text.
    MalformedCrResponse,
    /// The server reports the auth-token as expired.
    AuthTokenExpired,
    /// The server reports the auth-token as invalid, or an unknown `session_state`.
    AuthTokenInvalid,
    /// The notification ended early, so it could not be checked.
    IncompleteNotification,
    /// The user database or the random source failed.
    InternalError,
}

impl Reason {
    /// Text sent to the client as `AUTH_FAILED,<text>`, or `None` for a plain
    /// `AUTH_FAILED`.
    ///
    /// Failures before the password is known to be right get no text, so that a client
    /// cannot tell an unknown user from a wrong password or a locked user.
    pub fn client_reason(self) -> Option<&'static str> {
        match self {
            Reason::WrongCode => Some("wrong code"),
            Reason::MalformedCode => Some("the code must be 6 digits"),
            Reason::CodeAlreadyUsed => Some("code already used; wait for the next code"),
            Reason::Crv1StateUnknown | Reason::Crv1StateOtherUser => {
                Some("unknown or used challenge; connect again")
            }
            Reason::Crv1StateExpired => Some("challenge expired; connect again"),
            Reason::MalformedCrv1Response | Reason::MalformedCrResponse => {
                Some("malformed challenge response")
            }
            Reason::AuthTokenExpired => Some("SESSION: auth-token expired"),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::CodeAccepted => "code accepted",
            Reason::AuthTokenValid => "auth-token valid",
            Reason::Crv1ChallengeSent => "crv1 challenge sent",
            Reason::CrTextPromptSent => "cr_text prompt sent",
            Reason::UnknownUser => "unknown user",
            Reason::WrongPassword => "wrong password",
            Reason::WrongCode => "wrong code",
            Reason::MalformedCode => "malformed code",
            Reason::CodeAlreadyUsed => "code already used",
            Reason::UserLocked => "user locked",
            Reason::SourceRateLimited => "source rate limited",
            Reason::Crv1StateUnknown => "crv1 state unknown or used",
            Reason::Crv1StateExpired => "crv1 state expired",
            Reason::Crv1StateOtherUser => "crv1 state of another user",
            Reason::MalformedCrv1Response => "malformed crv1 response",
            Reason::MalformedStaticChallenge => "malformed static challenge response",
            Reason::MalformedCrResponse => "malformed cr_response",
            Reason::AuthTokenExpired => "auth-token expired",
            Reason::AuthTokenInvalid => "auth-token invalid",
            Reason::IncompleteNotification => "incomplete notification",
            Reason::InternalError => "internal error",
        })
    }
}

/// One decision on a client: the audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Client id of the server.
    pub cid: u64,
    /// Username from the client's variables, empty if it sent none.
    pub user: String,
    /// Client address from `untrusted_ip` or `untrusted_ip6`, empty if absent.
    pub source: String,
    /// Flow of the attempt.
    pub flow: Flow,
    /// Result.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
}

/// A decision and the command that carries it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Command to send to the server.
    pub command: ClientCommand,
    /// Record for the audit log.
    pub decision: Decision,
}
