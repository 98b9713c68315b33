//! `tls-crypt` (version 1): every control packet encrypted and authenticated with a static key.
//!
//! The construction is SIV-like, with fixed algorithms AES-256-CTR and
//! HMAC-SHA256 (OpenVPN 2.6 `tls_crypt.h`, `tls_crypt.c`):
//!
//! ```text
//! u8  byte0               \
//! u8  own_session_id[8]    | header, 17 bytes, authenticated but not encrypted
//! u32 replay packet_id     |
//! u32 replay time         /
//! u8  tag[32]             HMAC-SHA256(Ka, header || plaintext)
//! u8  ciphertext[]        AES-256-CTR(Ke, IV = tag[0..16], plaintext)
//! ```
//!
//! The plaintext is the body of a plain control packet, from `ack_count` on.
//! The key direction is fixed: the server uses [`KeyDirection::Normal`] and
//! the client [`KeyDirection::Inverse`], and any `key-direction` option is ignored.

use std::fmt;

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::packet::HEADER_LEN;
use crate::replay::ReplayWindow;
use crate::static_key::{KeyDirection, StaticKey};
use crate::tls_wrap::{ReplayId, ReplayIdSender, WrapError, REPLAY_ID_LEN};

/// AES-256-CTR with the whole 16-byte IV as a big-endian block counter, as OpenSSL's `AES-256-CTR`.
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// Length of the AES-256 key and of the HMAC-SHA256 key, in bytes.
const KEY_LEN: usize = 32;

/// Length of the HMAC-SHA256 tag, in bytes.
const TAG_LEN: usize = 32;

/// Length of the CTR IV taken from the front of the tag, in bytes.
const IV_LEN: usize = 16;

/// Length of the authenticated clear header: byte0, session id and replay id.
const CLEAR_HEADER_LEN: usize = HEADER_LEN + REPLAY_ID_LEN;

/// One direction's key pair.
#[derive(Clone)]
struct DirectionKeys {
    /// AES-256-CTR key, Ke.
    cipher: Zeroizing<[u8; KEY_LEN]>,
    /// HMAC-SHA256 key, Ka.
    hmac: Zeroizing<[u8; KEY_LEN]>,
}

impl DirectionKeys {
    /// Computes `HMAC-SHA256(Ka, header || plaintext)`.
    fn tag(&self, header: &[u8], plaintext: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hmac[..])
            .expect("HMAC accepts keys of any length");
        mac.update(header);
        mac.update(plaintext);
        mac.finalize().into_bytes().into()
    }

    /// Encrypts or decrypts `data` in place with AES-256-CTR and `IV = tag[0..16]`.
    fn apply_keystream(&self, tag: &[u8; TAG_LEN], data: &mut [u8]) {
        let iv: &[u8; IV_LEN] = tag[..IV_LEN].try_into().unwrap();
        let mut cipher = Aes256Ctr::new(self.cipher.as_ref().into(), iv.into());
        cipher.apply_keystream(data);
    }
}

/// `tls-crypt` state of one session: keys, the sending replay counter and the receiving window.
#[derive(Clone)]
pub struct TlsCrypt {
    /// Keys for packets this side sends.
    send: DirectionKeys,
    /// Keys for packets this side receives.
    receive: DirectionKeys,
    /// Replay ids of outgoing packets.
    sender: ReplayIdSender,
    /// Replay ids of incoming packets already accepted.
    replay: ReplayWindow,
}

impl TlsCrypt {
    /// Bytes added to a plain control packet: the replay id and the tag.
    pub const OVERHEAD: usize = REPLAY_ID_LEN + TAG_LEN;

    /// Shortest valid wrapped packet, 49 bytes (`TLS_CRYPT_OFF_CT` in OpenVPN 2.6).
    pub const MIN_LEN: usize = CLEAR_HEADER_LEN + TAG_LEN;

    /// Creates the client side: encrypts with key bytes 128..160 and signs with 192..224,
    /// decrypts with 0..32 and verifies with 64..96.
    pub fn new_client(key: &StaticKey) -> TlsCrypt {
        TlsCrypt::new(key, KeyDirection::Inverse)
    }

    /// Creates either side. A client uses [`KeyDirection::Inverse`] and a server
    /// [`KeyDirection::Normal`].
    pub fn new(key: &StaticKey, direction: KeyDirection) -> TlsCrypt {
        let direction = Some(direction);
        let first_32 = |slot: &[u8; 64]| Zeroizing::new(slot[..KEY_LEN].try_into().unwrap());
        TlsCrypt {
            send: DirectionKeys {
                cipher: first_32(key.send_cipher_key(direction)),
                hmac: first_32(key.send_hmac_key(direction)),
            },
            receive: DirectionKeys {
                cipher: first_32(key.receive_cipher_key(direction)),
                hmac: first_32(key.receive_hmac_key(direction)),
            },
            sender: ReplayIdSender::default(),
            replay: ReplayWindow::new(),
        }
    }

    /// Appends the wrapped packet for `header` (byte0 and own session id) and `plaintext`
    /// to `out`, taking the next replay id.
    pub fn wrap(
        &mut self,
        header: &[u8; HEADER_LEN],
        plaintext: &[u8],
        now_unix: u32,
        out: &mut Vec<u8>,
    ) {
        let replay_id = self.sender.next(now_unix).to_bytes();
        let mut clear_header = [0u8; CLEAR_HEADER_LEN];
        clear_header[..HEADER_LEN].copy_from_slice(header);
        clear_header[HEADER_LEN..].copy_from_slice(&replay_id);

        let tag = self.send.tag(&clear_header, plaintext);

        out.extend_from_slice(&clear_header);
        out.extend_from_slice(&tag);
        let start = out.len();
        out.extend_from_slice(plaintext);
        self.send.apply_keystream(&tag, &mut out[start..]);
    }

    /// Decrypts a whole wire packet, verifies its tag and replay id, and returns the plaintext.
    pub fn unwrap(&mut self, wire: &[u8]) -> Result<Vec<u8>, WrapError> {
        if wire.len() < TlsCrypt::MIN_LEN {
            return Err(WrapError::TooShort {
                len: wire.len(),
                min: TlsCrypt::MIN_LEN,
            });
        }

        let (clear_header, rest) = wire.split_at(CLEAR_HEADER_LEN);
        let (tag, ciphertext) = rest.split_at(TAG_LEN);
        let tag: &[u8; TAG_LEN] = tag.try_into().unwrap();

        let mut plaintext = ciphertext.to_vec();
        self.receive.apply_keystream(tag, &mut plaintext);

        let expected = self.receive.tag(clear_header, &plaintext);
        if !bool::from(expected.ct_eq(tag)) {
            return Err(WrapError::BadTag);
        }

        let replay_id = ReplayId::from_bytes(clear_header[HEADER_LEN..].try_into().unwrap());
        self.replay
            .accept_with_time(replay_id.packet_id, replay_id.time)
            .map_err(|source| WrapError::Replay {
                packet_id: replay_id.packet_id,
                time: replay_id.time,
                source,
            })?;
        Ok(plaintext)
    }
}

impl fmt::Debug for TlsCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCrypt")
            .field("sender", &self.sender)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{ControlPacket, KeyId, Opcode, SessionId};

    const NOW: u32 = 1_600_000_000;

    /// `byte0` 0x38 (client hard reset, key_id 0) and client session id 01..08.
    const CLIENT_HEADER: [u8; HEADER_LEN] = [0x38, 1, 2, 3, 4, 5, 6, 7, 8];

    /// Body of the initial client reset: no ACKs, message packet id 0.
    const RESET_BODY: [u8; 5] = [0, 0, 0, 0, 0];

    // The expected packets below come from Python 3.11 with the `cryptography` 48 package,
    // written from the layout in the module documentation and not from this code:
    //
    //   key = bytes(range(256))
    //   def wrap(ke, ka, header, plaintext):
    //       tag = hmac.new(ka, header + plaintext, "sha256").digest()
    //       enc = Cipher(algorithms.AES(ke), modes.CTR(tag[:16])).encryptor()
    //       return header + tag + enc.update(plaintext) + enc.finalize()
    //   rid = (1).to_bytes(4, "big") + (1600000000).to_bytes(4, "big")
    //
    // Client packets use ke = key[128:160], ka = key[192:224]; server packets
    // ke = key[0:32], ka = key[64:96].

    /// `wrap(client keys, CLIENT_HEADER + rid, bytes(5))`: the 54-byte client reset.
    const CLIENT_RESET_WIRE: &str = concat!(
        "380102030405060708000000015f5e1000",
        "97424fe30f305fcc19e002750120e49f502e3d5e4d8e2939d37938093a0a8b71",
        "c5fe839db4",
    );

    /// `wrap(server keys, [0x40] + bytes(range(9, 17)) + rid, [1,0,0,0,0] + SIDc + bytes(4))`:
    /// the 66-byte server reset acknowledging the client's message packet id 0.
    const SERVER_RESET_WIRE: &str = concat!(
        "40090a0b0c0d0e0f10000000015f5e1000",
        "9b45509b8ace6cd1fe185c6d5cd4dc9c73885a87ddf8e07e56533f031358fe0e",
        "c8d023d751ba0763d0697ef91cfa189760",
    );

    /// `wrap(client keys, [0x20] + SIDc + rid, long_body())`: a P_CONTROL_V1 whose
    /// 117-byte plaintext spans eight AES blocks, so the counter increments.
    const LONG_CONTROL_WIRE: &str = concat!(
        "200102030405060708000000015f5e1000",
        "56cdf373c38d4047d3fd7ce6e25977b0e61c0d62d69b211949828b2b482bdb8f",
        "2622e46dc9a2c39cc1409f3e6d1b12e12fbbe86e6d83ec890f3ad0c319d99a76",
        "c531d7862cf0007f682250159a2d63e4ef41d691c4ecd3a0eab4dab522cbb107",
        "c0953fae786ac7874454804cc20ca366322756226c1f76fbffd51925603810c3",
        "3f60997c6f199a847931cfd5d18bc44748c7574567",
    );

    fn counting_key() -> StaticKey {
        StaticKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    fn from_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Builds a body with one ACK of pid 0, the server session id, message packet id 1
    /// and 100 payload bytes `i % 251`.
    fn long_body() -> Vec<u8> {
        let mut body = vec![1, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 1];
        body.extend((0..100).map(|i| (i % 251) as u8));
        body
    }

    #[test]
    fn client_reset_known_answer() {
        let mut client = TlsCrypt::new_client(&counting_key());
        let mut wire = Vec::new();
        client.wrap(&CLIENT_HEADER, &RESET_BODY, NOW, &mut wire);
        assert_eq!(wire, from_hex(CLIENT_RESET_WIRE));
    }

    #[test]
    fn long_control_known_answer() {
        let mut client = TlsCrypt::new_client(&counting_key());
        let header = [0x20, 1, 2, 3, 4, 5, 6, 7, 8];
        let mut wire = Vec::new();
        client.wrap(&header, &long_body(), NOW, &mut wire);
        assert_eq!(wire, from_hex(LONG_CONTROL_WIRE));
    }

    #[test]
    fn server_reset_known_answer_decodes() {
        let mut client = TlsCrypt::new_client(&counting_key());
        let wire = from_hex(SERVER_RESET_WIRE);
        let body = client.unwrap(&wire).unwrap();

        let packet = ControlPacket::decode_body(
            Opcode::HardResetServerV2,
            KeyId::ZERO,
            SessionId([9, 10, 11, 12, 13, 14, 15, 16]),
            &body,
        )
        .unwrap();
        assert_eq!(packet.acks, [0], "ACKs of the server reset");
        assert_eq!(
            packet.remote_session_id,
            Some(SessionId([1, 2, 3, 4, 5, 6, 7, 8])),
            "echoed client session id"
        );
        assert_eq!(
            packet.message_packet_id,
            Some(0),
            "server message packet id"
        );
    }

    #[test]
    fn server_side_decrypts_client_wrap() {
        let key = counting_key();
        let mut client = TlsCrypt::new_client(&key);
        let mut server = TlsCrypt::new(&key, KeyDirection::Normal);
        let mut wire = Vec::new();
        client.wrap(&CLIENT_HEADER, &long_body(), NOW, &mut wire);
        assert_eq!(server.unwrap(&wire), Ok(long_body()));
    }

    #[test]
    fn client_rejects_own_direction() {
        // A packet wrapped with the client's sending keys must not verify on a client.
        let mut client = TlsCrypt::new_client(&counting_key());
        let result = client.unwrap(&from_hex(CLIENT_RESET_WIRE));
        assert_eq!(result, Err(WrapError::BadTag));
    }

    #[test]
    fn unwrap_rejects_each_flipped_byte() {
        // Regions: byte0, session id, replay id, tag, ciphertext.
        let wire = from_hex(SERVER_RESET_WIRE);
        for index in 0..wire.len() {
            let mut client = TlsCrypt::new_client(&counting_key());
            let mut corrupted = wire.clone();
            corrupted[index] ^= 0x01;
            let result = client.unwrap(&corrupted);
            assert_eq!(result, Err(WrapError::BadTag), "flipped byte {index}");
        }
    }

    #[test]
    fn unwrap_rejects_truncated_ciphertext() {
        let wire = from_hex(SERVER_RESET_WIRE);
        let mut client = TlsCrypt::new_client(&counting_key());
        let result = client.unwrap(&wire[..wire.len() - 1]);
        assert_eq!(result, Err(WrapError::BadTag));
    }

    #[test]
    fn unwrap_rejects_48_bytes() {
        let mut client = TlsCrypt::new_client(&counting_key());
        let result = client.unwrap(&[0x40; 48]);
        assert_eq!(result, Err(WrapError::TooShort { len: 48, min: 49 }));
    }

    #[test]
    fn unwrap_rejects_replay() {
        let wire = from_hex(SERVER_RESET_WIRE);
        let mut client = TlsCrypt::new_client(&counting_key());
        client.unwrap(&wire).unwrap();
        let result = client.unwrap(&wire);
        assert!(
            matches!(
                result,
                Err(WrapError::Replay {
                    packet_id: 1,
                    time: NOW,
                    ..
                })
            ),
            "second copy gave {result:?}"
        );
    }

    #[test]
    fn debug_hides_keys() {
        let printed = format!("{:?}", TlsCrypt::new_client(&counting_key()));
        assert!(
            !printed.contains("cipher"),
            "debug output {printed:?} shows keys"
        );
    }
}
