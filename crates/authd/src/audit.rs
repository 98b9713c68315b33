//! The audit log: one `tracing` event per decision, with target `ferrovpn_authd::audit`.
//!
//! The fields are `cid`, `user`, `source`, `flow`, `outcome` and `reason`. None of them
//! can hold a password, a code, a TOTP secret or a CRV1 state id, because [`Decision`]
//! has no field for them.

use crate::engine::{Decision, Outcome};

/// Writes the audit line of `decision`.
///
/// Rejections are logged as warnings, so that a log filtered to warnings still shows
/// every failed attempt; acceptances and challenges as info.
pub fn record(decision: &Decision) {
    let Decision {
        cid,
        user,
        source,
        flow,
        outcome,
        reason,
    } = decision;
    match outcome {
        Outcome::Rejected => tracing::warn!(
            target: "ferrovpn_authd::audit",
            cid,
            %user,
            %source,
            %flow,
            %outcome,
            %reason,
            "authentication decision"
        ),
        Outcome::Accepted | Outcome::Challenged => tracing::info!(
            target: "ferrovpn_authd::audit",
            cid,
            %user,
            %source,
            %flow,
            %outcome,
            %reason,
            "authentication decision"
        ),
    }
}
