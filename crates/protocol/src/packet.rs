//! OpenVPN packet framing: the opcode byte, session ids and the control packet layout.
//!
//! Every OpenVPN packet starts with `byte0 = opcode << 3 | key_id`. A control
//! packet without `tls-auth` or `tls-crypt` then reads (all integers big-endian,
//! as in OpenVPN 2.6 `ssl_pkt.h` and `reliable.h`):
//!
//! ```text
//! u8   byte0
//! u8   own_session_id[8]
//! u8   ack_count             0..=8
//! u32  acked_packet_id[ack_count]
//! u8   remote_session_id[8]  only when ack_count > 0
//! u32  message_packet_id     absent in P_ACK_V1
//! u8   payload[]             TLS records, or early-negotiation TLVs in a server reset
//! ```
//!
//! `tls-auth` and `tls-crypt` keep `byte0` and the own session id in front and
//! protect everything from `ack_count` on, which this module calls the body.

use std::fmt;

use thiserror::Error;

/// Number of bits the opcode is shifted left in `byte0`.
const OPCODE_SHIFT: u8 = 3;

/// Mask of the `key_id` bits in `byte0`.
const KEY_ID_MASK: u8 = 0x07;

/// Length of a session id in bytes.
pub const SESSION_ID_LEN: usize = 8;

/// Length of `byte0` plus the sender's session id, the part every wrapping leaves in front.
pub const HEADER_LEN: usize = 1 + SESSION_ID_LEN;

/// Maximum number of ACKs in one control packet, as `RELIABLE_ACK_SIZE` in OpenVPN 2.6.
/// OpenVPN 2.6 drops a packet that carries more.
pub const MAX_ACKS: usize = 8;

/// Length of a message packet id or an acknowledged packet id on the wire.
const PACKET_ID_LEN: usize = 4;

/// Error reading bytes as an OpenVPN packet.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PacketError {
    /// The packet ended before a field it must contain.
    #[error("packet truncated: {field} needs {needed} bytes but only {remaining} remain")]
    Truncated {
        /// Name of the field that did not fit.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left in the packet at that point.
        remaining: usize,
    },
    /// The high five bits of `byte0` name no opcode that OpenVPN defines.
    #[error("unknown opcode {opcode} in first byte {byte0:#04x}; valid opcodes are 1 to 11")]
    UnknownOpcode {
        /// The opcode value, `byte0 >> 3`.
        opcode: u8,
        /// The whole first byte.
        byte0: u8,
    },
    /// A data channel opcode reached the control packet parser.
    #[error("opcode {opcode} is a data channel packet, not a control packet")]
    NotControl {
        /// The data channel opcode.
        opcode: Opcode,
    },
    /// A key-method 1 reset, which OpenVPN 2.6 rejects as well.
    #[error("opcode {opcode} belongs to key-method 1, which OpenVPN 2.6 no longer supports")]
    KeyMethod1 {
        /// The key-method 1 reset opcode.
        opcode: Opcode,
    },
    /// The ACK count exceeds [`MAX_ACKS`].
    #[error("ack count {count} exceeds the maximum of {MAX_ACKS}")]
    TooManyAcks {
        /// The ACK count read from the packet.
        count: u8,
    },
    /// A `P_ACK_V1` packet that acknowledges nothing.
    #[error("P_ACK_V1 packet carries no ACKs; it must acknowledge at least one packet id")]
    EmptyAck,
    /// A `key_id` outside `0..=7`.
    #[error("key_id {key_id} is out of range; key ids are 0 to 7")]
    KeyIdOutOfRange {
        /// The rejected value.
        key_id: u8,
    },
}

/// Packet type, the high five bits of `byte0` (OpenVPN 2.6 `ssl_pkt.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// `P_CONTROL_HARD_RESET_CLIENT_V1`: key-method 1 client reset, rejected by OpenVPN 2.6.
    HardResetClientV1 = 1,
    /// `P_CONTROL_HARD_RESET_SERVER_V1`: key-method 1 server reset, rejected by OpenVPN 2.6.
    HardResetServerV1 = 2,
    /// `P_CONTROL_SOFT_RESET_V1`: starts the renegotiation of a new `key_id`.
    SoftResetV1 = 3,
    /// `P_CONTROL_V1`: a reliable control message carrying TLS records.
    ControlV1 = 4,
    /// `P_ACK_V1`: ACKs only, with no message packet id and no payload.
    AckV1 = 5,
    /// `P_DATA_V1`: a data channel packet without peer id.
    DataV1 = 6,
    /// `P_CONTROL_HARD_RESET_CLIENT_V2`: the client's first packet of a session.
    HardResetClientV2 = 7,
    /// `P_CONTROL_HARD_RESET_SERVER_V2`: the server's reply to the client reset.
    HardResetServerV2 = 8,
    /// `P_DATA_V2`: a data channel packet with a 24-bit peer id.
    DataV2 = 9,
    /// `P_CONTROL_HARD_RESET_CLIENT_V3`: the client reset for `tls-crypt-v2`, with the wrapped
    /// client key appended.
    HardResetClientV3 = 10,
    /// `P_CONTROL_WKC_V1`: a `P_CONTROL_V1` with the `tls-crypt-v2` wrapped client key appended.
    ControlWkcV1 = 11,
}

impl Opcode {
    /// Looks up the opcode for the value in the high five bits of `byte0`.
    pub fn from_u8(value: u8) -> Option<Opcode> {
        let opcode = match value {
            1 => Opcode::HardResetClientV1,
            2 => Opcode::HardResetServerV1,
            3 => Opcode::SoftResetV1,
            4 => Opcode::ControlV1,
            5 => Opcode::AckV1,
            6 => Opcode::DataV1,
            7 => Opcode::HardResetClientV2,
            8 => Opcode::HardResetServerV2,
            9 => Opcode::DataV2,
            10 => Opcode::HardResetClientV3,
            11 => Opcode::ControlWkcV1,
            _ => return None,
        };
        Some(opcode)
    }

    /// Returns the numeric opcode.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Returns true for `P_DATA_V1` and `P_DATA_V2`.
    pub fn is_data(self) -> bool {
        matches!(self, Opcode::DataV1 | Opcode::DataV2)
    }

    /// Returns true for the hard resets of every version, which always use `key_id` 0.
    pub fn is_hard_reset(self) -> bool {
        matches!(
            self,
            Opcode::HardResetClientV1
                | Opcode::HardResetServerV1
                | Opcode::HardResetClientV2
                | Opcode::HardResetServerV2
                | Opcode::HardResetClientV3
        )
    }

    /// Returns OpenVPN's name, such as `P_CONTROL_V1`.
    pub fn name(self) -> &'static str {
        match self {
            Opcode::HardResetClientV1 => "P_CONTROL_HARD_RESET_CLIENT_V1",
            Opcode::HardResetServerV1 => "P_CONTROL_HARD_RESET_SERVER_V1",
            Opcode::SoftResetV1 => "P_CONTROL_SOFT_RESET_V1",
            Opcode::ControlV1 => "P_CONTROL_V1",
            Opcode::AckV1 => "P_ACK_V1",
            Opcode::DataV1 => "P_DATA_V1",
            Opcode::HardResetClientV2 => "P_CONTROL_HARD_RESET_CLIENT_V2",
            Opcode::HardResetServerV2 => "P_CONTROL_HARD_RESET_SERVER_V2",
            Opcode::DataV2 => "P_DATA_V2",
            Opcode::HardResetClientV3 => "P_CONTROL_HARD_RESET_CLIENT_V3",
            Opcode::ControlWkcV1 => "P_CONTROL_WKC_V1",
        }
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `key_id` in the low three bits of `byte0`, which selects one of the live key states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub(crate) u8);

impl KeyId {
    /// `key_id` 0, used by the hard resets and the first key of a session.
    pub const ZERO: KeyId = KeyId(0);

    /// Creates a `key_id`, rejecting values above 7.
    pub fn new(value: u8) -> Result<KeyId, PacketError> {
        if value > KEY_ID_MASK {
            return Err(PacketError::KeyIdOutOfRange { key_id: value });
        }
        Ok(KeyId(value))
    }

    /// Returns the numeric `key_id`.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Returns the `key_id` of the next renegotiation: 1 to 7, then back to 1.
    ///
    /// 0 is skipped because it marks the first key of a session (OpenVPN 2.6
    /// `ssl.c` `key_state_init`).
    pub fn next(self) -> KeyId {
        let next = (self.0 + 1) & KEY_ID_MASK;
        if next == 0 {
            KeyId(1)
        } else {
            KeyId(next)
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An 8-byte session id that each side picks at random when a session starts.
///
/// Renegotiations keep the session ids; only the `key_id` changes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; SESSION_ID_LEN]);

impl SessionId {
    /// Draws a random session id from the operating system, never all zero.
    ///
    /// OpenVPN 2.6 treats an all-zero id as "not set", so a zero draw is repeated.
    pub fn random() -> Result<SessionId, getrandom::Error> {
        let mut bytes = [0u8; SESSION_ID_LEN];
        while bytes == [0u8; SESSION_ID_LEN] {
            getrandom::getrandom(&mut bytes)?;
        }
        Ok(SessionId(bytes))
    }

    /// Returns true for the all-zero id, which no peer sends as its own.
    pub fn is_zero(&self) -> bool {
        self.0 == [0u8; SESSION_ID_LEN]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl fmt::Display for SessionId {
    /// Formats the id as 16 lower-case hex digits, the form OpenVPN logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// Splits `byte0` into the raw opcode value and the `key_id`.
pub fn split_first_byte(byte0: u8) -> (u8, KeyId) {
    (byte0 >> OPCODE_SHIFT, KeyId(byte0 & KEY_ID_MASK))
}

/// Builds `byte0` from an opcode and a `key_id`.
pub fn first_byte(opcode: Opcode, key_id: KeyId) -> u8 {
    (opcode.as_u8() << OPCODE_SHIFT) | key_id.get()
}

/// Reads the opcode and `key_id` of any packet, data or control, from its first byte.
pub fn read_first_byte(packet: &[u8]) -> Result<(Opcode, KeyId), PacketError> {
    let Some(&byte0) = packet.first() else {
        return Err(PacketError::Truncated {
            field: "opcode byte",
            needed: 1,
            remaining: 0,
        });
    };

    let (opcode_raw, key_id) = split_first_byte(byte0);
    let opcode = Opcode::from_u8(opcode_raw).ok_or(PacketError::UnknownOpcode {
        opcode: opcode_raw,
        byte0,
    })?;
    Ok((opcode, key_id))
}

/// One control channel packet, decoded and owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlPacket {
    /// Packet type, a control opcode.
    pub opcode: Opcode,
    /// Key state the packet belongs to.
    pub key_id: KeyId,
    /// Session id of the sender.
    pub session_id: SessionId,
    /// Message packet ids of the peer that this packet acknowledges, at most [`MAX_ACKS`].
    pub acks: Vec<u32>,
    /// The receiver's session id echoed back; present exactly when `acks` is not empty.
    pub remote_session_id: Option<SessionId>,
    /// Reliability sequence number; absent exactly in `P_ACK_V1`.
    pub message_packet_id: Option<u32>,
    /// TLS records, or early-negotiation TLVs in a server reset, or nothing.
    pub payload: Vec<u8>,
}

impl ControlPacket {
    /// Appends the body, everything after the sender's session id, to `out`.
    ///
    /// The caller keeps the layout invariants: at most [`MAX_ACKS`] ACKs, a
    /// `remote_session_id` whenever there are ACKs, and a `message_packet_id`
    /// unless the opcode is `P_ACK_V1`. Debug builds assert them. Release
    /// builds write only the first [`MAX_ACKS`] ACKs and zeros for a missing id.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        debug_assert!(self.acks.len() <= MAX_ACKS, "more than {MAX_ACKS} ACKs");
        debug_assert!(
            self.acks.is_empty() || self.remote_session_id.is_some(),
            "ACKs without a remote session id"
        );
        debug_assert_eq!(
            self.message_packet_id.is_none(),
            self.opcode == Opcode::AckV1,
            "message packet id must be present exactly when the opcode is not P_ACK_V1"
        );

        let acks = &self.acks[..self.acks.len().min(MAX_ACKS)];
        out.push(acks.len() as u8);
        for ack in acks {
            out.extend_from_slice(&ack.to_be_bytes());
        }
        if !acks.is_empty() {
            let remote = self.remote_session_id.unwrap_or_default();
            out.extend_from_slice(&remote.0);
        }

        if self.opcode != Opcode::AckV1 {
            let message_packet_id = self.message_packet_id.unwrap_or_default();
            out.extend_from_slice(&message_packet_id.to_be_bytes());
        }

        out.extend_from_slice(&self.payload);
    }

    /// Parses a body, everything after the sender's session id.
    ///
    /// Bytes after the message packet id become the payload for every
    /// opcode, so the early-negotiation TLVs of a server reset pass through.
    pub fn decode_body(
        opcode: Opcode,
        key_id: KeyId,
        session_id: SessionId,
        body: &[u8],
    ) -> Result<ControlPacket, PacketError> {
        check_control_opcode(opcode)?;

        let mut reader = Reader { bytes: body };

        let ack_count = reader.take::<1>("ack count")?[0];
        if usize::from(ack_count) > MAX_ACKS {
            return Err(PacketError::TooManyAcks { count: ack_count });
        }
        let mut acks = Vec::with_capacity(usize::from(ack_count));
        for _ in 0..ack_count {
            acks.push(u32::from_be_bytes(reader.take("acked packet id")?));
        }

        let remote_session_id = if acks.is_empty() {
            None
        } else {
            Some(SessionId(reader.take("remote session id")?))
        };

        let message_packet_id = if opcode == Opcode::AckV1 {
            if acks.is_empty() {
                return Err(PacketError::EmptyAck);
            }
            None
        } else {
            Some(u32::from_be_bytes(reader.take("message packet id")?))
        };

        Ok(ControlPacket {
            opcode,
            key_id,
            session_id,
            acks,
            remote_session_id,
            message_packet_id,
            payload: reader.bytes.to_vec(),
        })
    }

    /// Appends the whole packet without `tls-auth` or `tls-crypt` to `out`.
    pub fn encode_plain(&self, out: &mut Vec<u8>) {
        out.push(first_byte(self.opcode, self.key_id));
        out.extend_from_slice(&self.session_id.0);
        self.encode_body(out);
    }

    /// Parses a whole packet that carries no `tls-auth` or `tls-crypt` wrapping.
    pub fn decode_plain(packet: &[u8]) -> Result<ControlPacket, PacketError> {
        let (opcode, key_id) = read_first_byte(packet)?;
        let (session_id, body) = split_session_id(&packet[1..])?;
        ControlPacket::decode_body(opcode, key_id, session_id, body)
    }
}

/// Rejects data channel opcodes and the key-method 1 resets, which no control packet may carry.
pub(crate) fn check_control_opcode(opcode: Opcode) -> Result<(), PacketError> {
    if opcode.is_data() {
        return Err(PacketError::NotControl { opcode });
    }
    if matches!(
        opcode,
        Opcode::HardResetClientV1 | Opcode::HardResetServerV1
    ) {
        return Err(PacketError::KeyMethod1 { opcode });
    }
    Ok(())
}

/// Splits the sender's session id off the bytes that follow `byte0`.
pub(crate) fn split_session_id(bytes: &[u8]) -> Result<(SessionId, &[u8]), PacketError> {
    let mut reader = Reader { bytes };
    let session_id = SessionId(reader.take("session id")?);
    Ok((session_id, reader.bytes))
}

/// Cursor over a byte slice that reports which field ran out.
struct Reader<'a> {
    /// Bytes not read yet.
    bytes: &'a [u8],
}

impl Reader<'_> {
    /// Takes the next `N` bytes or reports `field` as truncated.
    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], PacketError> {
        let Some((head, rest)) = self.bytes.split_first_chunk::<N>() else {
            return Err(PacketError::Truncated {
                field,
                needed: N,
                remaining: self.bytes.len(),
            });
        };
        self.bytes = rest;
        Ok(*head)
    }
}

/// Length in bytes of the ACK block for `ack_count` ACKs, as `ACK_SIZE` in OpenVPN 2.6
/// `reliable.h`: the count byte, 4 bytes per ACK and the remote session id when there are ACKs.
pub fn ack_block_len(ack_count: usize) -> usize {
    let remote_session_id = if ack_count > 0 { SESSION_ID_LEN } else { 0 };
    1 + PACKET_ID_LEN * ack_count + remote_session_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLIENT_SID: SessionId = SessionId([1, 2, 3, 4, 5, 6, 7, 8]);
    const SERVER_SID: SessionId = SessionId([9, 10, 11, 12, 13, 14, 15, 16]);

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

    #[test]
    fn opcode_from_u8_table() {
        let cases = [
            (
                1,
                Opcode::HardResetClientV1,
                "P_CONTROL_HARD_RESET_CLIENT_V1",
            ),
            (
                2,
                Opcode::HardResetServerV1,
                "P_CONTROL_HARD_RESET_SERVER_V1",
            ),
            (3, Opcode::SoftResetV1, "P_CONTROL_SOFT_RESET_V1"),
            (4, Opcode::ControlV1, "P_CONTROL_V1"),
            (5, Opcode::AckV1, "P_ACK_V1"),
            (6, Opcode::DataV1, "P_DATA_V1"),
            (
                7,
                Opcode::HardResetClientV2,
                "P_CONTROL_HARD_RESET_CLIENT_V2",
            ),
            (
                8,
                Opcode::HardResetServerV2,
                "P_CONTROL_HARD_RESET_SERVER_V2",
            ),
            (9, Opcode::DataV2, "P_DATA_V2"),
            (
                10,
                Opcode::HardResetClientV3,
                "P_CONTROL_HARD_RESET_CLIENT_V3",
            ),
            (11, Opcode::ControlWkcV1, "P_CONTROL_WKC_V1"),
        ];
        for (value, opcode, name) in cases {
            assert_eq!(Opcode::from_u8(value), Some(opcode), "opcode value {value}");
            assert_eq!(opcode.as_u8(), value, "numeric value of {opcode:?}");
            assert_eq!(opcode.name(), name, "name of {opcode:?}");
        }
    }

    #[test]
    fn opcode_from_u8_rejects_unknown() {
        for value in [0u8, 12, 31] {
            assert_eq!(Opcode::from_u8(value), None, "opcode value {value}");
        }
    }

    #[test]
    fn opcode_is_data_only_for_data() {
        for value in 1..=11 {
            let opcode = Opcode::from_u8(value).unwrap();
            let expected = value == 6 || value == 9;
            assert_eq!(opcode.is_data(), expected, "is_data of {opcode}");
        }
    }

    #[test]
    fn key_id_next_wraps_to_one() {
        let cases = [(0, 1), (1, 2), (6, 7), (7, 1)];
        for (from, to) in cases {
            let next = KeyId::new(from).unwrap().next();
            assert_eq!(next.get(), to, "next key_id after {from}");
        }
    }

    #[test]
    fn key_id_new_rejects_eight() {
        assert_eq!(
            KeyId::new(8),
            Err(PacketError::KeyIdOutOfRange { key_id: 8 })
        );
    }

    #[test]
    fn session_id_random_nonzero() {
        let first = SessionId::random().unwrap();
        let second = SessionId::random().unwrap();
        assert!(!first.is_zero(), "random session id is all zero");
        assert_ne!(first, second, "two random session ids are equal");
    }

    #[test]
    fn session_id_display_hex() {
        assert_eq!(CLIENT_SID.to_string(), "0102030405060708");
    }

    #[test]
    fn first_byte_table() {
        // Values from the opcode table of OpenVPN 2.6 `ssl_pkt.h`.
        let cases = [
            (Opcode::HardResetClientV2, 0, 0x38),
            (Opcode::HardResetServerV2, 0, 0x40),
            (Opcode::ControlV1, 3, 0x23),
            (Opcode::AckV1, 7, 0x2f),
            (Opcode::DataV2, 1, 0x49),
            (Opcode::ControlWkcV1, 0, 0x58),
        ];
        for (opcode, key_id, byte0) in cases {
            let key_id = KeyId::new(key_id).unwrap();
            assert_eq!(
                first_byte(opcode, key_id),
                byte0,
                "{opcode} key_id {key_id}"
            );
            assert_eq!(
                split_first_byte(byte0),
                (opcode.as_u8(), key_id),
                "split of {byte0:#04x}"
            );
        }
    }

    #[test]
    fn read_first_byte_rejects_opcode_zero() {
        assert_eq!(
            read_first_byte(&[0x07]),
            Err(PacketError::UnknownOpcode {
                opcode: 0,
                byte0: 0x07
            })
        );
    }

    #[test]
    fn read_first_byte_rejects_empty() {
        assert!(matches!(
            read_first_byte(&[]),
            Err(PacketError::Truncated { remaining: 0, .. })
        ));
    }

    #[test]
    fn plain_client_reset_bytes() {
        let mut wire = Vec::new();
        client_reset().encode_plain(&mut wire);

        let mut expected = vec![0x38];
        expected.extend_from_slice(&CLIENT_SID.0);
        expected.extend_from_slice(&[0, 0, 0, 0, 0]);
        assert_eq!(wire, expected, "14-byte initial client reset");
    }

    #[test]
    fn plain_control_round_trip() {
        let packet = ControlPacket {
            opcode: Opcode::ControlV1,
            key_id: KeyId::new(2).unwrap(),
            session_id: CLIENT_SID,
            acks: vec![0, 7],
            remote_session_id: Some(SERVER_SID),
            message_packet_id: Some(1),
            payload: b"client hello".to_vec(),
        };
        let mut wire = Vec::new();
        packet.encode_plain(&mut wire);

        let expected_len = HEADER_LEN + ack_block_len(2) + 4 + 12;
        assert_eq!(wire.len(), expected_len, "encoded length");
        assert_eq!(ControlPacket::decode_plain(&wire), Ok(packet));
    }

    #[test]
    fn ack_packet_has_no_message_id() {
        let packet = ControlPacket {
            opcode: Opcode::AckV1,
            key_id: KeyId::ZERO,
            session_id: CLIENT_SID,
            acks: vec![0],
            remote_session_id: Some(SERVER_SID),
            message_packet_id: None,
            payload: Vec::new(),
        };
        let mut body = Vec::new();
        packet.encode_body(&mut body);

        let mut expected = vec![1, 0, 0, 0, 0];
        expected.extend_from_slice(&SERVER_SID.0);
        assert_eq!(body, expected, "P_ACK_V1 body");
    }

    #[test]
    fn decode_body_rejects_nine_acks() {
        let mut body = vec![9];
        body.extend_from_slice(&[0; 9 * 4 + 8 + 4]);
        let result = ControlPacket::decode_body(Opcode::ControlV1, KeyId::ZERO, CLIENT_SID, &body);
        assert_eq!(result, Err(PacketError::TooManyAcks { count: 9 }));
    }

    #[test]
    fn decode_body_rejects_empty_ack() {
        let result = ControlPacket::decode_body(Opcode::AckV1, KeyId::ZERO, CLIENT_SID, &[0]);
        assert_eq!(result, Err(PacketError::EmptyAck));
    }

    #[test]
    fn decode_body_truncation_table() {
        // Each row: body bytes and the field reported missing.
        let cases: &[(&[u8], &str, usize)] = &[
            (&[], "ack count", 0),
            (&[1, 0, 0], "acked packet id", 2),
            (&[1, 0, 0, 0, 0, 9, 9], "remote session id", 2),
            (&[0, 0, 0], "message packet id", 2),
        ];
        for (body, field, remaining) in cases {
            let result =
                ControlPacket::decode_body(Opcode::ControlV1, KeyId::ZERO, CLIENT_SID, body);
            let Err(PacketError::Truncated {
                field: got_field,
                remaining: got_remaining,
                ..
            }) = result
            else {
                panic!("body {body:?} decoded as {result:?}, expected truncation");
            };
            assert_eq!(got_field, *field, "missing field for body {body:?}");
            assert_eq!(
                got_remaining, *remaining,
                "remaining bytes for body {body:?}"
            );
        }
    }

    #[test]
    fn decode_body_rejects_data_opcode() {
        let result = ControlPacket::decode_body(Opcode::DataV2, KeyId::ZERO, CLIENT_SID, &[0; 8]);
        assert_eq!(
            result,
            Err(PacketError::NotControl {
                opcode: Opcode::DataV2
            })
        );
    }

    #[test]
    fn decode_body_rejects_key_method_1() {
        let result =
            ControlPacket::decode_body(Opcode::HardResetClientV1, KeyId::ZERO, CLIENT_SID, &[0; 8]);
        assert_eq!(
            result,
            Err(PacketError::KeyMethod1 {
                opcode: Opcode::HardResetClientV1
            })
        );
    }

    #[test]
    fn server_reset_keeps_tlv_payload() {
        // EARLY_NEG_FLAGS TLV (type 1, length 2) with RESEND_WKC, as a 2.6 server may send.
        let tlv = [0x00, 0x01, 0x00, 0x02, 0x00, 0x01];
        let mut body = vec![1, 0, 0, 0, 0];
        body.extend_from_slice(&CLIENT_SID.0);
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(&tlv);

        let packet =
            ControlPacket::decode_body(Opcode::HardResetServerV2, KeyId::ZERO, SERVER_SID, &body)
                .unwrap();
        assert_eq!(packet.payload, tlv, "TLV payload of the server reset");
    }

    #[test]
    fn ack_block_len_table() {
        let cases = [(0, 1), (1, 13), (4, 25), (8, 41)];
        for (count, len) in cases {
            assert_eq!(ack_block_len(count), len, "ACK block for {count} ACKs");
        }
    }

    fn control_opcode() -> impl Strategy<Value = Opcode> {
        prop::sample::select(vec![
            Opcode::SoftResetV1,
            Opcode::ControlV1,
            Opcode::AckV1,
            Opcode::HardResetClientV2,
            Opcode::HardResetServerV2,
            Opcode::HardResetClientV3,
            Opcode::ControlWkcV1,
        ])
    }

    fn control_packet() -> impl Strategy<Value = ControlPacket> {
        (
            control_opcode(),
            0u8..8,
            any::<[u8; 8]>(),
            prop::collection::vec(any::<u32>(), 0..=MAX_ACKS),
            any::<[u8; 8]>(),
            any::<u32>(),
            prop::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(opcode, key_id, sid, acks, remote, pid, payload)| {
                let mut acks = acks;
                if opcode == Opcode::AckV1 && acks.is_empty() {
                    acks.push(pid);
                }
                ControlPacket {
                    opcode,
                    key_id: KeyId::new(key_id).unwrap(),
                    session_id: SessionId(sid),
                    remote_session_id: (!acks.is_empty()).then_some(SessionId(remote)),
                    acks,
                    message_packet_id: (opcode != Opcode::AckV1).then_some(pid),
                    payload,
                }
            })
    }

    proptest! {
        #[test]
        fn decode_plain_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
            let _ = ControlPacket::decode_plain(&bytes);
        }

        #[test]
        fn plain_encoding_round_trips(packet in control_packet()) {
            let mut wire = Vec::new();
            packet.encode_plain(&mut wire);
            prop_assert_eq!(ControlPacket::decode_plain(&wire), Ok(packet));
        }
    }
}
