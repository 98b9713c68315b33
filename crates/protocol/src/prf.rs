//! OpenVPN's PRF: the TLS 1.0 pseudo-random function of RFC 2246 section 5.
//!
//! Without TLS-EKM, OpenVPN 2.6 derives the data channel key block in two
//! steps (`ssl.c` `generate_key_expansion_openvpn_prf`): a 48-byte master
//! secret from the client's pre-master secret and the first pair of randoms,
//! then 256 bytes of key material from that master secret, the second pair of
//! randoms and both session ids. Both steps use [`tls1_prf`] with the labels
//! below, exactly as OpenSSL's `TLS1-PRF` KDF with digest `MD5-SHA1` computes it.

use hmac::digest::{KeyInit, Mac};
use hmac::Hmac;
use md5::Md5;
use sha1::Sha1;

/// Label of the master secret step, ASCII without a terminating NUL.
pub const MASTER_SECRET_LABEL: &[u8] = b"OpenVPN master secret";

/// Label of the key expansion step, ASCII without a terminating NUL.
pub const KEY_EXPANSION_LABEL: &[u8] = b"OpenVPN key expansion";

/// Fills `out` with `PRF(secret, seed)` as RFC 2246 section 5 defines it.
///
/// The seed is the concatenation of `seed_parts`, so a caller passes the
/// label and each random without copying them into one buffer. The secret is
/// split into two halves of `ceil(len / 2)` bytes, which share the middle byte
/// when the length is odd. The result is `P_MD5(first half, seed) XOR
/// P_SHA1(second half, seed)`.
pub fn tls1_prf(secret: &[u8], seed_parts: &[&[u8]], out: &mut [u8]) {
    let half_len = secret.len().div_ceil(2);
    let md5_secret = &secret[..half_len];
    let sha1_secret = &secret[secret.len() - half_len..];

    out.fill(0);
    xor_p_hash::<Hmac<Md5>>(md5_secret, seed_parts, out);
    xor_p_hash::<Hmac<Sha1>>(sha1_secret, seed_parts, out);
}

/// XORs `P_hash(secret, seed)` (RFC 2246 section 5) into `out`.
///
/// `A(0) = seed`, `A(i) = HMAC(secret, A(i-1))`, and the output stream is
/// `HMAC(secret, A(1) || seed) || HMAC(secret, A(2) || seed) || ...`.
fn xor_p_hash<M>(secret: &[u8], seed_parts: &[&[u8]], out: &mut [u8])
where
    M: Mac + KeyInit + Clone,
{
    // HMAC accepts keys of any length, so keying cannot fail.
    let keyed = <M as KeyInit>::new_from_slice(secret).expect("HMAC accepts any key length");

    let mut a = {
        let mut mac = keyed.clone();
        for part in seed_parts {
            mac.update(part);
        }
        mac.finalize().into_bytes()
    };

    for chunk in out.chunks_mut(a.len()) {
        let mut mac = keyed.clone();
        mac.update(&a);
        for part in seed_parts {
            mac.update(part);
        }
        let block = mac.finalize().into_bytes();
        for (byte, hash_byte) in chunk.iter_mut().zip(block.iter()) {
            *byte ^= hash_byte;
        }

        let mut mac = keyed.clone();
        mac.update(&a);
        a = mac.finalize().into_bytes();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let text: String = text.split_whitespace().collect();
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Pre-master secret 0x00..0x2f with the first randoms 32 x 0x11 and 32 x 0x22.
    fn vector_master_secret() -> [u8; 48] {
        let pre_master: Vec<u8> = (0u8..48).collect();
        let mut master = [0u8; 48];
        tls1_prf(
            &pre_master,
            &[MASTER_SECRET_LABEL, &[0x11; 32], &[0x22; 32]],
            &mut master,
        );
        master
    }

    // Expected outputs below were computed with OpenSSL 3.0
    // `openssl kdf -kdfopt digest:MD5-SHA1 TLS1-PRF`, the KDF OpenVPN 2.6 calls.

    #[test]
    fn prf_master_secret_vector() {
        let expected = hex(
            "8d4d229a2b8a2af73a3e37ceca8c1a2db162292f18b5b070383cd081b68d82b4
             31f11370733cc4b308ba7d5a0975f368",
        );
        assert_eq!(
            vector_master_secret().to_vec(),
            expected,
            "master secret differs from the OpenSSL TLS1-PRF output"
        );
    }

    #[test]
    fn prf_key_expansion_vector() {
        let master = vector_master_secret();
        let session_ids = hex("0102030405060708 a1a2a3a4a5a6a7a8");
        let mut key2 = [0u8; 256];
        tls1_prf(
            &master,
            &[KEY_EXPANSION_LABEL, &[0x33; 32], &[0x44; 32], &session_ids],
            &mut key2,
        );

        let expected = hex(
            "d9a795d12e70d4394acdc4437f347c64bcbca5be8090331aea38825a454143d2
             edda548f93ea21161ccd15d4575c19e32705503486591c05509fc8eb39297e62
             5c0d475839f993f502a0da4ba67a5aa49b33c8771ecd480432a7ccf3a86598af
             1559622904a81c250a6439700dd4b98f4f07ef4272dce0966ee3142e7ed3b6a1
             d91064434ec70884d3922891ce4a09e15d3622802fbfc5ace83a8ee9f37c2a24
             692b7acfe7c622f71510da57b4a387da2320ccfd4cc2337ea3ff0665d466d0f2
             827689b569ef455569c2ea21331835e9820ac2a6291f7416e497d5d31e194788
             041f09f28d4b50cd220917822b4bbd7ea32ecd625f6e3727f1de05c1a0126f6d",
        );
        assert_eq!(
            key2.to_vec(),
            expected,
            "key expansion differs from the OpenSSL TLS1-PRF output"
        );
    }

    #[test]
    fn prf_odd_secret_length() {
        // With a 5-byte secret both halves are 3 bytes and share the middle byte.
        let mut out = [0u8; 40];
        tls1_prf(&[1, 2, 3, 4, 5], &[b"odd secret length"], &mut out);

        let expected =
            hex("e7d7a0985d09f52c72546bded778a775713bc73425ac2fa9be1667657110596b363449c7a446b8bf");
        assert_eq!(
            out.to_vec(),
            expected,
            "odd-length secret output differs from the OpenSSL TLS1-PRF output"
        );
    }

    #[test]
    fn prf_seed_parts_concatenate() {
        let secret = [7u8; 48];
        let mut split = [0u8; 100];
        let mut joined = [0u8; 100];
        tls1_prf(&secret, &[b"label", b"seed one", b"seed two"], &mut split);
        tls1_prf(&secret, &[b"labelseed oneseed two"], &mut joined);

        assert_eq!(
            split, joined,
            "split seed gave a different output than the joined seed"
        );
    }
}
