//! One `key_id` of a session: its reliability layer, its own TLS session and its key exchange.
//!
//! OpenVPN runs a brand-new TLS handshake for every key: the first one
//! (`key_id` 0) after the hard reset, and every renegotiation (`key_id` 1..7)
//! after a soft reset. Each key has independent message packet ids, its own
//! key method 2 exchange and, once keys are derived, its own data channel
//! key. This type contains all of that for one `key_id`.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::control_message;
use crate::data_channel::DataKey;
use crate::key_method::{self, ClientKeySource, ServerKeySource};
use crate::packet::{KeyId, Opcode};
use crate::reliable::Reliable;
use crate::tls;

/// Largest control packet OpenVPN 2.6 sends by default (`tls-mtu`), in bytes, IP and UDP headers included.
const CONTROL_PACKET_MAX: usize = 1250;

/// Bytes of a control packet that are not TLS payload, before wrapping: the IPv6 and
/// UDP headers (48), opcode (1), session id (8), an ACK block with up to 4 ids and the
/// remote session id (1 + 16 + 8), and the message packet id (4).
const CONTROL_PACKET_FIXED_OVERHEAD: usize = 48 + 1 + 8 + 25 + 4;

/// Progress of the key exchange of one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPhase {
    /// Our reset is sent and not yet acknowledged, or the peer's reset has not arrived.
    PreStart,
    /// Both resets are through: the TLS handshake runs.
    Start,
    /// Our key method 2 message is written into TLS.
    SentKey,
    /// The server's key method 2 message arrived.
    GotKey,
    /// Every message of ours is acknowledged and both key messages are through.
    Active,
}

/// Error that ends a key's control channel.
#[derive(Debug, thiserror::Error)]
pub enum KeyStateError {
    /// rustls rejected the handshake or a record.
    #[error("{0}")]
    Tls(#[from] rustls::Error),
    /// The server's key method 2 message was malformed.
    #[error("invalid key method 2 message from the server: {0}")]
    KeyMethod(#[from] key_method::KeyMethodError),
    /// A control message was malformed.
    #[error("{0}")]
    ControlMessage(#[from] control_message::ControlMessageError),
    /// Writing our key method 2 message failed.
    #[error("could not write the key method 2 message: {0}")]
    Write(std::io::Error),
}

/// The control channel and key exchange state of one `key_id`.
pub struct KeyState {
    /// This key's id, 0 for the first key of a session.
    pub key_id: KeyId,
    /// Progress of the key exchange.
    pub phase: KeyPhase,
    /// Reliability layer of this key's control packets.
    pub reliable: Reliable,
    /// The TLS session that belongs to this key alone.
    pub tls: rustls::ClientConnection,
    /// TLS bytes produced but not yet queued into the reliability layer.
    tls_out: Vec<u8>,
    /// Our randoms for the key derivation.
    pub client_source: ClientKeySource,
    /// The server's randoms and options, once its key message arrived.
    pub server_source: Option<ServerKeySource>,
    /// TLS plaintext received and not yet parsed.
    plaintext: Vec<u8>,
    /// The peer's reset (hard or soft) arrived.
    peer_reset_received: bool,
    /// When the reset was sent or received: start of `hand-window`.
    pub started: Instant,
    /// When the key became [`KeyPhase::Active`].
    pub active_since: Option<Instant>,
    /// Data channel key, once derived.
    pub data_key: Option<DataKey>,
}

impl KeyState {
    /// Creates the state for `key_id` and queues our reset (`reset` is the hard or soft reset opcode).
    pub fn new(
        key_id: KeyId,
        reset: Opcode,
        tls_config: &Arc<rustls::ClientConfig>,
        tls_timeout: Duration,
        now: Instant,
    ) -> Result<KeyState, KeyStateError> {
        let mut reliable = Reliable::new(tls_timeout);
        reliable.queue(reset, Vec::new());

        Ok(KeyState {
            key_id,
            phase: KeyPhase::PreStart,
            reliable,
            tls: tls::new_connection(tls_config)?,
            tls_out: Vec::new(),
            client_source: ClientKeySource::random().map_err(|error| {
                KeyStateError::Write(std::io::Error::other(format!(
                    "no randomness for key material: {error}"
                )))
            })?,
            server_source: None,
            plaintext: Vec::new(),
            peer_reset_received: false,
            started: now,
            active_since: None,
            data_key: None,
        })
    }

    /// Largest TLS payload that fits one control packet with `wrap_overhead` bytes of wrapping.
    pub fn max_payload(wrap_overhead: usize) -> usize {
        CONTROL_PACKET_MAX - CONTROL_PACKET_FIXED_OVERHEAD - wrap_overhead
    }

    /// Handles one in-order control message of this key.
    pub fn handle_message(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), KeyStateError> {
        match opcode {
            Opcode::HardResetServerV2 | Opcode::SoftResetV1 => {
                // The server's reset payload may carry early negotiation TLVs; ferrovpn
                // announces none of the features they control, so it skips them.
                self.peer_reset_received = true;
            }
            Opcode::ControlV1 => {
                let mut reader = payload;
                while !reader.is_empty() {
                    self.tls
                        .read_tls(&mut reader)
                        .map_err(KeyStateError::Write)?;
                    self.tls.process_new_packets()?;
                }
            }
            other => {
                tracing::debug!(key_id = self.key_id.0, opcode = ?other, "ignoring unexpected control opcode");
            }
        }
        Ok(())
    }

    /// Advances the key exchange and returns the text control messages that arrived.
    ///
    /// `key_method_message` builds our key method 2 message from our key source when
    /// TLS is ready for it.
    pub fn advance(
        &mut self,
        now: Instant,
        key_method_message: impl FnOnce(
            &ClientKeySource,
        )
            -> Result<Zeroizing<Vec<u8>>, key_method::KeyMethodError>,
    ) -> Result<Vec<String>, KeyStateError> {
        if self.phase == KeyPhase::PreStart && self.peer_reset_received && self.reliable.all_acked()
        {
            self.phase = KeyPhase::Start;
        }

        if self.phase == KeyPhase::Start && !self.tls.is_handshaking() {
            let message = key_method_message(&self.client_source)?;
            // One write call, so rustls puts the whole message into one record: the
            // OpenVPN server parses each record as a unit.
            self.tls
                .writer()
                .write_all(&message)
                .map_err(KeyStateError::Write)?;
            self.phase = KeyPhase::SentKey;
        }

        let mut messages = Vec::new();
        self.read_plaintext()?;
        if self.server_source.is_none() && !self.plaintext.is_empty() {
            // The server writes its key method 2 message as one TLS record, so it is whole here.
            let (source, used) = key_method::decode_server_key_method_2(&self.plaintext)?;
            self.server_source = Some(source);
            self.plaintext.drain(..used);
            if self.phase == KeyPhase::SentKey {
                self.phase = KeyPhase::GotKey;
            }
        }
        if self.server_source.is_some() {
            messages = self.take_text_messages()?;
        }

        if self.phase == KeyPhase::GotKey && self.reliable.all_acked() && self.tls_out.is_empty() {
            self.phase = KeyPhase::Active;
            self.active_since = Some(now);
        }
        Ok(messages)
    }

    /// Writes one NUL-terminated text control message into this key's TLS session.
    pub fn send_text(&mut self, message: &[u8]) -> Result<(), KeyStateError> {
        self.tls
            .writer()
            .write_all(message)
            .map_err(KeyStateError::Write)
    }

    /// Moves TLS output into the reliability layer, as far as its send window allows.
    pub fn flush_tls(&mut self, max_payload: usize) {
        if self.phase == KeyPhase::PreStart {
            return;
        }
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut self.tls_out).is_err() {
                break;
            }
        }
        while !self.tls_out.is_empty() && self.reliable.can_queue() {
            let take = self.tls_out.len().min(max_payload);
            let chunk: Vec<u8> = self.tls_out.drain(..take).collect();
            self.reliable.queue(Opcode::ControlV1, chunk);
        }
    }

    /// True once data channel keys may be derived for this key.
    pub fn is_active(&self) -> bool {
        self.phase == KeyPhase::Active
    }

    fn read_plaintext(&mut self) -> Result<(), KeyStateError> {
        let mut buffer = [0u8; 2048];
        loop {
            match self.tls.reader().read(&mut buffer) {
                Ok(0) => return Ok(()),
                Ok(n) => self.plaintext.extend_from_slice(&buffer[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(KeyStateError::Write(error)),
            }
        }
    }

    fn take_text_messages(&mut self) -> Result<Vec<String>, KeyStateError> {
        let Some(last_nul) = self.plaintext.iter().rposition(|byte| *byte == 0) else {
            return Ok(Vec::new());
        };
        let complete: Vec<u8> = self.plaintext.drain(..=last_nul).collect();
        let mut messages = Vec::new();
        for message in control_message::split_messages(&complete) {
            match message {
                Ok(text) => messages.push(text),
                // Only the malformed message is dropped; the others in the record still count.
                Err(error) => {
                    tracing::warn!(key_id = self.key_id.0, %error, "dropping malformed control message")
                }
            }
        }
        Ok(messages)
    }
}
