//! The client side of one OpenVPN connection, as a sans-IO state machine.
//!
//! A [`Session`] covers one connection to one server: hard reset, TLS and key
//! exchange on `key_id` 0, `PUSH_REQUEST` until `PUSH_REPLY`, then the data
//! channel and any number of renegotiations. A reconnect is a new `Session`;
//! the driver carries what survives it (an auth-token) in the next
//! [`ClientConfig`].
//!
//! The driver feeds received packets to [`Session::handle_packet`], tunnel
//! packets to [`Session::encrypt_tunnel_packet`], calls
//! [`Session::handle_timeout`] at [`Session::poll_timeout`], sends whatever
//! [`Session::poll_transmit`] returns and acts on [`Session::poll_event`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::challenge::{sanitize_prompt, PendingAuthInfo};
use crate::cipher::DataCipher;
use crate::compression::Compression;
use crate::config::Credentials;
use crate::config::{ClientConfig, Transport};
use crate::control_message::{self, ServerMessage};
use crate::data_channel::DataKey;
use crate::event::{CloseReason, Event};
use crate::key_material::{Key2, EKM_LABEL};
use crate::key_method;
use crate::key_state::{KeyState, KeyStateError};
use crate::occ;
use crate::packet::{self, ControlPacket, KeyId, Opcode, SessionId};
use crate::peer_info;
use crate::push_reply::{PushReplyBuilder, PushedOptions};
use crate::tls_wrap::TlsWrap;

/// Interval between `PUSH_REQUEST`s while waiting for `PUSH_REPLY`, as OpenVPN 2.6 does.
const PUSH_REQUEST_INTERVAL: Duration = Duration::from_secs(5);

/// Interval between `PUSH_REQUEST`s while authentication is pending. They keep the session
/// alive, and an OpenVPN 2.6 server answers one with `PUSH_REPLY` only once the pending
/// authentication finished, so a short interval brings the tunnel up soon after an approval.
const PUSH_REQUEST_INTERVAL_PENDING: Duration = Duration::from_secs(2);

/// ACKs that ride on a packet carrying a message (`CONTROL_SEND_ACK_MAX` in OpenVPN 2.6).
const ACKS_PER_MESSAGE: usize = 4;

/// ACKs in a dedicated `P_ACK_V1` packet.
const ACKS_PER_ACK_PACKET: usize = 8;

/// Largest AUTH_PENDING timeout honoured, in seconds, as the OpenVPN 2.6 server's cap.
const AUTH_PENDING_TIMEOUT_MAX: u64 = 1800;

/// State of the session. The per-key details live in [`KeyState`].
#[derive(Debug)]
enum State {
    /// Key 0 is being negotiated: resets, TLS, key method 2.
    KeyExchange,
    /// Key 0 is up; `PUSH_REQUEST` is sent until `PUSH_REPLY` arrives.
    Pulling {
        /// When the next `PUSH_REQUEST` goes out.
        next_request: Instant,
        /// When the session gives up waiting.
        deadline: Instant,
        /// The server sent `AUTH_PENDING`.
        auth_pending: bool,
    },
    /// The data channel runs.
    Connected,
    /// The session ended; the reason went out as [`Event::Closed`].
    Closed,
}

/// One connection to an OpenVPN server.
pub struct Session {
    /// Fixed settings of this connection attempt.
    config: ClientConfig,
    /// Session state; the whole client lifecycle at a glance.
    state: State,
    /// Our session id, constant across renegotiations.
    session_id: SessionId,
    /// The server's session id, learnt from its hard reset.
    server_session_id: Option<SessionId>,
    /// Control channel wrapping with its replay counters.
    wrap: TlsWrap,
    /// Unix time sent in wrapped control packets.
    unix_time: u32,
    /// Keys being negotiated or in use, oldest first; at most three.
    keys: Vec<KeyState>,
    /// `key_id` that encrypts outgoing data.
    tx_key: Option<KeyId>,
    /// `key_id` of a newer key that takes over sending once the server uses it.
    pending_tx_key: Option<(KeyId, Instant)>,
    /// Accumulates `PUSH_REPLY` messages split by `push-continuation`.
    push_reply: PushReplyBuilder,
    /// Options from the first complete `PUSH_REPLY`.
    pushed: Option<PushedOptions>,
    /// Data channel cipher chosen by the server.
    cipher: Option<DataCipher>,
    /// Derive data keys with TLS-EKM instead of the OpenVPN PRF.
    use_ekm: bool,
    /// Send `EXIT` when leaving (`protocol-flags cc-exit`).
    cc_exit: bool,
    /// `peer-id` for `P_DATA_V2`; `None` sends `P_DATA_V1`.
    peer_id: Option<u32>,
    /// Compression framing in effect.
    compression: Compression,
    /// `ping` interval in effect.
    ping: Option<Duration>,
    /// `ping-restart` interval in effect.
    ping_restart: Option<Duration>,
    /// Last time anything was sent to the server.
    last_sent: Instant,
    /// Last time an authenticated packet arrived from the server.
    last_received: Instant,
    /// Wire packets ready to send (control packets are assembled in `poll_transmit`).
    outgoing: VecDeque<Vec<u8>>,
    /// Events not yet taken by the driver.
    events: VecDeque<Event>,
    /// Scratch buffer for building data packets, reused to avoid allocation.
    scratch: Vec<u8>,
    /// OCC options string sent in every key method 2 message.
    options_string: String,
    /// Peer info block sent in every key method 2 message.
    peer_info: String,
}

impl Session {
    /// Starts a connection: queues the hard reset of `key_id` 0.
    ///
    /// `unix_time` is the current time in Unix seconds, used in replay ids of wrapped packets.
    pub fn new(config: ClientConfig, now: Instant, unix_time: u32) -> Result<Session, CloseReason> {
        let key = KeyState::new(
            KeyId(0),
            Opcode::HardResetClientV2,
            &config.tls,
            config.tls_timeout,
            now,
        )
        .map_err(|error| CloseReason::Tls(error.to_string()))?;

        let options_string = peer_info::options_string(&peer_info::OptionsStringSettings {
            transport: config.transport,
            tun_mtu: config.tun_mtu,
            cipher: config.data_ciphers.first().copied(),
            tls_auth: config.control_wrap.is_tls_auth(),
            key_direction: config.control_wrap.key_direction(),
        });
        let peer_info = peer_info::peer_info(&peer_info::PeerInfoSettings {
            data_ciphers: &config.data_ciphers,
            tun_max_mtu: peer_info::DEFAULT_TUN_MAX_MTU,
            iv_proto: peer_info::IvProto::DEFAULT,
            sso_methods: &config.sso_methods,
            extra: &config.peer_info_extra,
        })
        .map_err(|error| CloseReason::Protocol(error.to_string()))?;

        let session_id = SessionId::random().map_err(|error| {
            CloseReason::Protocol(format!("no randomness for the session id: {error}"))
        })?;
        tracing::debug!(session_id = %hex(&session_id.0), "starting key exchange");

        Ok(Session {
            wrap: config.control_wrap.new_wrap(),
            compression: config.compression,
            ping: config.ping,
            ping_restart: config.ping_restart,
            config,
            state: State::KeyExchange,
            session_id,
            server_session_id: None,
            unix_time,
            keys: vec![key],
            tx_key: None,
            pending_tx_key: None,
            push_reply: PushReplyBuilder::new(),
            pushed: None,
            cipher: None,
            use_ekm: false,
            cc_exit: false,
            peer_id: None,
            last_sent: now,
            last_received: now,
            outgoing: VecDeque::new(),
            events: VecDeque::new(),
            scratch: Vec::with_capacity(2048),
            options_string,
            peer_info,
        })
    }

    /// True once the first `PUSH_REPLY` arrived and data can flow.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected)
    }

    /// True once the session ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Options pushed by the server, once connected.
    pub fn pushed_options(&self) -> Option<&PushedOptions> {
        self.pushed.as_ref()
    }

    /// Returns the data channel cipher in use, once connected.
    pub fn cipher(&self) -> Option<DataCipher> {
        self.cipher
    }

    /// Takes the next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Sends a text control message, such as `CR_RESPONSE`, on the newest active key.
    pub fn send_control_message(&mut self, message: &[u8]) {
        let Some(key) = self.keys.iter_mut().rev().find(|key| key.is_active()) else {
            tracing::warn!("no active key to send a control message on; dropping it");
            return;
        };
        if let Err(error) = key.send_text(message) {
            tracing::warn!(%error, "could not send a control message");
        }
    }

    /// Sends `CR_RESPONSE` with `answer` on key `key_id`, where the server's `CR_TEXT` arrived.
    ///
    /// Returns false when that key is gone, so the answer was not sent.
    pub fn send_cr_response(&mut self, key_id: u8, answer: &str) -> bool {
        let Some(key) = self
            .keys
            .iter_mut()
            .find(|key| key.key_id.0 == key_id && key.is_active())
        else {
            tracing::warn!(
                key_id,
                "the key that carried the challenge is gone; not sending CR_RESPONSE"
            );
            return false;
        };
        match key.send_text(&control_message::cr_response(answer)) {
            Ok(()) => {
                tracing::info!(key_id, "sent CR_RESPONSE");
                true
            }
            Err(error) => {
                tracing::warn!(key_id, %error, "could not send CR_RESPONSE");
                false
            }
        }
    }

    /// Handles one packet from the server.
    ///
    /// Returns the decrypted IP packet when `packet` carried tunnel data; the slice
    /// borrows from `packet`, which is decrypted in place.
    pub fn handle_packet<'a>(&mut self, now: Instant, packet: &'a mut [u8]) -> Option<&'a [u8]> {
        if self.is_closed() || packet.is_empty() {
            return None;
        }

        let (opcode_raw, key_id) = packet::split_first_byte(packet[0]);
        match Opcode::from_u8(opcode_raw) {
            Some(Opcode::DataV1) | Some(Opcode::DataV2) => self.handle_data(now, key_id, packet),
            Some(_) => {
                self.handle_control(now, packet);
                None
            }
            None => {
                tracing::debug!(
                    opcode = opcode_raw,
                    len = packet.len(),
                    "dropping packet with unknown opcode"
                );
                None
            }
        }
    }

    /// Encrypts one IP packet from the tunnel into `out`, ready to send.
    ///
    /// Returns false, leaving `out` empty, when no data channel key exists yet.
    pub fn encrypt_tunnel_packet(
        &mut self,
        now: Instant,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let Some(tx) = self.tx_key else {
            return false;
        };
        let peer_id = self.peer_id;
        let compression = self.compression;
        let Some(key) = self.data_key_mut(tx) else {
            return false;
        };
        match key.encrypt(peer_id, compression, payload, out) {
            Ok(()) => {
                self.last_sent = now;
                true
            }
            Err(error) => {
                tracing::warn!(key_id = tx.0, %error, "could not encrypt a tunnel packet");
                out.clear();
                false
            }
        }
    }

    /// Returns the next packet to send to the server, if any.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(packet) = self.outgoing.pop_front() {
            self.last_sent = now;
            return Some(packet);
        }

        let max_payload = KeyState::max_payload(self.wrap.overhead());
        for index in 0..self.keys.len() {
            self.keys[index].flush_tls(max_payload);
            if let Some(packet) = self.next_control_packet(index, now) {
                let wire = self.wrap.encode(&packet, self.unix_time);
                self.last_sent = now;
                return Some(wire);
            }
        }
        None
    }

    /// Returns when [`Session::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }

        let mut next = self.handshake_deadline();
        let mut consider = |instant: Option<Instant>| {
            if let Some(instant) = instant {
                next = Some(next.map_or(instant, |current| current.min(instant)));
            }
        };

        for key in &self.keys {
            consider(key.reliable.poll_timeout());
            if !key.is_active() {
                consider(Some(key.started + self.config.hand_window));
            }
        }
        if let State::Pulling {
            next_request,
            deadline,
            ..
        } = &self.state
        {
            consider(Some(*next_request));
            consider(Some(*deadline));
            consider(Some(self.last_received + self.config.hand_window));
        }
        if self.is_connected() {
            consider(self.ping.map(|ping| self.last_sent + ping));
            consider(
                self.ping_restart
                    .map(|restart| self.last_received + restart),
            );
            consider(self.renegotiation_due());
            consider(self.pending_tx_key.map(|(_, at)| at));
        }
        next
    }

    /// Runs the timers: retransmissions, `PUSH_REQUEST`, pings, deadlines and renegotiation.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }

        if let Some(deadline) = self.handshake_deadline() {
            if now >= deadline {
                self.close(CloseReason::HandshakeTimeout);
                return;
            }
        }

        self.drop_failed_renegotiations(now);

        if let State::Pulling {
            next_request,
            deadline,
            auth_pending,
        } = &mut self.state
        {
            if now >= *deadline {
                tracing::warn!("no PUSH_REPLY within the deadline");
                self.close(CloseReason::HandshakeTimeout);
                return;
            }
            // The server acknowledges every PUSH_REQUEST, also while authentication is
            // pending, so a silent server is gone (restarted, or the path broke).
            if now >= self.last_received + self.config.hand_window {
                tracing::warn!(
                    "the server stopped answering while the client waited for PUSH_REPLY"
                );
                self.close(CloseReason::ServerSilent);
                return;
            }
            if now >= *next_request {
                *next_request = now
                    + if *auth_pending {
                        PUSH_REQUEST_INTERVAL_PENDING
                    } else {
                        PUSH_REQUEST_INTERVAL
                    };
                tracing::debug!("sending PUSH_REQUEST");
                self.keys[0]
                    .send_text(control_message::push_request())
                    .unwrap_or_else(|error| tracing::warn!(%error, "could not send PUSH_REQUEST"));
            }
        }

        if self.is_connected() {
            if let Some(restart) = self.ping_restart {
                if now >= self.last_received + restart {
                    tracing::info!(seconds = restart.as_secs(), "ping-restart: server silent");
                    self.close(CloseReason::PingRestart);
                    return;
                }
            }
            if let Some((key_id, at)) = self.pending_tx_key {
                if now >= at {
                    self.switch_tx_key(key_id);
                }
            }
            if let Some(ping) = self.ping {
                if now >= self.last_sent + ping {
                    self.queue_data_payload(now, &occ::PING_PAYLOAD);
                }
            }
            if self.renegotiation_due().is_some_and(|due| now >= due) {
                self.start_renegotiation(now);
            }
        }
    }

    /// Leaves the session: notifies the server when the options ask for it, then closes.
    pub fn disconnect(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        if self.is_connected() {
            if self.cc_exit {
                self.send_control_message(control_message::exit());
            } else if self.config.explicit_exit_notify && self.config.transport == Transport::Udp {
                // The OCC exit rides on the data channel and is not acknowledged, so send
                // it a few times as OpenVPN 2.6 does over its exit period.
                for _ in 0..3 {
                    self.queue_data_payload(now, &occ::exit_payload());
                }
            }
            self.flush_control(now);
        }
        self.close(CloseReason::Local);
    }

    fn flush_control(&mut self, now: Instant) {
        let max_payload = KeyState::max_payload(self.wrap.overhead());
        for index in 0..self.keys.len() {
            self.keys[index].flush_tls(max_payload);
            while let Some(packet) = self.next_control_packet(index, now) {
                let wire = self.wrap.encode(&packet, self.unix_time);
                self.outgoing.push_back(wire);
            }
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        tracing::info!(%reason, "session closed");
        self.state = State::Closed;
        self.events.push_back(Event::Closed(reason));
    }

    fn handshake_deadline(&self) -> Option<Instant> {
        match self.state {
            State::KeyExchange => Some(self.keys[0].started + self.config.hand_window),
            _ => None,
        }
    }

    fn renegotiation_due(&self) -> Option<Instant> {
        let newest = self.keys.last()?;
        if !newest.is_active() || newest.data_key.is_none() {
            return None;
        }
        let wrapping = newest
            .data_key
            .as_ref()
            .is_some_and(|key| key.wants_renegotiation());
        if wrapping {
            return newest.active_since;
        }
        let reneg = self.config.reneg_sec?;
        newest.active_since.map(|since| since + reneg)
    }

    fn data_key_mut(&mut self, key_id: KeyId) -> Option<&mut DataKey> {
        self.keys
            .iter_mut()
            .find(|key| key.key_id == key_id)
            .and_then(|key| key.data_key.as_mut())
    }

    fn queue_data_payload(&mut self, now: Instant, payload: &[u8]) {
        let mut scratch = std::mem::take(&mut self.scratch);
        if self.encrypt_tunnel_packet(now, payload, &mut scratch) {
            self.outgoing.push_back(scratch.clone());
        }
        self.scratch = scratch;
    }

    fn handle_data<'a>(
        &mut self,
        now: Instant,
        key_id: KeyId,
        packet: &'a mut [u8],
    ) -> Option<&'a [u8]> {
        let key = self.keys.iter_mut().find(|key| key.key_id == key_id)?;
        let Some(data_key) = key.data_key.as_mut() else {
            tracing::trace!(key_id = key_id.0, "dropping data packet: no data key yet");
            return None;
        };
        let plaintext = match data_key.decrypt(packet) {
            Ok(plaintext) => plaintext,
            Err(error) => {
                tracing::debug!(key_id = key_id.0, %error, "dropping data packet");
                return None;
            }
        };
        self.last_received = now;

        if self
            .pending_tx_key
            .is_some_and(|(pending, _)| pending == key_id)
        {
            self.switch_tx_key(key_id);
        }

        if occ::is_ping(plaintext) {
            return None;
        }
        if let Some(message) = occ::OccMessage::parse(plaintext) {
            if message == occ::OccMessage::Exit {
                tracing::info!("server sent OCC exit");
                self.close(CloseReason::ServerExit);
            }
            return None;
        }
        Some(plaintext)
    }

    fn handle_control(&mut self, now: Instant, wire: &[u8]) {
        let packet = match self.wrap.decode(wire) {
            Ok(packet) => packet,
            Err(error) => {
                tracing::debug!(%error, len = wire.len(), "dropping control packet");
                return;
            }
        };

        if !self.accept_session_ids(&packet) {
            return;
        }
        self.last_received = now;

        let index = match self.key_index_for(&packet, now) {
            Some(index) => index,
            None => return,
        };

        let key = &mut self.keys[index];
        key.reliable.handle_acks(&packet.acks, now);
        if packet.opcode != Opcode::AckV1 {
            if let Some(message_packet_id) = packet.message_packet_id {
                if matches!(
                    packet.opcode,
                    Opcode::HardResetServerV2 | Opcode::SoftResetV1
                ) {
                    // A peer reset means the peer (re)started this key: resend ours at once.
                    key.reliable.reschedule_all(now);
                }
                key.reliable
                    .receive(message_packet_id, packet.opcode, packet.payload);
            }
        }

        if let Err(error) = self.process_key(index, now) {
            self.fail_key(index, error);
        }
    }

    /// Checks the session ids of a control packet; learns the server's from its hard reset.
    fn accept_session_ids(&mut self, packet: &ControlPacket) -> bool {
        if let Some(remote) = packet.remote_session_id {
            if remote != self.session_id {
                tracing::debug!("dropping control packet acknowledging another session");
                return false;
            }
        }

        match self.server_session_id {
            Some(server) if server == packet.session_id => true,
            Some(_) => {
                tracing::debug!("dropping control packet from another server session");
                false
            }
            None if packet.opcode == Opcode::HardResetServerV2 => {
                self.server_session_id = Some(packet.session_id);
                tracing::debug!(server_session_id = %hex(&packet.session_id.0), "server reached");
                self.events.push_back(Event::ServerReached);
                true
            }
            None => false,
        }
    }

    /// Finds the key a control packet belongs to, creating it for a server's soft reset.
    fn key_index_for(&mut self, packet: &ControlPacket, now: Instant) -> Option<usize> {
        if let Some(index) = self.keys.iter().position(|key| key.key_id == packet.key_id) {
            return Some(index);
        }

        if packet.opcode != Opcode::SoftResetV1 || !self.is_connected() {
            tracing::debug!(key_id = packet.key_id.0, opcode = ?packet.opcode, "dropping control packet for unknown key");
            return None;
        }

        tracing::info!(key_id = packet.key_id.0, "server started a renegotiation");
        self.push_key(packet.key_id, now)
    }

    fn start_renegotiation(&mut self, now: Instant) {
        let Some(newest) = self.keys.last() else {
            return;
        };
        let key_id = newest.key_id.next();
        tracing::info!(key_id = key_id.0, "starting a renegotiation");
        self.push_key(key_id, now);
    }

    fn push_key(&mut self, key_id: KeyId, now: Instant) -> Option<usize> {
        let key = match KeyState::new(
            key_id,
            Opcode::SoftResetV1,
            &self.config.tls,
            self.config.tls_timeout,
            now,
        ) {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(key_id = key_id.0, %error, "could not start a renegotiation");
                return None;
            }
        };

        // Keep the sending key and at most one older key for late packets.
        while self.keys.len() >= 3 {
            let oldest = self.keys.remove(0);
            tracing::debug!(key_id = oldest.key_id.0, "retiring old key");
        }
        self.keys.push(key);
        Some(self.keys.len() - 1)
    }

    /// Runs the key exchange of one key as far as the received messages allow.
    fn process_key(&mut self, index: usize, now: Instant) -> Result<(), KeyStateError> {
        let first = index == 0 && self.keys[0].key_id == KeyId(0) && !self.is_connected();

        let was_handshaking = self.keys[index].tls.is_handshaking();
        while let Some((opcode, payload)) = self.keys[index].reliable.pop_received() {
            self.keys[index].handle_message(opcode, &payload)?;
        }

        let was_active = self.keys[index].is_active();
        let options = &self.options_string;
        let peer_info = &self.peer_info;
        let (username, password) = match &self.config.credentials {
            Some(credentials) => (
                Some(credentials.username.as_str()),
                Some(credentials.password.as_str()),
            ),
            None => (None, None),
        };
        let messages = self.keys[index].advance(now, |source| {
            key_method::encode_client_key_method_2(
                source,
                options,
                username,
                password,
                peer_info,
                key_method::USER_PASS_MAX_LEN_PKCS11,
            )
        })?;

        if was_handshaking && !self.keys[index].tls.is_handshaking() {
            let key_id = self.keys[index].key_id.0;
            tracing::info!(key_id, version = ?self.keys[index].tls.protocol_version(), "TLS handshake complete");
            self.events.push_back(Event::TlsEstablished { key_id });
        }

        if !was_active && self.keys[index].is_active() {
            if first {
                self.enter_pulling(now);
            } else if self.is_connected() {
                self.install_data_key(index)?;
            }
        }

        for message in messages {
            self.handle_server_message(index, now, &message);
        }
        Ok(())
    }

    fn enter_pulling(&mut self, now: Instant) {
        tracing::info!("key exchange complete; requesting configuration");
        self.state = State::Pulling {
            next_request: now,
            deadline: now + self.config.hand_window,
            auth_pending: false,
        };
        self.events.push_back(Event::PushRequested);
    }

    fn fail_key(&mut self, index: usize, error: KeyStateError) {
        let key_id = self.keys[index].key_id;
        if key_id.0 == 0 && !self.is_connected() {
            let reason = match error {
                KeyStateError::Tls(error) => CloseReason::Tls(describe_tls_error(&error)),
                other => CloseReason::Protocol(other.to_string()),
            };
            self.close(reason);
        } else {
            tracing::warn!(key_id = key_id.0, %error, "renegotiation failed; keeping the old key");
            self.keys.remove(index);
        }
    }

    fn drop_failed_renegotiations(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        let hand_window = self.config.hand_window;
        self.keys.retain(|key| {
            let expired = !key.is_active() && now >= key.started + hand_window;
            if expired {
                tracing::warn!(
                    key_id = key.key_id.0,
                    "renegotiation did not finish within hand-window; dropping it"
                );
            }
            !expired
        });
    }

    fn handle_server_message(&mut self, index: usize, now: Instant, text: &str) {
        let message = match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "ignoring malformed control message");
                return;
            }
        };

        match message {
            ServerMessage::PushReply(body) => self.handle_push_reply(index, now, &body),
            ServerMessage::AuthFailed(failed) => {
                tracing::warn!(reason = %failed, "server sent AUTH_FAILED");
                self.close(CloseReason::AuthFailed(failed));
            }
            ServerMessage::AuthPending { timeout, .. } => {
                let timeout = timeout.map(|seconds| {
                    Duration::from_secs(u64::from(seconds).min(AUTH_PENDING_TIMEOUT_MAX))
                });
                tracing::info!(
                    timeout_seconds = timeout.map(|t| t.as_secs()),
                    "server holds authentication pending"
                );
                if let State::Pulling {
                    deadline,
                    auth_pending,
                    ..
                } = &mut self.state
                {
                    *auth_pending = true;
                    if let Some(timeout) = timeout {
                        *deadline = (*deadline).max(now + timeout);
                    }
                }
                self.events.push_back(Event::AuthPending { timeout });
            }
            ServerMessage::InfoPre(text) => match PendingAuthInfo::parse(&text) {
                Ok(info) => {
                    let key_id = self.keys[index].key_id.0;
                    self.events.push_back(Event::PendingAuth { key_id, info });
                }
                Err(error) => tracing::warn!(%error, "ignoring malformed INFO_PRE message"),
            },
            ServerMessage::Info(text) => match sanitize_prompt(&text) {
                Ok(text) => self.events.push_back(Event::Info(text)),
                Err(error) => tracing::warn!(%error, "ignoring malformed INFO message"),
            },
            ServerMessage::Restart {
                preserve_credentials,
                advance,
                text,
            } => {
                self.close(CloseReason::Restart {
                    preserve_credentials,
                    advance,
                    text,
                });
            }
            ServerMessage::Halt { text } => self.close(CloseReason::Halt(text)),
            ServerMessage::Exit => self.close(CloseReason::ServerExit),
            ServerMessage::Unknown(text) => {
                let prefix: String = text.chars().take(32).collect();
                tracing::debug!(message = %prefix, "ignoring unknown control message");
            }
        }
    }

    fn handle_push_reply(&mut self, index: usize, now: Instant, body: &str) {
        let options = match self.push_reply.add(body) {
            Ok(Some(options)) => options,
            Ok(None) => return,
            Err(error) => {
                self.push_reply = PushReplyBuilder::new();
                if self.is_connected() {
                    tracing::warn!(%error, "ignoring invalid PUSH_REPLY");
                } else {
                    self.close(CloseReason::PushRejected(error.to_string()));
                }
                return;
            }
        };
        self.push_reply = PushReplyBuilder::new();
        self.adopt_auth_token(&options);

        if self.is_connected() {
            if options.auth_token.is_some() {
                tracing::debug!("server renewed the auth-token");
                self.events
                    .push_back(Event::AuthTokenUpdated(Box::new(options)));
            } else {
                tracing::debug!("ignoring PUSH_REPLY after the session is up");
            }
            return;
        }

        if let Err(reason) = self.apply_pushed_options(&options) {
            self.close(reason);
            return;
        }
        if let Err(error) = self.install_data_key(index) {
            self.close(CloseReason::Protocol(error.to_string()));
            return;
        }

        tracing::info!(cipher = ?self.cipher, peer_id = ?self.peer_id, ekm = self.use_ekm, "connected");
        self.state = State::Connected;
        self.last_received = now;
        self.pushed = Some(options.clone());
        self.events.push_back(Event::Connected(Box::new(options)));
    }

    /// Uses a pushed `auth-token` instead of the password in later key exchanges of this session.
    fn adopt_auth_token(&mut self, options: &PushedOptions) {
        let Some(token) = &options.auth_token else {
            return;
        };
        let username = options
            .auth_token_user
            .clone()
            .or_else(|| self.config.credentials.as_ref().map(|c| c.username.clone()))
            .unwrap_or_default();
        self.config.credentials = Some(Credentials {
            username,
            password: Zeroizing::new(token.expose().to_owned()),
        });
    }

    fn apply_pushed_options(&mut self, options: &PushedOptions) -> Result<(), CloseReason> {
        let cipher = options
            .cipher
            .or(self.config.data_ciphers_fallback)
            .ok_or_else(|| {
                CloseReason::PushRejected(
                    "the server pushed no cipher and the profile has no data-ciphers-fallback"
                        .to_owned(),
                )
            })?;
        if !self.config.data_ciphers.contains(&cipher)
            && Some(cipher) != self.config.data_ciphers_fallback
        {
            return Err(CloseReason::PushRejected(format!(
                "the server chose cipher {cipher}, which is not in data-ciphers ({})",
                DataCipher::join_names(&self.config.data_ciphers)
            )));
        }
        self.cipher = Some(cipher);
        self.use_ekm = options.key_derivation_tls_ekm || options.protocol_flags.tls_ekm;
        self.cc_exit = options.protocol_flags.cc_exit;
        self.peer_id = options.peer_id;
        if let Some(compression) = options.compression {
            self.compression = compression;
        }
        if let Some(ping) = options.ping {
            self.ping = Some(Duration::from_secs(u64::from(ping))).filter(|d| !d.is_zero());
        }
        if let Some(restart) = options.ping_restart {
            self.ping_restart =
                Some(Duration::from_secs(u64::from(restart))).filter(|d| !d.is_zero());
        }
        Ok(())
    }

    /// Derives the data channel key of a key that finished its exchange.
    fn install_data_key(&mut self, index: usize) -> Result<(), KeyStateError> {
        let Some(cipher) = self.cipher else {
            return Ok(());
        };
        let key = &mut self.keys[index];
        let key2 = if self.use_ekm {
            let mut exported = [0u8; 256];
            key.tls
                .export_keying_material(&mut exported, EKM_LABEL.as_bytes(), None)?;
            Key2::from_exported(exported)
        } else {
            let Some(server) = key.server_source.as_ref() else {
                return Ok(());
            };
            let Some(server_session_id) = self.server_session_id else {
                return Ok(());
            };
            Key2::from_openvpn_prf(
                &key.client_source.pre_master,
                &key.client_source.random1,
                &server.random1,
                &key.client_source.random2,
                &server.random2,
                &self.session_id.0,
                &server_session_id.0,
            )
        };
        let mut data_key = DataKey::new(key.key_id.0, cipher, &key2);
        data_key.set_compression(self.compression);
        key.data_key = Some(data_key);
        let key_id = key.key_id;

        match self.tx_key {
            None => self.tx_key = Some(key_id),
            Some(_) => {
                // A server keeps only its newest key and one older one. Once a further key
                // is up, the key still waiting to take over is the oldest the server accepts.
                let active_since = key.active_since.unwrap_or_else(Instant::now);
                if let Some((waiting, _)) = self.pending_tx_key {
                    self.switch_tx_key(waiting);
                }
                // The server keeps sending on the old key until its own deferred checks of
                // the new key are done. So switch when it uses the new key, or after hand-window.
                let at = active_since + self.config.hand_window.min(Duration::from_secs(60));
                self.pending_tx_key = Some((key_id, at));
                self.events
                    .push_back(Event::Renegotiated { key_id: key_id.0 });
            }
        }
        tracing::debug!(key_id = key_id.0, %cipher, "data channel key installed");
        Ok(())
    }

    fn switch_tx_key(&mut self, key_id: KeyId) {
        tracing::info!(key_id = key_id.0, "sending on the renegotiated key");
        self.tx_key = Some(key_id);
        self.pending_tx_key = None;
    }

    /// Builds the next control packet of key `index`: a due message or bare ACKs.
    fn next_control_packet(&mut self, index: usize, now: Instant) -> Option<ControlPacket> {
        let server_session_id = self.server_session_id;
        let key = &mut self.keys[index];

        if let Some((message_packet_id, opcode, payload)) = key.reliable.poll_transmit(now) {
            let acks = if server_session_id.is_some() {
                key.reliable.take_acks(ACKS_PER_MESSAGE)
            } else {
                Vec::new()
            };
            return Some(ControlPacket {
                opcode,
                key_id: key.key_id,
                session_id: self.session_id,
                remote_session_id: if acks.is_empty() {
                    None
                } else {
                    server_session_id
                },
                acks,
                message_packet_id: Some(message_packet_id),
                payload,
            });
        }

        if key.reliable.has_fresh_acks() {
            let server_session_id = server_session_id?;
            let acks = key.reliable.take_acks(ACKS_PER_ACK_PACKET);
            return Some(ControlPacket {
                opcode: Opcode::AckV1,
                key_id: key.key_id,
                session_id: self.session_id,
                remote_session_id: Some(server_session_id),
                acks,
                message_packet_id: None,
                payload: Vec::new(),
            });
        }
        None
    }
}

/// Describes a TLS failure in terms of the profile, with the fix where one is known.
fn describe_tls_error(error: &rustls::Error) -> String {
    use rustls::CertificateError;
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server certificate is not signed by the profile's ca; check that <ca> is the \
             server's certificate authority"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Expired) => {
            "the server certificate has expired; renew it on the server or check this machine's clock"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidYet) => {
            "the server certificate is not valid yet; check this machine's clock".to_owned()
        }
        rustls::Error::AlertReceived(alert) => format!(
            "the server rejected the TLS handshake ({alert:?}); check the client certificate and \
             key in the profile"
        ),
        other => other.to_string(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::config::{ControlWrap, DEFAULT_HAND_WINDOW, DEFAULT_TLS_TIMEOUT, DEFAULT_TUN_MTU};
    use crate::tls::{build_client_config, TlsSettings};

    fn test_config() -> ClientConfig {
        let key = rcgen::KeyPair::generate().expect("generate a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("self-sign the CA");
        let tls = build_client_config(&TlsSettings {
            ca_pem: ca.pem().into_bytes(),
            cert_pem: None,
            key_pem: None,
            remote_cert_tls_server: true,
            verify_x509_name: None,
            tls_version_min: None,
        })
        .expect("TLS settings");

        ClientConfig {
            transport: Transport::Udp,
            tls: Arc::clone(&tls),
            control_wrap: ControlWrap::None,
            data_ciphers: DataCipher::ALL.to_vec(),
            data_ciphers_fallback: None,
            credentials: None,
            peer_info_extra: Vec::new(),
            sso_methods: Vec::new(),
            reneg_sec: None,
            hand_window: DEFAULT_HAND_WINDOW,
            tls_timeout: DEFAULT_TLS_TIMEOUT,
            ping: None,
            ping_restart: None,
            compression: Compression::None,
            tun_mtu: DEFAULT_TUN_MTU,
            explicit_exit_notify: true,
        }
    }

    #[test]
    fn first_packet_is_plain_hard_reset() {
        let now = Instant::now();
        let mut session = Session::new(test_config(), now, 1_700_000_000).unwrap();
        let packet = session.poll_transmit(now).expect("a hard reset to send");
        assert_eq!(packet.len(), 14, "plain hard reset length");
        assert_eq!(
            packet[0], 0x38,
            "opcode P_CONTROL_HARD_RESET_CLIENT_V2, key_id 0"
        );
        assert_eq!(
            &packet[9..],
            &[0, 0, 0, 0, 0],
            "no ACKs and message packet id 0"
        );
    }

    #[test]
    fn hard_reset_retransmitted_after_tls_timeout() {
        let now = Instant::now();
        let mut session = Session::new(test_config(), now, 1_700_000_000).unwrap();
        let first = session.poll_transmit(now).unwrap();
        assert!(
            session.poll_transmit(now).is_none(),
            "nothing more before the timeout"
        );

        let later = now + DEFAULT_TLS_TIMEOUT;
        assert_eq!(session.poll_timeout(), Some(later), "retransmission timer");
        session.handle_timeout(later);
        assert_eq!(
            session.poll_transmit(later),
            Some(first),
            "the same reset again"
        );
    }

    #[test]
    fn silent_server_times_out_at_hand_window() {
        let now = Instant::now();
        let mut session = Session::new(test_config(), now, 1_700_000_000).unwrap();
        session.handle_timeout(now + DEFAULT_HAND_WINDOW);
        assert!(session.is_closed(), "session still open after hand-window");
        let event = session.poll_event();
        assert!(
            matches!(event, Some(Event::Closed(CloseReason::HandshakeTimeout))),
            "event: {event:?}"
        );
    }

    #[test]
    fn control_packet_before_server_reset_ignored() {
        let now = Instant::now();
        let mut session = Session::new(test_config(), now, 1_700_000_000).unwrap();
        let mut packet = vec![0x20, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 1, 0xAA];
        assert!(session.handle_packet(now, &mut packet).is_none());
        assert!(
            session.poll_event().is_none(),
            "no event for a stray packet"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_packets_never_panic(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20)) {
            let now = Instant::now();
            let mut session = Session::new(test_config(), now, 1_700_000_000).unwrap();
            for mut packet in packets {
                let _ = session.handle_packet(now, &mut packet);
                while session.poll_transmit(now).is_some() {}
            }
            prop_assert!(!session.is_closed(), "garbage closed the session");
        }
    }
}
