//! Control channel wrapping: none, `tls-auth` or `tls-crypt`, chosen once per session.
//!
//! Both wrappings keep `byte0` and the sender's session id in clear at the
//! front and add an 8-byte replay id, `u32 packet_id || u32 time`. The sender
//! takes a fresh replay id for every transmission, retransmissions included,
//! because OpenVPN 2.6 drops a packet whose replay id it has already seen. The
//! counter belongs to the session, so it continues across renegotiations.

use thiserror::Error;

use crate::packet::{self, ControlPacket, Opcode, PacketError, SessionId, HEADER_LEN};
use crate::replay::ReplayError;
use crate::tls_auth::TlsAuth;
use crate::tls_crypt::TlsCrypt;

/// Length of the replay id, `u32 packet_id || u32 time`.
pub const REPLAY_ID_LEN: usize = 8;

/// Error rejecting a received control packet.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WrapError {
    /// The packet is shorter than its header and the wrapping overhead.
    #[error("control packet of {len} bytes is too short; the minimum is {min} bytes")]
    TooShort {
        /// Length of the received packet.
        len: usize,
        /// Minimum length for the configured wrapping.
        min: usize,
    },
    /// The first byte names no OpenVPN opcode.
    #[error("first byte {byte0:#04x} holds unknown opcode {opcode}; valid opcodes are 1 to 11")]
    BadOpcodeByte {
        /// The whole first byte.
        byte0: u8,
        /// Its opcode bits, `byte0 >> 3`.
        opcode: u8,
    },
    /// The `tls-auth` HMAC does not match the packet.
    #[error(
        "tls-auth HMAC verification failed; check that the tls-auth key, key-direction and \
         auth digest match the server"
    )]
    BadHmac,
    /// The `tls-crypt` authentication tag does not match the decrypted packet.
    #[error("tls-crypt authentication tag verification failed; check that the tls-crypt key matches the server")]
    BadTag,
    /// The replay id was seen before or belongs to an older sequence.
    #[error("control packet replay id ({packet_id}, time {time}) rejected: {source}")]
    Replay {
        /// Packet id of the replay id.
        packet_id: u32,
        /// Sender timestamp of the replay id, in Unix seconds.
        time: u32,
        /// Replay window verdict.
        source: ReplayError,
    },
    /// Authentic bytes that do not form a valid control packet.
    #[error(transparent)]
    Packet(#[from] PacketError),
}

/// The replay id in front of a wrapped control packet's body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayId {
    /// Counter, starting at 1 and increasing by one per transmission.
    pub packet_id: u32,
    /// Sender's Unix time in seconds when its sequence started.
    pub time: u32,
}

impl ReplayId {
    /// Returns the wire form, packet id then time, both big-endian.
    pub fn to_bytes(self) -> [u8; REPLAY_ID_LEN] {
        let mut bytes = [0u8; REPLAY_ID_LEN];
        bytes[..4].copy_from_slice(&self.packet_id.to_be_bytes());
        bytes[4..].copy_from_slice(&self.time.to_be_bytes());
        bytes
    }

    /// Reads the wire form.
    pub fn from_bytes(bytes: [u8; REPLAY_ID_LEN]) -> ReplayId {
        let [a, b, c, d, e, f, g, h] = bytes;
        ReplayId {
            packet_id: u32::from_be_bytes([a, b, c, d]),
            time: u32::from_be_bytes([e, f, g, h]),
        }
    }
}

/// The sender's replay id counter of one wrapping context.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplayIdSender {
    /// Packet id of the last transmission, 0 before the first.
    packet_id: u32,
    /// Time of the current sequence, set at the first transmission.
    time: Option<u32>,
}

impl ReplayIdSender {
    /// Returns the replay id for the next transmission.
    ///
    /// The time is fixed at the first call. After packet id `u32::MAX` a new
    /// sequence starts at 1 with the current time, as OpenVPN 2.6 `packet_id.c` does.
    pub(crate) fn next(&mut self, now_unix: u32) -> ReplayId {
        if self.packet_id == u32::MAX {
            self.packet_id = 0;
            self.time = None;
        }
        let time = *self.time.get_or_insert(now_unix);
        self.packet_id += 1;
        ReplayId {
            packet_id: self.packet_id,
            time,
        }
    }
}

/// Builds the bytes that stay in clear in front of every control packet.
fn header(packet: &ControlPacket) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0] = packet::first_byte(packet.opcode, packet.key_id);
    header[1..].copy_from_slice(&packet.session_id.0);
    header
}

/// Control channel protection of one session.
#[derive(Debug)]
pub enum TlsWrap {
    /// Plain control packets.
    None,
    /// `tls-auth`: an HMAC and a replay id on every control packet.
    Auth(TlsAuth),
    /// `tls-crypt`: encryption, an authentication tag and a replay id on every control packet.
    Crypt(TlsCrypt),
}

impl TlsWrap {
    /// Encodes `packet` into a whole wire packet, taking a fresh replay id.
    ///
    /// `now_unix` is the current Unix time in seconds; the first call fixes
    /// the time of the replay ids.
    // NOTE: tls-crypt-v2 opcodes are wrapped like tls-crypt v1 here; the
    // wrapped client key (WKc) that they must carry is not appended.
    pub fn encode(&mut self, packet: &ControlPacket, now_unix: u32) -> Vec<u8> {
        let header = header(packet);
        let mut body = Vec::with_capacity(packet.payload.len() + 64);
        packet.encode_body(&mut body);

        let mut wire = Vec::with_capacity(HEADER_LEN + self.overhead() + body.len());
        match self {
            TlsWrap::None => {
                wire.extend_from_slice(&header);
                wire.extend_from_slice(&body);
            }
            TlsWrap::Auth(auth) => auth.wrap(&header, &body, now_unix, &mut wire),
            TlsWrap::Crypt(crypt) => crypt.wrap(&header, &body, now_unix, &mut wire),
        }
        wire
    }

    /// Authenticates a received wire packet, checks its replay id and decodes it.
    ///
    /// The replay window only moves for packets that passed authentication.
    pub fn decode(&mut self, wire: &[u8]) -> Result<ControlPacket, WrapError> {
        let min = HEADER_LEN + self.overhead();
        if wire.len() < min {
            return Err(WrapError::TooShort {
                len: wire.len(),
                min,
            });
        }

        let (opcode_raw, key_id) = packet::split_first_byte(wire[0]);
        let opcode = Opcode::from_u8(opcode_raw).ok_or(WrapError::BadOpcodeByte {
            byte0: wire[0],
            opcode: opcode_raw,
        })?;
        packet::check_control_opcode(opcode)?;
        let session_id = SessionId(wire[1..HEADER_LEN].try_into().unwrap());

        match self {
            TlsWrap::None => {
                let body = &wire[HEADER_LEN..];
                Ok(ControlPacket::decode_body(
                    opcode, key_id, session_id, body,
                )?)
            }
            TlsWrap::Auth(auth) => {
                let body = auth.unwrap(wire)?;
                Ok(ControlPacket::decode_body(
                    opcode, key_id, session_id, body,
                )?)
            }
            TlsWrap::Crypt(crypt) => {
                let body = crypt.unwrap(wire)?;
                Ok(ControlPacket::decode_body(
                    opcode, key_id, session_id, &body,
                )?)
            }
        }
    }

    /// Bytes the wrapping adds to a plain control packet.
    pub fn overhead(&self) -> usize {
        match self {
            TlsWrap::None => 0,
            TlsWrap::Auth(auth) => auth.overhead(),
            TlsWrap::Crypt(_) => TlsCrypt::OVERHEAD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::KeyId;
    use crate::static_key::{KeyDirection, StaticKey};
    use crate::tls_auth::Digest;

    const CLIENT_SID: SessionId = SessionId([1, 2, 3, 4, 5, 6, 7, 8]);
    const SERVER_SID: SessionId = SessionId([9, 10, 11, 12, 13, 14, 15, 16]);
    const NOW: u32 = 1_600_000_000;

    fn key() -> StaticKey {
        StaticKey::from_bytes(std::array::from_fn(|i| (i * 7 + 3) as u8))
    }

    fn client_reset() -> ControlPacket {
        ControlPacket {
            opcode: Opcode::HardResetClientV2,
            key_id: KeyId::ZERO,
            session_id: CLIENT_SID,
            acks: Vec::new(),
            remote_session_id: None,
            message_packet_id: Some(0),
            payload: Vec::new(),
        }
    }

    fn control_with_ack() -> ControlPacket {
        ControlPacket {
            opcode: Opcode::ControlV1,
            key_id: KeyId::ZERO,
            session_id: CLIENT_SID,
            acks: vec![0],
            remote_session_id: Some(SERVER_SID),
            message_packet_id: Some(1),
            payload: b"client hello".to_vec(),
        }
    }

    /// Returns (client side, server side) pairs for every wrapping.
    fn wrap_pairs() -> Vec<(&'static str, TlsWrap, TlsWrap)> {
        let key = key();
        vec![
            ("none", TlsWrap::None, TlsWrap::None),
            (
                "tls-auth SHA1",
                TlsWrap::Auth(TlsAuth::new(
                    &key,
                    Some(KeyDirection::Inverse),
                    Digest::Sha1,
                )),
                TlsWrap::Auth(TlsAuth::new(&key, Some(KeyDirection::Normal), Digest::Sha1)),
            ),
            (
                "tls-auth SHA512 bidirectional",
                TlsWrap::Auth(TlsAuth::new(&key, None, Digest::Sha512)),
                TlsWrap::Auth(TlsAuth::new(&key, None, Digest::Sha512)),
            ),
            (
                "tls-crypt",
                TlsWrap::Crypt(TlsCrypt::new_client(&key)),
                TlsWrap::Crypt(TlsCrypt::new(&key, KeyDirection::Normal)),
            ),
        ]
    }

    #[test]
    fn encode_decode_round_trip() {
        for (name, mut client, mut server) in wrap_pairs() {
            for packet in [client_reset(), control_with_ack()] {
                let wire = client.encode(&packet, NOW);
                assert_eq!(server.decode(&wire), Ok(packet), "{name}: decoded packet");
            }
        }
    }

    #[test]
    fn client_reset_lengths() {
        // 14 bytes plain, 42 with tls-auth SHA1 and 54 with tls-crypt.
        let expected = [
            ("none", 14),
            ("tls-auth SHA1", 42),
            ("tls-auth SHA512 bidirectional", 86),
            ("tls-crypt", 54),
        ];
        for ((name, mut client, _), (_, len)) in wrap_pairs().into_iter().zip(expected) {
            let wire = client.encode(&client_reset(), NOW);
            assert_eq!(wire.len(), len, "{name}: client reset length");
        }
    }

    #[test]
    fn retransmission_rejected_when_replayed() {
        for (name, mut client, mut server) in wrap_pairs().into_iter().skip(1) {
            let wire = client.encode(&client_reset(), NOW);
            server.decode(&wire).unwrap();
            let result = server.decode(&wire);
            assert!(
                matches!(result, Err(WrapError::Replay { packet_id: 1, .. })),
                "{name}: second decode gave {result:?}"
            );
        }
    }

    #[test]
    fn re_encoded_retransmission_accepted() {
        for (name, mut client, mut server) in wrap_pairs() {
            let first = client.encode(&client_reset(), NOW);
            let second = client.encode(&client_reset(), NOW + 2);
            server.decode(&first).unwrap();
            assert!(server.decode(&second).is_ok(), "{name}: re-encoded copy");
        }
    }

    #[test]
    fn decode_rejects_short_packet() {
        for (name, _, mut server) in wrap_pairs() {
            let min = HEADER_LEN + server.overhead();
            let result = server.decode(&vec![0x38; min - 1]);
            assert_eq!(
                result,
                Err(WrapError::TooShort { len: min - 1, min }),
                "{name}: short packet"
            );
        }
    }

    #[test]
    fn decode_rejects_unknown_opcode() {
        for (name, _, mut server) in wrap_pairs() {
            let result = server.decode(&[0xf8; 100]);
            assert_eq!(
                result,
                Err(WrapError::BadOpcodeByte {
                    byte0: 0xf8,
                    opcode: 31
                }),
                "{name}: opcode 31"
            );
        }
    }

    #[test]
    fn decode_rejects_data_opcode() {
        for (name, _, mut server) in wrap_pairs() {
            let result = server.decode(&[0x48; 100]);
            assert_eq!(
                result,
                Err(WrapError::Packet(PacketError::NotControl {
                    opcode: Opcode::DataV2
                })),
                "{name}: P_DATA_V2"
            );
        }
    }

    #[test]
    fn decode_rejects_flipped_byte0() {
        for (name, mut client, mut server) in wrap_pairs().into_iter().skip(1) {
            let mut wire = client.encode(&client_reset(), NOW);
            // Same opcode, key_id 1: only the authentication notices.
            wire[0] ^= 0x01;
            let result = server.decode(&wire);
            assert!(
                matches!(result, Err(WrapError::BadHmac | WrapError::BadTag)),
                "{name}: flipped key_id decoded as {result:?}"
            );
        }
    }

    #[test]
    fn replay_id_sender_fixes_time() {
        let mut sender = ReplayIdSender::default();
        let first = sender.next(NOW);
        let second = sender.next(NOW + 100);
        assert_eq!(
            first,
            ReplayId {
                packet_id: 1,
                time: NOW
            },
            "first replay id"
        );
        assert_eq!(
            second,
            ReplayId {
                packet_id: 2,
                time: NOW
            },
            "second replay id"
        );
    }

    #[test]
    fn replay_id_sender_wraps_to_new_time() {
        let mut sender = ReplayIdSender {
            packet_id: u32::MAX - 1,
            time: Some(NOW),
        };
        let last = sender.next(NOW + 5);
        let wrapped = sender.next(NOW + 6);
        assert_eq!(last.packet_id, u32::MAX, "last id of the sequence");
        assert_eq!(
            wrapped,
            ReplayId {
                packet_id: 1,
                time: NOW + 6
            },
            "first id of the new sequence"
        );
    }

    #[test]
    fn replay_id_bytes_round_trip() {
        let id = ReplayId {
            packet_id: 0x0102_0304,
            time: 0x0506_0708,
        };
        assert_eq!(id.to_bytes(), [1, 2, 3, 4, 5, 6, 7, 8], "wire form");
        assert_eq!(ReplayId::from_bytes(id.to_bytes()), id, "parsed back");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
                for (_, _, mut server) in wrap_pairs() {
                    let _ = server.decode(&bytes);
                }
            }
        }
    }
}
