//! The reliability layer under the TLS session of one key state.
//!
//! OpenVPN runs TLS over unreliable datagrams, so every control message
//! (resets and `P_CONTROL_V1`) carries a message packet id that starts at 0
//! for each key state and direction. The receiver acknowledges every id
//! individually; there are no cumulative ACKs. The sender keeps each message
//! until it is acknowledged and retransmits it with exponential backoff.
//! Parameters follow OpenVPN 2.6 `reliable.c`, `reliable.h` and `ssl.h`.
//!
//! The layer is sans-IO: the caller passes the current time, calls
//! [`Reliable::poll_transmit`] for due messages, attaches ACKs from
//! [`Reliable::take_acks`], and sleeps until [`Reliable::poll_timeout`].

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::packet::{Opcode, MAX_ACKS};

/// Maximum number of consecutive message packet ids in flight, counted from the
/// lowest unacknowledged one (`TLS_RELIABLE_N_SEND_BUFFERS` in OpenVPN 2.6).
pub const SEND_WINDOW: u32 = 6;

/// Number of message packet ids from the next expected one that the receiver stores
/// (`TLS_RELIABLE_N_REC_BUFFERS` in OpenVPN 2.6).
pub const RECEIVE_WINDOW: u32 = 12;

/// Maximum number of received ids waiting to be acknowledged. Further ids are
/// not queued, and the peer's retransmission is acknowledged instead.
pub const ACK_QUEUE_LEN: usize = 8;

/// Number of already-acknowledged ids kept for acknowledging again, because an ACK may be lost.
pub const ACK_MRU_LEN: usize = 8;

/// Number of ACKs for higher message packet ids after which a message is
/// retransmitted before its timer expires (`N_ACK_RETRANSMIT` in OpenVPN 2.6).
pub const FAST_RETRANSMIT_ACKS: u32 = 3;

/// Default first retransmission timeout, OpenVPN's `--tls-timeout` default of 2 seconds.
pub const DEFAULT_RETRANSMIT_TIMEOUT: Duration = Duration::from_secs(2);

/// A sent or queued message that the peer has not acknowledged yet.
#[derive(Debug)]
struct OutgoingMessage {
    /// Message packet id assigned when the message was queued.
    message_packet_id: u32,
    /// Control opcode to send the message with.
    opcode: Opcode,
    /// TLS bytes, or nothing for a reset.
    payload: Vec<u8>,
    /// When the next transmission is due, or `None` before the first transmission.
    next_transmit: Option<Instant>,
    /// Wait after the next transmission before retransmitting; doubles per transmission.
    timeout: Duration,
    /// ACKs for higher message packet ids received since the last transmission.
    higher_acks: u32,
}

/// Reliability state of one key state: the send queue, the receive buffer and the ACKs to send.
#[derive(Debug)]
pub struct Reliable {
    /// Retransmission timeout after the first transmission of a message.
    initial_timeout: Duration,
    /// Message packet id the next queued message gets.
    next_packet_id: u32,
    /// Unacknowledged messages in ascending message packet id order.
    unacked: VecDeque<OutgoingMessage>,
    /// Lowest message packet id not yet delivered to the caller.
    next_expected: u32,
    /// Received messages waiting for delivery, keyed by message packet id.
    received: BTreeMap<u32, (Opcode, Vec<u8>)>,
    /// Received ids not acknowledged yet, oldest first.
    pending_acks: VecDeque<u32>,
    /// Ids acknowledged before, most recent first, for acknowledging again.
    acked_mru: VecDeque<u32>,
}

impl Default for Reliable {
    fn default() -> Reliable {
        Reliable::new(DEFAULT_RETRANSMIT_TIMEOUT)
    }
}

impl Reliable {
    /// Creates an empty state whose first retransmission comes `initial_timeout` after a send.
    pub fn new(initial_timeout: Duration) -> Reliable {
        Reliable {
            initial_timeout,
            next_packet_id: 0,
            unacked: VecDeque::new(),
            next_expected: 0,
            received: BTreeMap::new(),
            pending_acks: VecDeque::with_capacity(ACK_QUEUE_LEN),
            acked_mru: VecDeque::with_capacity(ACK_MRU_LEN),
        }
    }

    /// Lowest message packet id not acknowledged yet, or the next one to assign.
    fn lowest_unacked(&self) -> u32 {
        self.unacked
            .front()
            .map_or(self.next_packet_id, |message| message.message_packet_id)
    }

    /// Returns true while a newly queued message would fall inside the send window.
    pub fn can_queue(&self) -> bool {
        self.next_packet_id - self.lowest_unacked() < SEND_WINDOW
    }

    /// Queues a message and returns its message packet id, starting at 0.
    ///
    /// A message queued while [`can_queue`](Self::can_queue) is false waits
    /// until the messages before it are acknowledged and the send window reaches it.
    pub fn queue(&mut self, opcode: Opcode, payload: Vec<u8>) -> u32 {
        let message_packet_id = self.next_packet_id;
        self.next_packet_id += 1;
        self.unacked.push_back(OutgoingMessage {
            message_packet_id,
            opcode,
            payload,
            next_transmit: None,
            timeout: self.initial_timeout,
            higher_acks: 0,
        });
        message_packet_id
    }

    /// Returns the lowest-id message in the send window that is due, and schedules its
    /// retransmission.
    ///
    /// A message is due when it was never sent, when its retransmission timer
    /// expired, or after [`FAST_RETRANSMIT_ACKS`] ACKs for higher ids. Each
    /// transmission doubles the wait before the next one, so retransmissions
    /// follow 2 s, 4 s, 8 s, ... with the default timeout.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(u32, Opcode, Vec<u8>)> {
        let window_end = self.lowest_unacked().saturating_add(SEND_WINDOW);
        let message = self
            .unacked
            .iter_mut()
            .take_while(|message| message.message_packet_id < window_end)
            .find(|message| message.next_transmit.is_none_or(|due| due <= now))?;

        message.next_transmit = Some(now + message.timeout);
        message.timeout = message.timeout.saturating_mul(2);
        message.higher_acks = 0;
        Some((
            message.message_packet_id,
            message.opcode,
            message.payload.clone(),
        ))
    }

    /// Makes every sent, unacknowledged message due now with the initial timeout again.
    ///
    /// OpenVPN 2.6 does this when the peer's hard or soft reset arrives, so the
    /// whole outstanding flight goes out at once.
    pub fn reschedule_all(&mut self, now: Instant) {
        for message in &mut self.unacked {
            if message.next_transmit.is_some() {
                message.next_transmit = Some(now);
                message.timeout = self.initial_timeout;
            }
        }
    }

    /// Removes the acknowledged messages and counts ACKs for higher ids toward fast retransmission.
    ///
    /// Every ACK counts, including repeated ones, as in OpenVPN 2.6
    /// `reliable_send_purge`. ACKs for ids that are not waiting, because
    /// they were acknowledged before or never sent, are ignored.
    pub fn handle_acks(&mut self, acks: &[u32], now: Instant) {
        for &ack in acks {
            let position = self
                .unacked
                .iter()
                .position(|message| message.message_packet_id == ack);
            match position {
                Some(index) if self.unacked[index].next_transmit.is_some() => {
                    self.unacked.remove(index);
                }
                Some(_) => {
                    tracing::trace!(message_packet_id = ack, "ignoring ack for unsent message");
                }
                None => {
                    tracing::trace!(message_packet_id = ack, "ignoring ack for unknown message");
                }
            }

            for message in &mut self.unacked {
                if message.message_packet_id >= ack {
                    break;
                }
                let Some(due) = message.next_transmit else {
                    continue;
                };
                message.higher_acks += 1;
                if message.higher_acks >= FAST_RETRANSMIT_ACKS && due > now {
                    message.next_transmit = Some(now);
                }
            }
        }
    }

    /// Stores a received message and returns true if it is new.
    ///
    /// An id inside the receive window, or below it because it was already
    /// delivered, is queued for acknowledgement, duplicates included, so a
    /// lost ACK gets replaced. An id at or beyond `next_expected + 12` is
    /// dropped without ACK and the peer retransmits it later.
    pub fn receive(&mut self, message_packet_id: u32, opcode: Opcode, payload: Vec<u8>) -> bool {
        if message_packet_id < self.next_expected {
            tracing::trace!(
                message_packet_id,
                next_expected = self.next_expected,
                "acknowledging already delivered message again"
            );
            self.queue_ack(message_packet_id);
            return false;
        }

        if message_packet_id - self.next_expected >= RECEIVE_WINDOW {
            tracing::trace!(
                message_packet_id,
                next_expected = self.next_expected,
                "dropping message beyond receive window"
            );
            return false;
        }

        self.queue_ack(message_packet_id);
        if self.received.contains_key(&message_packet_id) {
            tracing::trace!(message_packet_id, "dropping duplicate message");
            return false;
        }
        self.received.insert(message_packet_id, (opcode, payload));
        true
    }

    /// Queues `message_packet_id` for acknowledgement unless it is queued already or the queue
    /// is full.
    fn queue_ack(&mut self, message_packet_id: u32) {
        if self.pending_acks.contains(&message_packet_id) {
            return;
        }
        if self.pending_acks.len() >= ACK_QUEUE_LEN {
            tracing::trace!(
                message_packet_id,
                "dropping ack because the ack queue is full"
            );
            return;
        }
        self.pending_acks.push_back(message_packet_id);
    }

    /// Removes and returns the next message in message packet id order, once it has arrived.
    pub fn pop_received(&mut self) -> Option<(Opcode, Vec<u8>)> {
        let message = self.received.remove(&self.next_expected)?;
        self.next_expected += 1;
        Some(message)
    }

    /// Returns up to `max` ids to acknowledge: fresh ones first, then the most
    /// recently acknowledged ones again.
    ///
    /// `max` is capped at [`MAX_ACKS`]. OpenVPN 2.6 piggy-backs up to 4 ACKs on
    /// a control message and sends up to 8 in a `P_ACK_V1`. The fresh ids
    /// returned move to the most-recently-used list, which keeps [`ACK_MRU_LEN`].
    pub fn take_acks(&mut self, max: usize) -> Vec<u32> {
        let max = max.min(MAX_ACKS);
        let fresh_count = self.pending_acks.len().min(max);
        let fresh: Vec<u32> = self.pending_acks.drain(..fresh_count).collect();

        for &ack in fresh.iter().rev() {
            self.acked_mru.retain(|&old| old != ack);
            self.acked_mru.push_front(ack);
        }
        self.acked_mru.truncate(ACK_MRU_LEN);

        self.acked_mru.iter().take(max).copied().collect()
    }

    /// Returns true while received ids wait for their first ACK, which then justifies
    /// a `P_ACK_V1` when no message is due.
    pub fn has_fresh_acks(&self) -> bool {
        !self.pending_acks.is_empty()
    }

    /// Returns the earliest retransmission time among sent messages.
    ///
    /// Messages in the send window that were never sent are due at once and
    /// have no timer, so callers drain [`poll_transmit`](Self::poll_transmit)
    /// before sleeping until this instant.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.unacked
            .iter()
            .filter_map(|message| message.next_transmit)
            .min()
    }

    /// Returns true when every queued message has been acknowledged.
    pub fn all_acked(&self) -> bool {
        self.unacked.is_empty()
    }

    /// Returns the number of queued messages not acknowledged yet, sent or not.
    pub fn unacked_count(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(2);

    fn at(start: Instant, millis: u64) -> Instant {
        start + Duration::from_millis(millis)
    }

    /// Returns a state with `count` queued `P_CONTROL_V1` messages whose payload is their index.
    fn with_queued(count: u8) -> Reliable {
        let mut reliable = Reliable::new(TIMEOUT);
        for index in 0..count {
            reliable.queue(Opcode::ControlV1, vec![index]);
        }
        reliable
    }

    /// Drains `poll_transmit` and returns the message packet ids sent.
    fn transmit_all(reliable: &mut Reliable, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| reliable.poll_transmit(now))
            .map(|(message_packet_id, _, _)| message_packet_id)
            .collect()
    }

    #[test]
    fn queue_assigns_ids_from_zero() {
        let mut reliable = Reliable::new(TIMEOUT);
        let first = reliable.queue(Opcode::HardResetClientV2, Vec::new());
        let second = reliable.queue(Opcode::ControlV1, vec![1]);
        assert_eq!(first, 0, "id of the reset");
        assert_eq!(second, 1, "id of the first TLS message");
    }

    #[test]
    fn poll_transmit_sends_in_id_order() {
        let start = Instant::now();
        let mut reliable = with_queued(3);
        let sent = std::iter::from_fn(|| reliable.poll_transmit(start)).collect::<Vec<_>>();
        let expected = vec![
            (0, Opcode::ControlV1, vec![0]),
            (1, Opcode::ControlV1, vec![1]),
            (2, Opcode::ControlV1, vec![2]),
        ];
        assert_eq!(sent, expected);
    }

    #[test]
    fn poll_transmit_waits_for_timeout() {
        let start = Instant::now();
        let mut reliable = with_queued(1);
        reliable.poll_transmit(start).unwrap();
        assert_eq!(reliable.poll_transmit(at(start, 1999)), None, "before 2 s");
        assert_eq!(reliable.poll_timeout(), Some(at(start, 2000)), "timer");
    }

    #[test]
    fn retransmit_timeout_doubles() {
        let start = Instant::now();
        let mut reliable = with_queued(1);
        let mut now = start;
        let mut send_times = Vec::new();
        for _ in 0..5 {
            reliable.poll_transmit(now).unwrap();
            send_times.push(now.duration_since(start).as_secs());
            now = reliable.poll_timeout().unwrap();
        }
        assert_eq!(
            send_times,
            [0, 2, 6, 14, 30],
            "seconds of each transmission"
        );
    }

    #[test]
    fn lost_message_retransmitted() {
        let start = Instant::now();
        let mut reliable = with_queued(2);
        transmit_all(&mut reliable, start);
        reliable.handle_acks(&[1], at(start, 100));

        let resent = transmit_all(&mut reliable, at(start, 2000));
        assert_eq!(resent, [0], "retransmitted ids");
        assert_eq!(reliable.unacked_count(), 1, "unacked messages");
    }

    #[test]
    fn ack_removes_message() {
        let start = Instant::now();
        let mut reliable = with_queued(2);
        transmit_all(&mut reliable, start);
        reliable.handle_acks(&[0, 1], start);
        assert!(reliable.all_acked(), "messages left after ACK");
        assert_eq!(reliable.poll_timeout(), None, "timer left after ACK");
    }

    #[test]
    fn ack_of_unknown_id_ignored() {
        let start = Instant::now();
        let mut reliable = with_queued(2);
        transmit_all(&mut reliable, start);
        reliable.handle_acks(&[7, 1000], start);
        assert_eq!(reliable.unacked_count(), 2, "unacked messages");
    }

    #[test]
    fn ack_of_unsent_id_ignored() {
        let start = Instant::now();
        let mut reliable = with_queued(8);
        transmit_all(&mut reliable, start);
        // Id 6 is outside the send window, so it was never sent.
        reliable.handle_acks(&[6], start);
        assert_eq!(reliable.unacked_count(), 8, "unacked messages");
    }

    #[test]
    fn send_window_table() {
        // Each row: messages queued, whether one more fits, and ids sent at once.
        let cases: &[(u8, bool, &[u32])] = &[
            (0, true, &[]),
            (5, true, &[0, 1, 2, 3, 4]),
            (6, false, &[0, 1, 2, 3, 4, 5]),
            (8, false, &[0, 1, 2, 3, 4, 5]),
        ];
        for (count, can_queue, sent) in cases {
            let mut reliable = with_queued(*count);
            assert_eq!(reliable.can_queue(), *can_queue, "can_queue after {count}");
            let got = transmit_all(&mut reliable, Instant::now());
            assert_eq!(got, *sent, "ids sent after queueing {count}");
        }
    }

    #[test]
    fn window_opens_after_lowest_ack() {
        let start = Instant::now();
        let mut reliable = with_queued(7);
        transmit_all(&mut reliable, start);

        // Two ACKs, one short of a fast retransmission of id 0.
        reliable.handle_acks(&[1, 2], start);
        assert!(!reliable.can_queue(), "window open while id 0 is unacked");
        assert_eq!(
            transmit_all(&mut reliable, start),
            [],
            "sent while id 0 is unacked"
        );

        reliable.handle_acks(&[0], start);
        assert!(reliable.can_queue(), "window closed after id 0 was acked");
        assert_eq!(
            transmit_all(&mut reliable, start),
            [6],
            "sent after id 0 was acked"
        );
    }

    #[test]
    fn fast_retransmit_after_three_acks() {
        let start = Instant::now();
        let mut reliable = with_queued(4);
        transmit_all(&mut reliable, start);
        let now = at(start, 300);

        reliable.handle_acks(&[1, 2], now);
        assert_eq!(reliable.poll_transmit(now), None, "resent after two ACKs");

        reliable.handle_acks(&[3], now);
        assert_eq!(reliable.poll_timeout(), Some(now), "timer after three ACKs");
        let resent = transmit_all(&mut reliable, now);
        assert_eq!(resent, [0], "resent after three ACKs");
    }

    #[test]
    fn repeated_acks_count_for_fast_retransmit() {
        let start = Instant::now();
        let mut reliable = with_queued(2);
        transmit_all(&mut reliable, start);
        let now = at(start, 300);
        reliable.handle_acks(&[1], now);
        reliable.handle_acks(&[1], now);
        reliable.handle_acks(&[1], now);
        assert_eq!(
            transmit_all(&mut reliable, now),
            [0],
            "resent after repeated ACKs"
        );
    }

    #[test]
    fn reschedule_all_sends_burst() {
        let start = Instant::now();
        let mut reliable = with_queued(3);
        transmit_all(&mut reliable, start);
        transmit_all(&mut reliable, at(start, 2000));

        let now = at(start, 2500);
        reliable.reschedule_all(now);
        assert_eq!(transmit_all(&mut reliable, now), [0, 1, 2], "burst");
        assert_eq!(
            reliable.poll_timeout(),
            Some(now + TIMEOUT),
            "timer restarts at the initial timeout"
        );
    }

    #[test]
    fn receive_reordered_delivers_in_order() {
        let mut reliable = Reliable::new(TIMEOUT);
        for id in [2, 0, 1] {
            assert!(
                reliable.receive(id, Opcode::ControlV1, vec![id as u8]),
                "id {id} new"
            );
        }
        let delivered: Vec<_> = std::iter::from_fn(|| reliable.pop_received()).collect();
        let expected = vec![
            (Opcode::ControlV1, vec![0]),
            (Opcode::ControlV1, vec![1]),
            (Opcode::ControlV1, vec![2]),
        ];
        assert_eq!(delivered, expected);
    }

    #[test]
    fn receive_gap_holds_delivery() {
        let mut reliable = Reliable::new(TIMEOUT);
        reliable.receive(1, Opcode::ControlV1, vec![1]);
        assert_eq!(reliable.pop_received(), None, "delivered before id 0");
    }

    #[test]
    fn receive_duplicate_acked_again() {
        let mut reliable = Reliable::new(TIMEOUT);
        reliable.receive(0, Opcode::HardResetServerV2, Vec::new());
        assert_eq!(reliable.take_acks(8), [0], "first ACK");

        let stored = reliable.receive(0, Opcode::HardResetServerV2, Vec::new());
        assert!(!stored, "duplicate stored as new");
        assert!(reliable.has_fresh_acks(), "duplicate not acknowledged");
    }

    #[test]
    fn receive_delivered_acked_again() {
        let mut reliable = Reliable::new(TIMEOUT);
        reliable.receive(0, Opcode::HardResetServerV2, Vec::new());
        reliable.pop_received().unwrap();
        reliable.take_acks(8);

        let stored = reliable.receive(0, Opcode::HardResetServerV2, Vec::new());
        assert!(!stored, "delivered id stored again");
        assert_eq!(reliable.take_acks(8), [0], "ACK for the delivered id");
    }

    #[test]
    fn receive_beyond_window_dropped() {
        let mut reliable = Reliable::new(TIMEOUT);
        let stored = reliable.receive(12, Opcode::ControlV1, vec![12]);
        assert!(!stored, "id 12 stored with next expected 0");
        assert!(!reliable.has_fresh_acks(), "id 12 acknowledged");
    }

    #[test]
    fn receive_window_edge_accepted() {
        let mut reliable = Reliable::new(TIMEOUT);
        assert!(
            reliable.receive(11, Opcode::ControlV1, vec![11]),
            "id 11 stored"
        );
        assert_eq!(reliable.take_acks(8), [11], "ACK for id 11");
    }

    #[test]
    fn ack_queue_caps_at_eight() {
        let mut reliable = Reliable::new(TIMEOUT);
        for id in 0..10 {
            reliable.receive(id, Opcode::ControlV1, Vec::new());
        }
        assert_eq!(
            reliable.take_acks(8),
            [0, 1, 2, 3, 4, 5, 6, 7],
            "queued ACKs"
        );
        assert!(!reliable.has_fresh_acks(), "ACKs queued beyond eight");
    }

    #[test]
    fn take_acks_respects_max() {
        let mut reliable = Reliable::new(TIMEOUT);
        for id in 0..6 {
            reliable.receive(id, Opcode::ControlV1, Vec::new());
        }
        assert_eq!(
            reliable.take_acks(4),
            [0, 1, 2, 3],
            "first piggy-backed ACKs"
        );
        assert_eq!(reliable.take_acks(4), [4, 5, 0, 1], "fresh ACKs then MRU");
    }

    #[test]
    fn take_acks_fills_from_mru() {
        let mut reliable = Reliable::new(TIMEOUT);
        reliable.receive(0, Opcode::ControlV1, Vec::new());
        reliable.receive(1, Opcode::ControlV1, Vec::new());
        reliable.take_acks(4);
        reliable.receive(2, Opcode::ControlV1, Vec::new());

        assert_eq!(reliable.take_acks(4), [2, 0, 1], "fresh ACK then MRU");
        assert!(!reliable.has_fresh_acks(), "fresh ACKs left");
        assert_eq!(reliable.take_acks(4), [2, 0, 1], "MRU only");
    }

    #[test]
    fn ack_mru_keeps_eight() {
        let mut reliable = Reliable::new(TIMEOUT);
        for id in 0..10 {
            reliable.receive(id, Opcode::ControlV1, Vec::new());
            reliable.take_acks(1);
        }
        assert_eq!(
            reliable.take_acks(100),
            [9, 8, 7, 6, 5, 4, 3, 2],
            "MRU after ten ACKs"
        );
    }

    /// Deterministic xorshift generator, so the lossy exchange is reproducible.
    struct XorShift(u64);

    impl XorShift {
        fn next_percent(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % 100
        }
    }

    /// A packet between the two simulated peers.
    #[derive(Clone, Debug)]
    struct SimPacket {
        acks: Vec<u32>,
        message: Option<(u32, Opcode, Vec<u8>)>,
    }

    /// One simulated peer: its reliability state, messages still to queue, and what arrived.
    struct SimPeer {
        reliable: Reliable,
        to_send: VecDeque<Vec<u8>>,
        delivered: Vec<Vec<u8>>,
    }

    impl SimPeer {
        fn new(messages: u8, tag: u8) -> SimPeer {
            SimPeer {
                reliable: Reliable::new(Duration::from_millis(200)),
                to_send: (0..messages).map(|index| vec![tag, index]).collect(),
                delivered: Vec::new(),
            }
        }

        fn output(&mut self, now: Instant) -> Vec<SimPacket> {
            while self.reliable.can_queue() {
                let Some(payload) = self.to_send.pop_front() else {
                    break;
                };
                self.reliable.queue(Opcode::ControlV1, payload);
            }

            let mut packets = Vec::new();
            while let Some(message) = self.reliable.poll_transmit(now) {
                packets.push(SimPacket {
                    acks: self.reliable.take_acks(4),
                    message: Some(message),
                });
            }
            if self.reliable.has_fresh_acks() {
                packets.push(SimPacket {
                    acks: self.reliable.take_acks(8),
                    message: None,
                });
            }
            packets
        }

        fn input(&mut self, packet: SimPacket, now: Instant) {
            self.reliable.handle_acks(&packet.acks, now);
            if let Some((message_packet_id, opcode, payload)) = packet.message {
                self.reliable.receive(message_packet_id, opcode, payload);
            }
            while let Some((_, payload)) = self.reliable.pop_received() {
                self.delivered.push(payload);
            }
        }

        fn done(&self) -> bool {
            self.to_send.is_empty() && self.reliable.all_acked()
        }
    }

    /// Sends `packets` through a link that loses 30 %, duplicates 10 % and reverses the order.
    fn lossy_link(packets: Vec<SimPacket>, random: &mut XorShift) -> Vec<SimPacket> {
        let mut arriving = Vec::new();
        for packet in packets {
            let roll = random.next_percent();
            if roll < 30 {
                continue;
            }
            if roll >= 90 {
                arriving.push(packet.clone());
            }
            arriving.push(packet);
        }
        arriving.reverse();
        arriving
    }

    #[test]
    fn lossy_exchange_completes() {
        const MESSAGES: u8 = 40;
        let start = Instant::now();
        let mut random = XorShift(0x2545_f491_4f6c_dd1d);
        let mut client = SimPeer::new(MESSAGES, b'c');
        let mut server = SimPeer::new(MESSAGES, b's');

        // 100 ms per step; 3000 steps are 5 simulated minutes.
        let mut steps = 0;
        while !(client.done() && server.done()) && steps < 3000 {
            let now = at(start, steps * 100);
            let to_server = lossy_link(client.output(now), &mut random);
            let to_client = lossy_link(server.output(now), &mut random);
            for packet in to_server {
                server.input(packet, now);
            }
            for packet in to_client {
                client.input(packet, now);
            }
            steps += 1;
        }

        let expected_from_client: Vec<Vec<u8>> =
            (0..MESSAGES).map(|index| vec![b'c', index]).collect();
        let expected_from_server: Vec<Vec<u8>> =
            (0..MESSAGES).map(|index| vec![b's', index]).collect();
        assert!(client.done(), "client not done after {steps} steps");
        assert!(server.done(), "server not done after {steps} steps");
        assert_eq!(
            server.delivered, expected_from_client,
            "delivered to server"
        );
        assert_eq!(
            client.delivered, expected_from_server,
            "delivered to client"
        );
    }
}
