//! `ferrovpn-authd`: a TOTP second factor for a stock OpenVPN 2.6 server, through its
//! management interface (`management-client-auth`).
//!
//! The daemon connects to the management interface and decides every `>CLIENT:CONNECT`
//! and `>CLIENT:REAUTH`. The [`Engine`] checks the password (Argon2id) and requests an
//! RFC 6238 code in the flow the client supports: a `CR_TEXT` prompt for clients that
//! announce `IV_SSO=crtext`, a CRV1 dynamic challenge for all others, or both in one step
//! for a static challenge (`SCRV1:`) password. A session that presents a valid
//! auth-token (`auth-gen-token ... external-auth`) is accepted without a code. Users,
//! used TOTP steps, lockouts and CRV1 challenges live in a SQLite [`Store`]. Every
//! decision is written to the [`audit`] log.
//!
//! Failing closed: a client is admitted only by a check that passed. Errors, malformed
//! notifications and a daemon that is not connected all leave the client denied or
//! waiting until the server times it out.

pub mod audit;
pub mod base32;
pub mod daemon;
pub mod engine;
pub mod enrolment;
pub mod management;
pub mod password;
pub mod rate_limit;
pub mod store;
pub mod totp;
pub mod username;

pub use daemon::{run, DaemonConfig, DaemonError, ReconnectPolicy};
pub use engine::{Decision, Engine, EngineConfig, Flow, Outcome, Reason, Verdict};
pub use management::ManagementAddress;
pub use store::{Store, StoreError, UserRecord};
pub use totp::TotpSecret;
