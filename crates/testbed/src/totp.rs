//! Time-based one-time passwords (TOTP, RFC 6238) as authenticator apps compute them.
//!
//! The parameters are the ones every authenticator app defaults to: HMAC-SHA1, 6 digits and
//! a 30 s time step counted from the Unix epoch. RFC 6238 builds on HOTP (RFC 4226): the
//! step number is the HOTP counter.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Length of a TOTP code in decimal digits.
pub const TOTP_DIGITS: u32 = 6;

/// Length of one TOTP time step in seconds (RFC 6238 `X`).
pub const TOTP_STEP_SECONDS: u64 = 30;

/// Returns the TOTP code of `secret` for the time step that contains `unix_time` (seconds).
///
/// The code has [`TOTP_DIGITS`] digits with leading zeros kept, such as "050471".
pub fn totp_at(secret: &[u8], unix_time: u64) -> String {
    hotp(secret, totp_step(unix_time), TOTP_DIGITS)
}

/// Returns the TOTP code of `secret` for the current system time.
pub fn totp_now(secret: &[u8]) -> String {
    totp_at(secret, unix_now())
}

/// Number of the time step that contains `unix_time`, the HOTP counter of RFC 6238.
pub fn totp_step(unix_time: u64) -> u64 {
    unix_time / TOTP_STEP_SECONDS
}

/// Returns the code of `secret` for the time step `step`, which is `totp_at` for any time
/// inside that step.
pub(crate) fn totp_for_step(secret: &[u8], step: u64) -> String {
    hotp(secret, step, TOTP_DIGITS)
}

/// Current Unix time in seconds.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// HOTP value (RFC 4226 section 5.3) of `secret` and `counter` with `digits` digits.
///
/// The counter is hashed as 8 big-endian bytes. Dynamic truncation takes 4 bytes at the
/// offset named by the low nibble of the last HMAC byte, drops the top bit and reduces the
/// number modulo 10^digits.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();

    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);

    let code = u64::from(truncated) % 10u64.pow(digits);
    format!("{code:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed of the SHA-1 test vectors in RFC 6238 appendix B: the ASCII digits 1 to 0,
    /// twice.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    /// Times and 8-digit SHA-1 codes from the table of RFC 6238 appendix B.
    const RFC_SHA1_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn hotp_matches_rfc6238_eight_digit_vectors() {
        for (time, expected) in RFC_SHA1_VECTORS {
            let code = hotp(RFC_SEED, totp_step(time), 8);
            assert_eq!(code, expected, "8-digit code at unix time {time}");
        }
    }

    #[test]
    fn totp_at_matches_rfc6238_six_digit_form() {
        // A 6-digit code is the same truncated number modulo 10^6, so it equals the last six
        // digits of the 8-digit vector.
        for (time, eight_digits) in RFC_SHA1_VECTORS {
            let code = totp_at(RFC_SEED, time);
            assert_eq!(code, &eight_digits[2..], "6-digit code at unix time {time}");
        }
    }

    #[test]
    fn totp_at_keeps_leading_zeros() {
        // RFC 6238 vector "07081804" at 1111111109 has the 6-digit form "081804"; "050471"
        // at 1111111111 starts with a zero.
        let code = totp_at(RFC_SEED, 1_111_111_111);
        assert_eq!(code, "050471", "leading zero must be kept");
    }

    #[test]
    fn totp_at_same_within_one_step() {
        let first = totp_at(RFC_SEED, 1_111_111_110);
        let last = totp_at(RFC_SEED, 1_111_111_139);
        assert_eq!(first, last, "times in one 30 s step must share a code");
    }

    #[test]
    fn totp_for_step_matches_totp_at() {
        let time = 1_234_567_890;
        assert_eq!(
            totp_for_step(RFC_SEED, totp_step(time)),
            totp_at(RFC_SEED, time)
        );
    }

    #[test]
    fn totp_now_has_six_digits() {
        let code = totp_now(RFC_SEED);
        assert_eq!(code.len(), 6, "code {code:?} must have 6 characters");
        assert!(
            code.bytes().all(|byte| byte.is_ascii_digit()),
            "code {code:?} must be decimal digits"
        );
    }
}
