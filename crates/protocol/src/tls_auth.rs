//! `tls-auth`: an HMAC over every control packet, keyed from a static key.
//!
//! Wire layout (OpenVPN 2.6 `ssl_pkt.c` `swap_hmac`):
//!
//! ```text
//! u8  byte0
//! u8  own_session_id[8]
//! u8  hmac[digest length]   20 for SHA1, 32 for SHA256, 64 for SHA512
//! u32 replay packet_id
//! u32 replay time
//! u8  body[]                ack_count onward, as in a plain control packet
//! ```
//!
//! The HMAC covers the same bytes with the replay id moved to the front:
//! `packet_id || time || byte0 || own_session_id || body`.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::packet::HEADER_LEN;
use crate::replay::ReplayWindow;
use crate::static_key::{KeyDirection, StaticKey, SLOT_LEN};
use crate::tls_wrap::{ReplayId, ReplayIdSender, WrapError, REPLAY_ID_LEN};

/// Longest HMAC output in bytes, that of SHA512.
const MAX_HMAC_LEN: usize = 64;

/// An `auth` digest name that `tls-auth` does not support.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unsupported tls-auth digest {name:?}; supported: SHA1, SHA224, SHA256, SHA384, SHA512")]
pub struct UnsupportedDigest {
    /// The name as given.
    pub name: String,
}

/// Digest of the `tls-auth` HMAC, set by the `auth` option; must match the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Digest {
    /// HMAC-SHA1, OpenVPN's default `auth`.
    #[default]
    Sha1,
    /// HMAC-SHA224.
    Sha224,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
    /// HMAC-SHA512.
    Sha512,
}

impl Digest {
    /// Every supported digest.
    pub const ALL: [Digest; 5] = [
        Digest::Sha1,
        Digest::Sha224,
        Digest::Sha256,
        Digest::Sha384,
        Digest::Sha512,
    ];

    /// Looks a digest up by its OpenVPN name, such as `SHA256`, ignoring ASCII case.
    pub fn from_name(name: &str) -> Result<Digest, UnsupportedDigest> {
        Digest::ALL
            .into_iter()
            .find(|digest| digest.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnsupportedDigest {
                name: name.to_owned(),
            })
    }

    /// Returns the OpenVPN name, such as `SHA256`.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha1 => "SHA1",
            Digest::Sha224 => "SHA224",
            Digest::Sha256 => "SHA256",
            Digest::Sha384 => "SHA384",
            Digest::Sha512 => "SHA512",
        }
    }

    /// Output length in bytes, which is also the HMAC key length OpenVPN uses.
    pub fn output_len(self) -> usize {
        match self {
            Digest::Sha1 => 20,
            Digest::Sha224 => 28,
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
        }
    }

    /// Computes the HMAC of the concatenated `parts` with the first
    /// [`output_len`](Self::output_len) bytes of `key`.
    fn hmac(self, key: &[u8; SLOT_LEN], parts: &[&[u8]]) -> Zeroizing<[u8; MAX_HMAC_LEN]> {
        let key = &key[..self.output_len()];
        let mut output = Zeroizing::new([0u8; MAX_HMAC_LEN]);
        match self {
            Digest::Sha1 => hmac_into::<Hmac<sha1::Sha1>>(key, parts, &mut output[..]),
            Digest::Sha224 => hmac_into::<Hmac<sha2::Sha224>>(key, parts, &mut output[..]),
            Digest::Sha256 => hmac_into::<Hmac<sha2::Sha256>>(key, parts, &mut output[..]),
            Digest::Sha384 => hmac_into::<Hmac<sha2::Sha384>>(key, parts, &mut output[..]),
            Digest::Sha512 => hmac_into::<Hmac<sha2::Sha512>>(key, parts, &mut output[..]),
        }
        output
    }
}

impl FromStr for Digest {
    type Err = UnsupportedDigest;

    fn from_str(name: &str) -> Result<Digest, UnsupportedDigest> {
        Digest::from_name(name)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Writes the HMAC of the concatenated `parts` to the front of `output`.
fn hmac_into<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]], output: &mut [u8]) {
    let mut mac =
        <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    let tag = mac.finalize().into_bytes();
    output[..tag.len()].copy_from_slice(&tag);
}

/// `tls-auth` state of one session: keys, the sending replay counter and the receiving window.
#[derive(Clone)]
pub struct TlsAuth {
    /// Digest of both HMACs.
    digest: Digest,
    /// HMAC slot for outgoing packets.
    send_key: Zeroizing<[u8; SLOT_LEN]>,
    /// HMAC slot for incoming packets.
    receive_key: Zeroizing<[u8; SLOT_LEN]>,
    /// Replay ids of outgoing packets.
    sender: ReplayIdSender,
    /// Replay ids of incoming packets already accepted.
    replay: ReplayWindow,
}

impl TlsAuth {
    /// Creates the state for `key`, used with `direction` and `digest`.
    ///
    /// Clients normally use `key-direction 1`, that is [`KeyDirection::Inverse`],
    /// against a server with `tls-auth ta.key 0`.
    pub fn new(key: &StaticKey, direction: Option<KeyDirection>, digest: Digest) -> TlsAuth {
        TlsAuth {
            digest,
            send_key: Zeroizing::new(*key.send_hmac_key(direction)),
            receive_key: Zeroizing::new(*key.receive_hmac_key(direction)),
            sender: ReplayIdSender::default(),
            replay: ReplayWindow::new(),
        }
    }

    /// Returns the configured digest.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Bytes added to a plain control packet: the HMAC and the replay id.
    pub fn overhead(&self) -> usize {
        self.digest.output_len() + REPLAY_ID_LEN
    }

    /// Appends the wrapped packet for `header` (byte0 and own session id) and `body` to `out`,
    /// taking the next replay id.
    pub fn wrap(
        &mut self,
        header: &[u8; HEADER_LEN],
        body: &[u8],
        now_unix: u32,
        out: &mut Vec<u8>,
    ) {
        let replay_id = self.sender.next(now_unix).to_bytes();
        let hmac = self
            .digest
            .hmac(&self.send_key, &[&replay_id, header, body]);

        out.extend_from_slice(header);
        out.extend_from_slice(&hmac[..self.digest.output_len()]);
        out.extend_from_slice(&replay_id);
        out.extend_from_slice(body);
    }

    /// Verifies the HMAC and the replay id of a whole wire packet and returns its body.
    pub fn unwrap<'a>(&mut self, wire: &'a [u8]) -> Result<&'a [u8], WrapError> {
        let hmac_len = self.digest.output_len();
        let min = HEADER_LEN + self.overhead();
        if wire.len() < min {
            return Err(WrapError::TooShort {
                len: wire.len(),
                min,
            });
        }

        let (header, rest) = wire.split_at(HEADER_LEN);
        let (received_hmac, rest) = rest.split_at(hmac_len);
        let (replay_id, body) = rest.split_at(REPLAY_ID_LEN);

        let expected = self
            .digest
            .hmac(&self.receive_key, &[replay_id, header, body]);
        if !bool::from(expected[..hmac_len].ct_eq(received_hmac)) {
            return Err(WrapError::BadHmac);
        }

        let replay_id = ReplayId::from_bytes(replay_id.try_into().unwrap());
        self.replay
            .accept_with_time(replay_id.packet_id, replay_id.time)
            .map_err(|source| WrapError::Replay {
                packet_id: replay_id.packet_id,
                time: replay_id.time,
                source,
            })?;
        Ok(body)
    }
}

impl fmt::Debug for TlsAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAuth")
            .field("digest", &self.digest)
            .field("sender", &self.sender)
            .field("replay", &self.replay)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u32 = 1_600_000_000;

    /// Key whose byte `i` is `i`.
    fn counting_key() -> StaticKey {
        StaticKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    /// `byte0` 0x38 (client hard reset, key_id 0) and session id 01..08.
    const HEADER: [u8; HEADER_LEN] = [0x38, 1, 2, 3, 4, 5, 6, 7, 8];

    /// Body of the initial client reset: no ACKs, message packet id 0.
    const RESET_BODY: [u8; 5] = [0, 0, 0, 0, 0];

    fn from_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn digest_from_name_table() {
        let cases = [
            ("SHA1", Digest::Sha1),
            ("sha256", Digest::Sha256),
            ("Sha512", Digest::Sha512),
            ("SHA384", Digest::Sha384),
            ("sha224", Digest::Sha224),
        ];
        for (name, digest) in cases {
            assert_eq!(Digest::from_name(name), Ok(digest), "digest name {name:?}");
        }
    }

    #[test]
    fn digest_from_name_rejects_md5() {
        let error = Digest::from_name("MD5").unwrap_err();
        assert_eq!(
            error.to_string(),
            "unsupported tls-auth digest \"MD5\"; supported: SHA1, SHA224, SHA256, SHA384, SHA512"
        );
    }

    #[test]
    fn wrap_matches_independent_hmac() {
        // Expected bytes from Python's standard library:
        //   key = bytes(range(256)); hkey = key[192:224]   (key-direction 1 sends with key 1)
        //   rid = (1).to_bytes(4, "big") + (1600000000).to_bytes(4, "big")
        //   hdr = bytes([0x38, 1, 2, 3, 4, 5, 6, 7, 8]); body = bytes(5)
        //   hdr + hmac.new(hkey, rid + hdr + body, "sha256").digest() + rid + body
        let expected = from_hex(concat!(
            "380102030405060708",
            "0220860c8ba8ae2eae2df0765b2528ca11b88f5e3b6235f3b0521737f3a2b80d",
            "000000015f5e1000",
            "0000000000",
        ));
        let mut auth = TlsAuth::new(&counting_key(), Some(KeyDirection::Inverse), Digest::Sha256);
        let mut wire = Vec::new();
        auth.wrap(&HEADER, &RESET_BODY, NOW, &mut wire);
        assert_eq!(wire, expected);
    }

    #[test]
    fn sender_increments_packet_id() {
        let mut auth = TlsAuth::new(&counting_key(), None, Digest::Sha1);
        let replay_ids: Vec<ReplayId> = (0..3)
            .map(|second| {
                let mut wire = Vec::new();
                auth.wrap(&HEADER, &RESET_BODY, NOW + second, &mut wire);
                let start = HEADER_LEN + 20;
                ReplayId::from_bytes(wire[start..start + 8].try_into().unwrap())
            })
            .collect();

        for (index, replay_id) in replay_ids.iter().enumerate() {
            assert_eq!(replay_id.packet_id, index as u32 + 1, "packet id {index}");
            assert_eq!(replay_id.time, NOW, "time of packet {index}");
        }
    }

    #[test]
    fn unwrap_rejects_each_flipped_byte() {
        let key = counting_key();
        let mut client = TlsAuth::new(&key, Some(KeyDirection::Inverse), Digest::Sha1);
        let mut wire = Vec::new();
        client.wrap(&HEADER, &RESET_BODY, NOW, &mut wire);

        for index in 0..wire.len() {
            let mut server = TlsAuth::new(&key, Some(KeyDirection::Normal), Digest::Sha1);
            let mut corrupted = wire.clone();
            corrupted[index] ^= 0x80;
            let result = server.unwrap(&corrupted);
            assert_eq!(result, Err(WrapError::BadHmac), "flipped byte {index}");
        }
    }

    #[test]
    fn unwrap_rejects_same_direction() {
        // Both sides on key-direction 1: the receiver verifies with the wrong slot.
        let key = counting_key();
        let mut client = TlsAuth::new(&key, Some(KeyDirection::Inverse), Digest::Sha256);
        let mut peer = TlsAuth::new(&key, Some(KeyDirection::Inverse), Digest::Sha256);
        let mut wire = Vec::new();
        client.wrap(&HEADER, &RESET_BODY, NOW, &mut wire);
        assert_eq!(peer.unwrap(&wire), Err(WrapError::BadHmac));
    }

    #[test]
    fn unwrap_returns_body() {
        let key = counting_key();
        let mut client = TlsAuth::new(&key, Some(KeyDirection::Inverse), Digest::Sha512);
        let mut server = TlsAuth::new(&key, Some(KeyDirection::Normal), Digest::Sha512);
        let mut wire = Vec::new();
        client.wrap(&HEADER, b"body bytes", NOW, &mut wire);
        assert_eq!(server.unwrap(&wire), Ok(&b"body bytes"[..]));
    }

    #[test]
    fn unwrap_rejects_older_time() {
        let key = counting_key();
        let mut newer = TlsAuth::new(&key, None, Digest::Sha1);
        let mut older = TlsAuth::new(&key, None, Digest::Sha1);
        let mut receiver = TlsAuth::new(&key, None, Digest::Sha1);

        let mut first = Vec::new();
        newer.wrap(&HEADER, &RESET_BODY, NOW, &mut first);
        let mut second = Vec::new();
        older.wrap(&HEADER, &RESET_BODY, NOW - 1, &mut second);

        receiver.unwrap(&first).unwrap();
        let result = receiver.unwrap(&second);
        assert!(
            matches!(result, Err(WrapError::Replay { time, .. }) if time == NOW - 1),
            "older sequence accepted: {result:?}"
        );
    }

    #[test]
    fn debug_hides_keys() {
        let auth = TlsAuth::new(&counting_key(), None, Digest::Sha1);
        let printed = format!("{auth:?}");
        assert!(
            !printed.contains("key"),
            "debug output {printed:?} names a key"
        );
    }
}
