//! Replay protection for packet ids: OpenVPN's backtrack window.
//!
//! Both the data channel and the `tls-auth`/`tls-crypt` wrapping carry a
//! 32-bit packet id that the sender increments per packet. A receiver accepts
//! an id above the highest seen, or one at most [`WINDOW`] below it that it
//! has not seen yet. The wrapping also carries a timestamp that is fixed for
//! a sender's run: a newer timestamp starts a new sequence, an older one is
//! rejected. Only call [`ReplayWindow::accept`] for packets that have already
//! been authenticated, so forged ids cannot move the window.

use thiserror::Error;

/// Number of ids below the highest that may still arrive late, as in OpenVPN's
/// default `replay-window 64`.
pub const WINDOW: u32 = 64;

/// Why a packet id was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ReplayError {
    /// Id 0 is never sent because senders start counting at 1.
    #[error("packet id 0 is invalid")]
    ZeroPacketId,
    /// The id was already accepted once.
    #[error("packet id {packet_id} is a replay")]
    Replay {
        /// The rejected id.
        packet_id: u32,
    },
    /// The id lies further below the highest id than the window reaches.
    #[error("packet id {packet_id} is too old, highest seen is {highest}")]
    TooOld {
        /// The rejected id.
        packet_id: u32,
        /// The highest id accepted so far.
        highest: u32,
    },
    /// The sender's timestamp is older than the one of the current sequence.
    #[error("packet time {time} is older than the current sequence time {current}")]
    TimeWentBack {
        /// Timestamp carried by the rejected packet, in Unix seconds.
        time: u32,
        /// Timestamp of the sequence in use, in Unix seconds.
        current: u32,
    },
}

/// Sliding window over the packet ids of one sender.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    /// Highest id accepted, 0 before the first packet.
    highest: u32,
    /// Bit `n` is set when id `highest - n` was accepted.
    seen: u64,
    /// Sender timestamp of the current sequence, for wrapped control packets.
    time: Option<u32>,
}

impl ReplayWindow {
    /// Creates a window that has seen nothing.
    pub fn new() -> ReplayWindow {
        ReplayWindow::default()
    }

    /// Highest packet id accepted so far, 0 if none.
    pub fn highest(&self) -> u32 {
        self.highest
    }

    /// Checks an authenticated packet id and records it when it is fresh.
    pub fn accept(&mut self, packet_id: u32) -> Result<(), ReplayError> {
        if packet_id == 0 {
            return Err(ReplayError::ZeroPacketId);
        }

        if packet_id > self.highest {
            let shift = packet_id - self.highest;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = packet_id;
            return Ok(());
        }

        let distance = self.highest - packet_id;
        if distance >= WINDOW {
            return Err(ReplayError::TooOld {
                packet_id,
                highest: self.highest,
            });
        }

        let bit = 1u64 << distance;
        if self.seen & bit != 0 {
            return Err(ReplayError::Replay { packet_id });
        }
        self.seen |= bit;
        Ok(())
    }

    /// Checks an authenticated `(packet id, time)` pair from a wrapped control packet.
    pub fn accept_with_time(&mut self, packet_id: u32, time: u32) -> Result<(), ReplayError> {
        match self.time {
            Some(current) if time < current => {
                return Err(ReplayError::TimeWentBack { time, current });
            }
            Some(current) if time == current => {}
            _ => {
                // A first packet or a newer timestamp starts a new sequence.
                self.time = Some(time);
                self.highest = 0;
                self.seen = 0;
            }
        }

        self.accept(packet_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_table() {
        // Each row: ids fed in order, and whether each one is accepted.
        let cases: &[(&str, &[u32], &[bool])] = &[
            ("in order", &[1, 2, 3], &[true, true, true]),
            ("duplicate", &[1, 2, 2], &[true, true, false]),
            ("late within window", &[1, 5, 3, 4, 2], &[true; 5]),
            ("late twice", &[5, 3, 3], &[true, true, false]),
            ("zero", &[0], &[false]),
            ("edge of window", &[100, 37, 36], &[true, true, false]),
            (
                "big jump clears history",
                &[1, 200, 1],
                &[true, true, false],
            ),
            ("max id", &[u32::MAX, u32::MAX - 63], &[true, true]),
        ];

        for (name, ids, expected) in cases {
            let mut window = ReplayWindow::new();
            for (id, want) in ids.iter().zip(expected.iter()) {
                let got = window.accept(*id).is_ok();
                assert_eq!(got, *want, "case {name:?}: id {id} accepted={got}");
            }
        }
    }

    #[test]
    fn too_old_names_highest() {
        let mut window = ReplayWindow::new();
        window.accept(100).unwrap();
        assert_eq!(
            window.accept(30),
            Err(ReplayError::TooOld {
                packet_id: 30,
                highest: 100
            })
        );
    }

    #[test]
    fn newer_time_restarts_sequence() {
        let mut window = ReplayWindow::new();
        window.accept_with_time(50, 1000).unwrap();
        assert!(window.accept_with_time(1, 1001).is_ok());
    }

    #[test]
    fn older_time_rejected() {
        let mut window = ReplayWindow::new();
        window.accept_with_time(1, 1000).unwrap();
        assert_eq!(
            window.accept_with_time(2, 999),
            Err(ReplayError::TimeWentBack {
                time: 999,
                current: 1000
            })
        );
    }

    #[test]
    fn same_time_replay_rejected() {
        let mut window = ReplayWindow::new();
        window.accept_with_time(7, 1000).unwrap();
        assert!(window.accept_with_time(7, 1000).is_err());
    }
}
