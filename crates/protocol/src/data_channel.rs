//! AEAD data channel of one `key_id`: sealing and opening `P_DATA_V1`/`P_DATA_V2` packets.
//!
//! OpenVPN 2.6 (`crypto.c` `openvpn_encrypt_aead`, `ssl.c` `tls_prepend_opcode_v2`)
//! lays a data packet out as follows, all integers big-endian:
//!
//! ```text
//! P_DATA_V2: 9 << 3 | key_id (1) | peer_id (3) | packet_id (4) | tag (16) | ciphertext
//! P_DATA_V1: 6 << 3 | key_id (1) |               packet_id (4) | tag (16) | ciphertext
//! ```
//!
//! The 12-byte nonce is `packet_id || implicit IV`, a concatenation. The AAD is
//! bytes 0..8 for `P_DATA_V2` and only the packet id for `P_DATA_V1`. The tag
//! sits before the ciphertext. The plaintext is the payload with the
//! compression framing in use.
//!
//! Both directions run without allocating: [`DataKey::encrypt`] fills a
//! caller-owned buffer and [`DataKey::decrypt`] opens the packet in place.

use std::fmt;

use ring::aead::{self, Aad, LessSafeKey, Nonce, Tag, UnboundKey, NONCE_LEN};
use thiserror::Error;
use zeroize::Zeroize;

use crate::cipher::DataCipher;
use crate::compression::{Compression, CompressionError};
use crate::key_material::{Key2, KeyDirection, IMPLICIT_IV_LEN};
use crate::replay::{ReplayError, ReplayWindow};

/// Opcode of a data packet without a peer id.
const P_DATA_V1: u8 = 6;

/// Opcode of a data packet with a 24-bit peer id.
const P_DATA_V2: u8 = 9;

/// The opcode takes the high 5 bits of the first byte, the `key_id` the low 3.
const OPCODE_SHIFT: u8 = 3;

/// Mask of the `key_id` bits in the first byte.
const KEY_ID_MASK: u8 = 0x07;

/// Length of the AEAD tag in bytes.
pub const TAG_LEN: usize = 16;

/// Header length of a `P_DATA_V1` packet: opcode and packet id.
pub const V1_HEADER_LEN: usize = 5;

/// Header length of a `P_DATA_V2` packet: opcode, peer id and packet id.
pub const V2_HEADER_LEN: usize = 8;

/// Largest peer id, because the field has 24 bits.
pub const MAX_PEER_ID: u32 = 0x00FF_FFFF;

/// Packet id from which a key should be renegotiated, as OpenVPN 2.6
/// `PACKET_ID_WRAP_TRIGGER`, so the new key is ready long before the ids run out.
pub const PACKET_ID_WRAP_TRIGGER: u32 = 0xFF00_0000;

/// Error from sealing or opening a data packet.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DataError {
    /// The packet ends before its header and tag.
    #[error("data packet of {len} bytes is too short; header and tag need {min} bytes")]
    TooShort {
        /// Length of the packet in bytes.
        len: usize,
        /// Minimum length of a packet with this opcode.
        min: usize,
    },
    /// The first byte carries an opcode other than `P_DATA_V1` or `P_DATA_V2`.
    #[error("opcode {opcode} is not a data packet; expected P_DATA_V1 (6) or P_DATA_V2 (9)")]
    NotDataPacket {
        /// The opcode from the first byte.
        opcode: u8,
    },
    /// The packet's `key_id` is not the one of this key.
    #[error("data packet for unknown key_id {key_id}; this data key is key_id {expected}")]
    UnknownKeyId {
        /// `key_id` from the packet.
        key_id: u8,
        /// `key_id` of the data key that received the packet.
        expected: u8,
    },
    /// The tag did not verify, so the packet is corrupted, forged or from another key.
    #[error(
        "data packet authentication failed for key_id {key_id}, packet id {packet_id}; \
         the packet was corrupted or sealed with another key"
    )]
    AuthenticationFailed {
        /// `key_id` from the packet.
        key_id: u8,
        /// Packet id from the packet, not authenticated.
        packet_id: u32,
    },
    /// The packet authenticated but its packet id was seen before or is too old.
    #[error("data packet for key_id {key_id} rejected: {source}")]
    Replay {
        /// `key_id` from the packet.
        key_id: u8,
        /// Rejection from the replay window.
        source: ReplayError,
    },
    /// The payload's compression framing was invalid or marked real compression.
    #[error(transparent)]
    Compression(#[from] CompressionError),
    /// The 32-bit packet id would wrap, which would reuse a nonce.
    #[error(
        "packet ids of key_id {key_id} are exhausted after {max:#010x}; \
         renegotiate the key before sending more",
        max = u32::MAX
    )]
    PacketIdExhausted {
        /// `key_id` of the exhausted key.
        key_id: u8,
    },
    /// The peer id does not fit in the 24-bit field of `P_DATA_V2`.
    #[error("peer id {peer_id} does not fit in 24 bits; the largest is {MAX_PEER_ID}")]
    PeerIdOutOfRange {
        /// The rejected peer id.
        peer_id: u32,
    },
    /// The AEAD refused to seal, which happens only for payloads far beyond any MTU.
    #[error("sealing a {len}-byte payload failed for key_id {key_id}")]
    SealFailed {
        /// `key_id` of the key.
        key_id: u8,
        /// Length of the framed payload in bytes.
        len: usize,
    },
}

/// Packet and byte counts of one data key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataCounters {
    /// Packets sealed.
    pub packets_sent: u64,
    /// Payload bytes sealed, counted before compression framing.
    pub bytes_sent: u64,
    /// Packets opened and accepted.
    pub packets_received: u64,
    /// Payload bytes opened and accepted, counted after compression framing is removed.
    pub bytes_received: u64,
}

/// Parsed header of a received data packet.
struct Header {
    /// `key_id` from the first byte.
    key_id: u8,
    /// Header length: [`V1_HEADER_LEN`] or [`V2_HEADER_LEN`].
    len: usize,
    /// Packet id from the last four header bytes.
    packet_id: u32,
}

/// The data channel key of one `key_id`: seals outgoing and opens incoming packets.
pub struct DataKey {
    /// `key_id` this key was negotiated under, 0 to 7.
    key_id: u8,
    /// Negotiated data channel cipher.
    cipher: DataCipher,
    /// Key for packets this side sends.
    seal_key: LessSafeKey,
    /// Implicit IV for packets this side sends.
    seal_implicit_iv: [u8; IMPLICIT_IV_LEN],
    /// Key for packets this side receives.
    open_key: LessSafeKey,
    /// Implicit IV for packets this side receives.
    open_implicit_iv: [u8; IMPLICIT_IV_LEN],
    /// Packet id of the next sealed packet; above `u32::MAX` once the ids are exhausted.
    next_packet_id: u64,
    /// Replay window over the packet ids received.
    replay_window: ReplayWindow,
    /// Framing removed from received payloads.
    compression: Compression,
    /// Packet and byte counts.
    counters: DataCounters,
}

impl DataKey {
    /// Creates the client side of the data key of `key_id` from its key block.
    ///
    /// The client seals with the client-to-server half and opens with the
    /// server-to-client half. `key_id` must be 0 to 7; higher bits are ignored.
    pub fn new(key_id: u8, cipher: DataCipher, key2: &Key2) -> DataKey {
        DataKey::with_send_direction(key_id, cipher, key2, KeyDirection::ClientToServer)
    }

    /// Creates a data key that seals with the `send` half of the key block and opens with the other.
    ///
    /// [`DataKey::new`] is this with [`KeyDirection::ClientToServer`]. The
    /// server side, [`KeyDirection::ServerToClient`], serves tests and test peers.
    pub fn with_send_direction(
        key_id: u8,
        cipher: DataCipher,
        key2: &Key2,
        send: KeyDirection,
    ) -> DataKey {
        debug_assert!(
            key_id <= KEY_ID_MASK,
            "key_id {key_id} does not fit in 3 bits"
        );
        let receive = send.reverse();

        DataKey {
            key_id: key_id & KEY_ID_MASK,
            cipher,
            seal_key: aead_key(cipher, key2.cipher_key(send, cipher)),
            seal_implicit_iv: *key2.implicit_iv(send),
            open_key: aead_key(cipher, key2.cipher_key(receive, cipher)),
            open_implicit_iv: *key2.implicit_iv(receive),
            next_packet_id: 1,
            replay_window: ReplayWindow::new(),
            compression: Compression::None,
            counters: DataCounters::default(),
        }
    }

    /// `key_id` this key was negotiated under.
    pub fn key_id(&self) -> u8 {
        self.key_id
    }

    /// Negotiated data channel cipher.
    pub fn cipher(&self) -> DataCipher {
        self.cipher
    }

    /// Packet and byte counts so far.
    pub fn counters(&self) -> DataCounters {
        self.counters
    }

    /// Framing that [`DataKey::decrypt`] removes from received payloads.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Sets the framing that [`DataKey::decrypt`] removes, from `comp-lzo` or `compress`.
    ///
    /// [`DataKey::encrypt`] sets it too, because OpenVPN frames both directions alike.
    pub fn set_compression(&mut self, compression: Compression) {
        self.compression = compression;
    }

    /// Returns true once a packet id at or above [`PACKET_ID_WRAP_TRIGGER`] was sent.
    pub fn wants_renegotiation(&self) -> bool {
        self.next_packet_id > u64::from(PACKET_ID_WRAP_TRIGGER)
    }

    /// Seals `payload` into `out` as one whole data packet.
    ///
    /// `out` is cleared first. With a `peer_id` the packet is `P_DATA_V2`,
    /// without one `P_DATA_V1`. `compression` frames the payload and becomes
    /// the framing [`DataKey::decrypt`] removes. Nothing is allocated when
    /// `out` has room for the payload plus 26 bytes. Fails once packet id
    /// `0xFFFFFFFF` has been used, because a wrapped id would reuse a nonce.
    pub fn encrypt(
        &mut self,
        peer_id: Option<u32>,
        compression: Compression,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DataError> {
        if let Some(peer_id) = peer_id.filter(|&peer_id| peer_id > MAX_PEER_ID) {
            return Err(DataError::PeerIdOutOfRange { peer_id });
        }
        let packet_id = self.take_packet_id()?;
        self.compression = compression;

        out.clear();
        match peer_id {
            Some(peer_id) => {
                out.push(P_DATA_V2 << OPCODE_SHIFT | self.key_id);
                out.extend_from_slice(&peer_id.to_be_bytes()[1..]);
            }
            None => out.push(P_DATA_V1 << OPCODE_SHIFT | self.key_id),
        }
        out.extend_from_slice(&packet_id.to_be_bytes());
        let header_len = out.len();

        // The tag goes before the ciphertext: reserve its place, then seal the
        // framed payload behind it and fill the tag in.
        out.extend_from_slice(&[0; TAG_LEN]);
        compression.frame(payload, out);

        let (head, plaintext) = out.split_at_mut(header_len + TAG_LEN);
        let nonce = nonce(packet_id, &self.seal_implicit_iv);
        let aad = aad(&head[..header_len]);
        let tag = self
            .seal_key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), plaintext)
            .map_err(|_| DataError::SealFailed {
                key_id: self.key_id,
                len: plaintext.len(),
            })?;
        head[header_len..].copy_from_slice(tag.as_ref());

        self.counters.packets_sent += 1;
        self.counters.bytes_sent += payload.len() as u64;
        Ok(())
    }

    /// Opens a received data packet in place and returns its payload.
    ///
    /// The steps follow OpenVPN 2.6: parse the header, verify the tag and
    /// decrypt, check the packet id against the replay window, then remove the
    /// compression framing. Only authenticated packet ids reach the replay
    /// window. The peer id of a `P_DATA_V2` packet is authenticated but not
    /// compared, because the server echoes the client's own. The returned
    /// slice borrows from `packet`, whose bytes may be overwritten even when
    /// opening fails.
    pub fn decrypt<'a>(&mut self, packet: &'a mut [u8]) -> Result<&'a [u8], DataError> {
        let header = parse_header(packet)?;
        if header.key_id != self.key_id {
            return Err(DataError::UnknownKeyId {
                key_id: header.key_id,
                expected: self.key_id,
            });
        }

        let (head, ciphertext) = packet.split_at_mut(header.len + TAG_LEN);
        let authentication_failed = DataError::AuthenticationFailed {
            key_id: header.key_id,
            packet_id: header.packet_id,
        };
        let tag = Tag::try_from(&head[header.len..]).map_err(|_| authentication_failed.clone())?;
        let nonce = nonce(header.packet_id, &self.open_implicit_iv);
        let aad = aad(&head[..header.len]);
        let plaintext = self
            .open_key
            .open_in_place_separate_tag(nonce, Aad::from(aad), tag, ciphertext, 0..)
            .map_err(|_| authentication_failed)?;

        self.replay_window
            .accept(header.packet_id)
            .map_err(|source| DataError::Replay {
                key_id: header.key_id,
                source,
            })?;

        let payload = self.compression.unframe(plaintext)?;

        self.counters.packets_received += 1;
        self.counters.bytes_received += payload.len() as u64;
        Ok(payload)
    }

    /// Returns the next packet id to send and advances the counter.
    fn take_packet_id(&mut self) -> Result<u32, DataError> {
        let packet_id =
            u32::try_from(self.next_packet_id).map_err(|_| DataError::PacketIdExhausted {
                key_id: self.key_id,
            })?;
        self.next_packet_id += 1;
        Ok(packet_id)
    }

    /// Moves the send counter, so tests reach the end of the packet id space.
    #[cfg(test)]
    fn set_next_packet_id(&mut self, next_packet_id: u64) {
        self.next_packet_id = next_packet_id;
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        // NOTE: ring 0.17 does not erase its AEAD key schedules on drop, so the
        // cipher keys stay in freed memory. Only the implicit IVs are erased here.
        self.seal_implicit_iv.zeroize();
        self.open_implicit_iv.zeroize();
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("key_id", &self.key_id)
            .field("cipher", &self.cipher)
            .field("next_packet_id", &self.next_packet_id)
            .field("compression", &self.compression)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

/// Builds the ring key of `cipher` from a key slice of `cipher.key_len()` bytes.
fn aead_key(cipher: DataCipher, key: &[u8]) -> LessSafeKey {
    let algorithm = match cipher {
        DataCipher::Aes128Gcm => &aead::AES_128_GCM,
        DataCipher::Aes256Gcm => &aead::AES_256_GCM,
        DataCipher::Chacha20Poly1305 => &aead::CHACHA20_POLY1305,
    };
    // `Key2::cipher_key` returns exactly `cipher.key_len()` bytes, the length ring expects.
    let unbound = UnboundKey::new(algorithm, key).expect("key length matches the cipher");
    LessSafeKey::new(unbound)
}

/// Builds the nonce `packet_id || implicit IV`.
fn nonce(packet_id: u32, implicit_iv: &[u8; IMPLICIT_IV_LEN]) -> Nonce {
    let mut bytes = [0u8; NONCE_LEN];
    bytes[..4].copy_from_slice(&packet_id.to_be_bytes());
    bytes[4..].copy_from_slice(implicit_iv);
    Nonce::assume_unique_for_key(bytes)
}

/// Selects the AAD from a header: all 8 bytes for `P_DATA_V2`, the packet id for `P_DATA_V1`.
fn aad(header: &[u8]) -> &[u8] {
    if header.len() == V2_HEADER_LEN {
        header
    } else {
        &header[1..]
    }
}

/// Reads opcode, `key_id` and packet id, and checks that header and tag fit.
fn parse_header(packet: &[u8]) -> Result<Header, DataError> {
    let Some(&first) = packet.first() else {
        return Err(DataError::TooShort {
            len: 0,
            min: V1_HEADER_LEN + TAG_LEN,
        });
    };

    let header_len = match first >> OPCODE_SHIFT {
        P_DATA_V1 => V1_HEADER_LEN,
        P_DATA_V2 => V2_HEADER_LEN,
        opcode => return Err(DataError::NotDataPacket { opcode }),
    };
    if packet.len() < header_len + TAG_LEN {
        return Err(DataError::TooShort {
            len: packet.len(),
            min: header_len + TAG_LEN,
        });
    }

    let packet_id_bytes: [u8; 4] = packet[header_len - 4..header_len]
        .try_into()
        .expect("packet id is 4 bytes");
    Ok(Header {
        key_id: first & KEY_ID_MASK,
        len: header_len,
        packet_id: u32::from_be_bytes(packet_id_bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_material::KEY2_LEN;

    /// Key block of the OpenVPN PRF vector, as OpenSSL's `TLS1-PRF` KDF computes it.
    const VECTOR_KEY2: &str = "\
        d9a795d12e70d4394acdc4437f347c64bcbca5be8090331aea38825a454143d2\
        edda548f93ea21161ccd15d4575c19e32705503486591c05509fc8eb39297e62\
        5c0d475839f993f502a0da4ba67a5aa49b33c8771ecd480432a7ccf3a86598af\
        1559622904a81c250a6439700dd4b98f4f07ef4272dce0966ee3142e7ed3b6a1\
        d91064434ec70884d3922891ce4a09e15d3622802fbfc5ace83a8ee9f37c2a24\
        692b7acfe7c622f71510da57b4a387da2320ccfd4cc2337ea3ff0665d466d0f2\
        827689b569ef455569c2ea21331835e9820ac2a6291f7416e497d5d31e194788\
        041f09f28d4b50cd220917822b4bbd7ea32ecd625f6e3727f1de05c1a0126f6d";

    /// Payload of an OpenVPN keepalive ping.
    const PING: [u8; 16] = [
        0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7,
        0x48,
    ];

    /// An IPv4 header start, the usual tunnel payload.
    const IPV4_PAYLOAD: [u8; 8] = [0x45, 0x00, 0x00, 0x1c, 0xab, 0xcd, 0x40, 0x00];

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    fn vector_key2() -> Key2 {
        let bytes: [u8; KEY2_LEN] = hex(VECTOR_KEY2).try_into().unwrap();
        Key2::from_exported(bytes)
    }

    /// Builds a client key and the matching server side of the same key block.
    fn key_pair(key_id: u8, cipher: DataCipher) -> (DataKey, DataKey) {
        let key2 = vector_key2();
        let client = DataKey::new(key_id, cipher, &key2);
        let server =
            DataKey::with_send_direction(key_id, cipher, &key2, KeyDirection::ServerToClient);
        (client, server)
    }

    fn seal(key: &mut DataKey, peer_id: Option<u32>, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        key.encrypt(peer_id, Compression::None, payload, &mut out)
            .unwrap();
        out
    }

    // Known-answer packets were computed with Python `cryptography` 48 AESGCM and
    // ChaCha20Poly1305 from the layout in the module documentation.

    #[test]
    fn encrypt_matches_known_v2_packet() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let packet = seal(&mut client, Some(7), &PING);

        let expected = hex("4800000700000001e9d5213f2e04eb441055d3e5eef64464\
             a23878f91ce316e5fd8671d8351ec2ad");
        assert_eq!(
            packet, expected,
            "sealed AES-256-GCM P_DATA_V2 ping differs"
        );
    }

    #[test]
    fn decrypt_known_v1_chacha_packet() {
        let (mut client, _) = key_pair(1, DataCipher::Chacha20Poly1305);
        let mut packet = hex("3100000001f7ad64d9f6c371e336a7ccfeb80dc56b503b74\
             c20fd6fb6d8cbb8aa008555289");

        assert_eq!(
            client.decrypt(&mut packet),
            Ok(PING.as_slice()),
            "CHACHA20-POLY1305 P_DATA_V1 ping did not open"
        );
    }

    #[test]
    fn decrypt_known_v2_aes128_packet() {
        let (mut client, _) = key_pair(2, DataCipher::Aes128Gcm);
        let mut packet = hex("4a0a0b0c00000005532bf75f1faacf44a2de8105a3f73656\
             1a640b4743d77b6dfd0f21963e30a279");

        assert_eq!(
            client.decrypt(&mut packet),
            Ok(PING.as_slice()),
            "AES-128-GCM P_DATA_V2 ping did not open"
        );
    }

    #[test]
    fn round_trip_all_ciphers() {
        for cipher in DataCipher::ALL {
            for peer_id in [Some(3), None] {
                let (mut client, mut server) = key_pair(0, cipher);

                let mut upstream = seal(&mut client, peer_id, &IPV4_PAYLOAD);
                assert_eq!(
                    server.decrypt(&mut upstream),
                    Ok(IPV4_PAYLOAD.as_slice()),
                    "{cipher} client-to-server with peer id {peer_id:?}"
                );

                let mut downstream = seal(&mut server, peer_id, &IPV4_PAYLOAD);
                assert_eq!(
                    client.decrypt(&mut downstream),
                    Ok(IPV4_PAYLOAD.as_slice()),
                    "{cipher} server-to-client with peer id {peer_id:?}"
                );
            }
        }
    }

    #[test]
    fn directions_use_different_keys() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let (mut other_client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);

        assert!(
            matches!(
                other_client.decrypt(&mut packet),
                Err(DataError::AuthenticationFailed { .. })
            ),
            "a client opened a packet sealed with the client-to-server key"
        );
    }

    #[test]
    fn v2_layout() {
        let (mut client, _) = key_pair(5, DataCipher::Aes128Gcm);
        let packet = seal(&mut client, Some(0x0a0b0c), &IPV4_PAYLOAD);

        assert_eq!(
            packet[0],
            0x48 | 5,
            "first byte is not P_DATA_V2 with key_id 5"
        );
        assert_eq!(packet[1..4], [0x0a, 0x0b, 0x0c], "peer id bytes differ");
        assert_eq!(packet[4..8], [0, 0, 0, 1], "first packet id is not 1");
        assert_eq!(
            packet.len(),
            V2_HEADER_LEN + TAG_LEN + IPV4_PAYLOAD.len(),
            "packet length is not header + tag + payload"
        );
    }

    #[test]
    fn v1_layout() {
        let (mut client, _) = key_pair(5, DataCipher::Aes128Gcm);
        let packet = seal(&mut client, None, &IPV4_PAYLOAD);

        assert_eq!(
            packet[0],
            0x30 | 5,
            "first byte is not P_DATA_V1 with key_id 5"
        );
        assert_eq!(packet[1..5], [0, 0, 0, 1], "first packet id is not 1");
        assert_eq!(
            packet.len(),
            V1_HEADER_LEN + TAG_LEN + IPV4_PAYLOAD.len(),
            "packet length is not header + tag + payload"
        );
    }

    #[test]
    fn packet_id_increments() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        seal(&mut client, Some(0), &PING);
        let second = seal(&mut client, Some(0), &PING);

        assert_eq!(second[4..8], [0, 0, 0, 2], "second packet id is not 2");
    }

    #[test]
    fn tamper_every_region_rejected() {
        // Each row: packet format, region name and byte range. Every byte of the
        // header after the opcode is in the AAD or the nonce, so any change fails.
        let cases: &[(Option<u32>, &str, std::ops::Range<usize>)] = &[
            (Some(0x123456), "peer id", 1..4),
            (Some(0x123456), "packet id", 4..8),
            (Some(0x123456), "tag", 8..24),
            (Some(0x123456), "ciphertext", 24..24 + IPV4_PAYLOAD.len()),
            (None, "packet id", 1..5),
            (None, "tag", 5..21),
            (None, "ciphertext", 21..21 + IPV4_PAYLOAD.len()),
        ];

        for (peer_id, region, range) in cases {
            for index in range.clone() {
                let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
                let mut packet = seal(&mut client, *peer_id, &IPV4_PAYLOAD);
                packet[index] ^= 0x01;

                let result = server.decrypt(&mut packet);
                assert!(
                    matches!(result, Err(DataError::AuthenticationFailed { .. })),
                    "{region} byte {index} flipped with peer id {peer_id:?}: got {result:?}"
                );
            }
        }
    }

    #[test]
    fn tamper_key_id_rejected() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);
        packet[0] ^= 0x01;

        assert_eq!(
            server.decrypt(&mut packet),
            Err(DataError::UnknownKeyId {
                key_id: 1,
                expected: 0
            }),
            "flipped key_id bit was not rejected as an unknown key_id"
        );
    }

    #[test]
    fn tamper_opcode_rejected() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);
        packet[0] ^= 0x08;

        assert_eq!(
            server.decrypt(&mut packet),
            Err(DataError::NotDataPacket { opcode: 8 }),
            "flipped opcode bit was not rejected"
        );
    }

    #[test]
    fn v2_packet_relabelled_v1_rejected() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);
        packet[0] = P_DATA_V1 << OPCODE_SHIFT;

        assert!(
            matches!(
                server.decrypt(&mut packet),
                Err(DataError::AuthenticationFailed { .. })
            ),
            "a P_DATA_V2 packet relabelled as P_DATA_V1 was accepted"
        );
    }

    #[test]
    fn authentication_error_names_packet() {
        let (mut client, mut server) = key_pair(3, DataCipher::Aes256Gcm);
        seal(&mut client, Some(0), &PING);
        let mut packet = seal(&mut client, Some(0), &PING);
        let last = packet.len() - 1;
        packet[last] ^= 0x80;

        assert_eq!(
            server.decrypt(&mut packet),
            Err(DataError::AuthenticationFailed {
                key_id: 3,
                packet_id: 2
            }),
            "error does not name key_id 3 and packet id 2"
        );
    }

    #[test]
    fn replay_rejected() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let packet = seal(&mut client, Some(0), &PING);
        server.decrypt(&mut packet.clone()).unwrap();

        assert_eq!(
            server.decrypt(&mut packet.clone()),
            Err(DataError::Replay {
                key_id: 0,
                source: ReplayError::Replay { packet_id: 1 }
            }),
            "a second copy of packet 1 was not rejected as a replay"
        );
    }

    #[test]
    fn late_packet_within_window_accepted() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut first = seal(&mut client, Some(0), &PING);
        let mut second = seal(&mut client, Some(0), &PING);
        server.decrypt(&mut second).unwrap();

        assert!(
            server.decrypt(&mut first).is_ok(),
            "packet 1 arriving after packet 2 was rejected"
        );
    }

    #[test]
    fn failed_authentication_keeps_window() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let packet = seal(&mut client, Some(0), &PING);
        let mut forged = packet.clone();
        forged[10] ^= 0x01;
        assert!(
            server.decrypt(&mut forged).is_err(),
            "forged packet was accepted"
        );

        assert!(
            server.decrypt(&mut packet.clone()).is_ok(),
            "a forged copy marked packet id 1 as seen"
        );
    }

    #[test]
    fn too_short_table() {
        let cases: &[(&[u8], usize, usize)] = &[
            (&[], 0, V1_HEADER_LEN + TAG_LEN),
            (&[0x48, 0, 0, 0, 0, 0, 0, 1], 8, V2_HEADER_LEN + TAG_LEN),
            (&[0x48; 23], 23, V2_HEADER_LEN + TAG_LEN),
            (&[0x30; 20], 20, V1_HEADER_LEN + TAG_LEN),
        ];

        for (input, len, min) in cases {
            let (_, mut server) = key_pair(0, DataCipher::Aes256Gcm);
            let mut packet = input.to_vec();
            assert_eq!(
                server.decrypt(&mut packet),
                Err(DataError::TooShort {
                    len: *len,
                    min: *min
                }),
                "{len}-byte packet"
            );
        }
    }

    #[test]
    fn empty_payload_round_trip() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &[]);

        assert_eq!(
            server.decrypt(&mut packet),
            Ok([].as_slice()),
            "header-and-tag-only packet did not open to an empty payload"
        );
    }

    #[test]
    fn unknown_key_id_rejected() {
        let (mut client, _) = key_pair(1, DataCipher::Aes256Gcm);
        let (_, mut server) = key_pair(2, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &PING);

        assert_eq!(
            server.decrypt(&mut packet),
            Err(DataError::UnknownKeyId {
                key_id: 1,
                expected: 2
            }),
            "packet of key_id 1 reached the key of key_id 2"
        );
    }

    #[test]
    fn control_opcode_rejected() {
        let (_, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = vec![0x20; 40];

        assert_eq!(
            server.decrypt(&mut packet),
            Err(DataError::NotDataPacket { opcode: 4 }),
            "P_CONTROL_V1 was not rejected"
        );
    }

    #[test]
    fn last_packet_id_then_exhausted() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        client.set_next_packet_id(u64::from(u32::MAX));
        let last = seal(&mut client, Some(0), &PING);
        assert_eq!(last[4..8], [0xff; 4], "packet id 0xFFFFFFFF was not used");

        let mut out = Vec::new();
        assert_eq!(
            client.encrypt(Some(0), Compression::None, &PING, &mut out),
            Err(DataError::PacketIdExhausted { key_id: 0 }),
            "encrypt went past packet id 0xFFFFFFFF"
        );
    }

    #[test]
    fn wants_renegotiation_at_trigger() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        client.set_next_packet_id(u64::from(PACKET_ID_WRAP_TRIGGER));
        assert!(
            !client.wants_renegotiation(),
            "renegotiation wanted before packet id 0xFF000000 was sent"
        );

        seal(&mut client, Some(0), &PING);
        assert!(
            client.wants_renegotiation(),
            "renegotiation not wanted after packet id 0xFF000000 was sent"
        );
    }

    #[test]
    fn fresh_key_wants_no_renegotiation() {
        let (client, _) = key_pair(0, DataCipher::Aes256Gcm);

        assert!(
            !client.wants_renegotiation(),
            "a fresh key wants renegotiation"
        );
    }

    #[test]
    fn peer_id_out_of_range_rejected() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let mut out = Vec::new();

        assert_eq!(
            client.encrypt(Some(0x0100_0000), Compression::None, &PING, &mut out),
            Err(DataError::PeerIdOutOfRange {
                peer_id: 0x0100_0000
            }),
            "a 25-bit peer id was accepted"
        );
    }

    #[test]
    fn compression_framing_round_trip() {
        let payloads: &[&[u8]] = &[&IPV4_PAYLOAD, &[0x50, 1, 2], &[0x45], &[]];
        let framings = [
            Compression::None,
            Compression::LzoStub,
            Compression::Stub,
            Compression::StubV2,
        ];

        for compression in framings {
            for payload in payloads {
                let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
                server.set_compression(compression);

                let mut upstream = Vec::new();
                client
                    .encrypt(Some(0), compression, payload, &mut upstream)
                    .unwrap();
                assert_eq!(
                    server.decrypt(&mut upstream),
                    Ok(*payload),
                    "{compression:?} client-to-server payload {payload:02x?}"
                );

                let mut downstream = Vec::new();
                server
                    .encrypt(Some(0), compression, payload, &mut downstream)
                    .unwrap();
                assert_eq!(
                    client.decrypt(&mut downstream),
                    Ok(*payload),
                    "{compression:?} server-to-client payload {payload:02x?}"
                );
            }
        }
    }

    #[test]
    fn compression_framing_on_wire() {
        // The receiver removes no framing, so it returns the plaintext as sent.
        let cases: &[(Compression, &[u8], &[u8])] = &[
            (Compression::LzoStub, &[0x45, 1, 2], &[0xFA, 0x45, 1, 2]),
            (Compression::Stub, &[0x45, 1, 2], &[0xFB, 1, 2, 0x45]),
            (Compression::StubV2, &[0x50, 1], &[0x50, 0x00, 0x50, 1]),
            (Compression::StubV2, &[0x45, 1], &[0x45, 1]),
        ];

        for (compression, payload, expected) in cases {
            let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
            let mut packet = Vec::new();
            client
                .encrypt(Some(0), *compression, payload, &mut packet)
                .unwrap();

            assert_eq!(
                server.decrypt(&mut packet),
                Ok(*expected),
                "{compression:?} plaintext of payload {payload:02x?}"
            );
        }
    }

    #[test]
    fn encrypt_sets_receive_framing() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        seal(&mut client, Some(0), &PING);
        let mut out = Vec::new();
        client
            .encrypt(Some(0), Compression::StubV2, &PING, &mut out)
            .unwrap();

        assert_eq!(
            client.compression(),
            Compression::StubV2,
            "encrypt did not record its framing for decrypt"
        );
    }

    #[test]
    fn compressed_packet_rejected() {
        let cases: &[(Compression, &[u8])] = &[
            (Compression::LzoStub, &[0x66, 1, 2]),
            (Compression::Stub, &[0x69, 1, 2]),
            (Compression::StubV2, &[0x50, 0x01, 1]),
            (Compression::StubV2, &[0x50, 0x02, 1]),
        ];

        for (compression, plaintext) in cases {
            let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
            let mut packet = seal(&mut server, Some(0), plaintext);
            client.set_compression(*compression);

            let error = client.decrypt(&mut packet).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("compressed packet but compression is not supported"),
                "{compression:?} plaintext {plaintext:02x?}: got {error}"
            );
        }
    }

    #[test]
    fn counters_track_payloads() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);
        server.decrypt(&mut packet).unwrap();

        let expected_sent = DataCounters {
            packets_sent: 1,
            bytes_sent: IPV4_PAYLOAD.len() as u64,
            ..DataCounters::default()
        };
        let expected_received = DataCounters {
            packets_received: 1,
            bytes_received: IPV4_PAYLOAD.len() as u64,
            ..DataCounters::default()
        };
        assert_eq!(client.counters(), expected_sent, "sender counters differ");
        assert_eq!(
            server.counters(),
            expected_received,
            "receiver counters differ"
        );
    }

    #[test]
    fn rejected_packet_not_counted() {
        let (mut client, mut server) = key_pair(0, DataCipher::Aes256Gcm);
        let mut packet = seal(&mut client, Some(0), &IPV4_PAYLOAD);
        packet[30] ^= 0x01;
        assert!(
            server.decrypt(&mut packet).is_err(),
            "tampered packet was accepted"
        );

        assert_eq!(
            server.counters(),
            DataCounters::default(),
            "a rejected packet was counted"
        );
    }

    #[test]
    fn encrypt_reuses_buffer() {
        let (mut client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let mut out = Vec::with_capacity(1600);
        let buffer_start = out.as_ptr();
        for _ in 0..3 {
            client
                .encrypt(Some(0), Compression::StubV2, &[0x50; 1400], &mut out)
                .unwrap();
        }

        assert_eq!(
            out.as_ptr(),
            buffer_start,
            "encrypt reallocated a buffer with room"
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let (client, _) = key_pair(0, DataCipher::Aes256Gcm);
        let printed = format!("{client:?}");

        // 0x5c, 0x0d are the first bytes of the client-to-server implicit IV.
        assert!(
            !printed.contains("92, 13"),
            "Debug output {printed:?} contains the implicit IV"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn decrypt_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
                let (_, mut server) = key_pair(0, DataCipher::Aes256Gcm);
                server.set_compression(Compression::Stub);
                let mut packet = bytes;
                let _ = server.decrypt(&mut packet);
            }

            #[test]
            fn decrypt_data_opcode_never_panics(
                opcode in prop_oneof![Just(P_DATA_V1), Just(P_DATA_V2)],
                rest in proptest::collection::vec(any::<u8>(), 0..200),
            ) {
                let (_, mut server) = key_pair(0, DataCipher::Chacha20Poly1305);
                let mut packet = vec![opcode << OPCODE_SHIFT];
                packet.extend_from_slice(&rest);
                let result = server.decrypt(&mut packet);
                prop_assert!(result.is_err(), "random bytes authenticated: {:?}", result);
            }
        }
    }
}
