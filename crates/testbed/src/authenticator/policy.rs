//! The second-factor flows an [`super::Authenticator`] can run, and the record of what it
//! did.

use std::time::Duration;

/// Prompt of [`AuthPolicy::CrText`]: a response is required (`R`) and may be echoed (`E`).
pub const CR_TEXT_CHALLENGE: &str = "CR_TEXT:R,E:Enter your authenticator code";

/// Prompt of [`AuthPolicy::CrTextNoResponse`]: no `R` flag, so the client sends nothing.
pub const PUSH_CHALLENGE: &str = "CR_TEXT:E:Approve the sign-in on your phone";

/// Challenge text of the CRV1 round that requests a TOTP code.
pub const CRV1_CODE_TEXT: &str = "Enter your authenticator code";

/// Challenge text of the second CRV1 round of [`AuthPolicy::Crv1Chain`].
pub const CRV1_WORD_TEXT: &str = "Enter the word 'blue'";

/// Response that the second round of [`AuthPolicy::Crv1Chain`] accepts.
pub const CRV1_WORD: &str = "blue";

/// Timeout passed with `client-pending-auth` unless
/// [`super::Authenticator::set_pending_timeout`] changes it. OpenVPN 2.6 sends it on as
/// `AUTH_PENDING,timeout 120` and fails the client once it has passed.
pub const DEFAULT_PENDING_TIMEOUT: Duration = Duration::from_secs(120);

/// Time a CRV1 state id stays valid after the challenge was sent.
pub const CRV1_STATE_LIFETIME: Duration = Duration::from_secs(300);

/// Flow by which the authenticator requests and checks the second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthPolicy {
    /// Password, then `client-pending-auth` with [`CR_TEXT_CHALLENGE`] (only for clients
    /// whose `IV_SSO` lists `crtext`), then the TOTP code from `>CLIENT:CR_RESPONSE`.
    CrText,
    /// Password, then `client-pending-auth` with [`PUSH_CHALLENGE`], a `CR_TEXT` without
    /// the `R` flag. The authenticator itself approves after `approve_after`, like a push
    /// notification accepted on a phone.
    CrTextNoResponse {
        /// Delay between the prompt and the approval.
        approve_after: Duration,
    },
    /// Password, then `client-deny` with a CRV1 challenge. The reconnect with password
    /// `CRV1::<state_id>::<code>` is checked against the state id and the TOTP code.
    Crv1,
    /// Like [`AuthPolicy::Crv1`], but a correct code leads to a second CRV1 challenge,
    /// [`CRV1_WORD_TEXT`], whose expected response is [`CRV1_WORD`].
    Crv1Chain,
    /// Password `SCRV1:<base64 password>:<base64 code>` from a client configured with
    /// `static-challenge`.
    StaticChallenge,
    /// Password, then `client-pending-auth` with `WEB_AUTH::<url>` (only for clients whose
    /// `IV_SSO` lists `webauth`). The test finishes it with
    /// [`super::Authenticator::complete_web_auth`].
    WebAuth {
        /// URL the client is asked to open.
        url: String,
    },
}

/// Subject of a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionKind {
    /// Check of username and password, or of the form of the password field.
    Password,
    /// `CR_TEXT` prompt sent with `client-pending-auth`.
    CrTextPrompt,
    /// CRV1 challenge sent with `client-deny`.
    Crv1Challenge,
    /// `WEB_AUTH` URL sent with `client-pending-auth`.
    WebAuthPrompt,
    /// Check of a TOTP code from `CR_RESPONSE`, a CRV1 response or a static challenge,
    /// including the CRV1 state id it came with.
    Code,
    /// Check of the text response to the second CRV1 challenge.
    Answer,
    /// Out-of-band completion of a pending authentication: a push approval or a finished
    /// web authentication.
    Approval,
    /// Check of the `session_state` that `auth-gen-token ... external-auth` reports.
    AuthToken,
}

/// One step the authenticator took for a client.
///
/// For a check, `accepted` is whether it passed. For a prompt or challenge, `accepted` is
/// whether it was sent, so it is `false` when the client's `IV_SSO` lacked the method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Username from the client's ENV block, empty if it sent none.
    pub username: String,
    /// Subject of the check or prompt.
    pub kind: DecisionKind,
    /// Whether the check passed or the prompt was sent.
    pub accepted: bool,
    /// Short reason such as "wrong code", or the prompt text of a prompt. It never contains
    /// a password, code or state id.
    pub reason: String,
}
