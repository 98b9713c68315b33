//! Time-based one-time passwords (TOTP, RFC 6238) with the parameters every authenticator
//! app uses by default: HMAC-SHA1, 6 digits and a 30 s time step from the Unix epoch.
//!
//! RFC 6238 is HOTP (RFC 4226) with the number of the time step as counter. A code is
//! accepted in the current step and [`TOTP_SKEW_STEPS`] steps on either side, compared in
//! constant time. RFC 6238 section 5.2 requires that a code is not accepted twice, so the
//! verifier keeps the last step it accepted per user and takes only later steps.

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::base32::{self, Base32Error};

/// Length of a code in decimal digits.
pub const TOTP_DIGITS: u32 = 6;

/// Length of one time step in seconds (RFC 6238 `X`).
pub const TOTP_STEP_SECONDS: u64 = 30;

/// Number of steps before and after the current one whose codes are accepted, for clocks
/// that drift and for codes typed just before their step ends (RFC 6238 section 5.2).
pub const TOTP_SKEW_STEPS: u64 = 1;

/// Length of a generated secret in bytes: 160 bits, the length RFC 4226 section 4
/// recommends and the length of an HMAC-SHA1 output.
pub const TOTP_SECRET_LEN: usize = 20;

/// A shared TOTP secret, wiped from memory on drop and never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// Draws a new random secret of [`TOTP_SECRET_LEN`] bytes from the operating system.
    pub fn generate() -> Result<TotpSecret, getrandom::Error> {
        let mut bytes = Zeroizing::new(vec![0u8; TOTP_SECRET_LEN]);
        getrandom::getrandom(&mut bytes)?;
        Ok(TotpSecret(bytes))
    }

    /// Wraps raw secret bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> TotpSecret {
        TotpSecret(Zeroizing::new(bytes))
    }

    /// Decodes a secret from base32, the form of the `secret` parameter of an `otpauth://`
    /// URI.
    pub fn from_base32(text: &str) -> Result<TotpSecret, Base32Error> {
        base32::decode(text).map(TotpSecret::from_bytes)
    }

    /// Raw secret bytes, the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Secret as upper-case base32 without padding, as authenticator apps take it.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(base32::encode(&self.0))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

/// Reason a code was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodeError {
    /// The code is not [`TOTP_DIGITS`] decimal digits.
    #[error("malformed code; expected {TOTP_DIGITS} digits")]
    Malformed,
    /// The code matches no step in the accepted window.
    #[error("wrong code")]
    Wrong,
    /// The code matches a step at or before the last step accepted for this user.
    #[error("code already used")]
    Replayed,
}

/// Number of the time step that contains `unix_time` (seconds), the HOTP counter.
pub fn time_step(unix_time: u64) -> u64 {
    unix_time / TOTP_STEP_SECONDS
}

/// Returns the code of `secret` for the time step `step`, with leading zeros.
pub fn code_for_step(secret: &TotpSecret, step: u64) -> Zeroizing<String> {
    let value = hotp(secret.as_bytes(), step, TOTP_DIGITS);
    Zeroizing::new(format!("{value:0width$}", width = TOTP_DIGITS as usize))
}

/// Returns the code of `secret` for the step that contains `unix_time` (seconds).
pub fn code_at(secret: &TotpSecret, unix_time: u64) -> Zeroizing<String> {
    code_for_step(secret, time_step(unix_time))
}

/// Checks `code` against the steps around `unix_time` and returns the step it matched.
///
/// Spaces in the code are ignored, because apps show codes as "123 456". Every candidate
/// step is compared, each in constant time, so the time taken does not tell which digits
/// were right. A match at or before `last_used_step` is [`CodeError::Replayed`]; the caller
/// persists the returned step as the new last used step.
pub fn verify_code(
    secret: &TotpSecret,
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Result<u64, CodeError> {
    let code: Zeroizing<String> =
        Zeroizing::new(code.chars().filter(|c| !c.is_whitespace()).collect());
    if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(CodeError::Malformed);
    }

    let current = time_step(unix_time);
    let first = current.saturating_sub(TOTP_SKEW_STEPS);
    let last = current.saturating_add(TOTP_SKEW_STEPS);
    let mut matched = None;
    for step in first..=last {
        let candidate = code_for_step(secret, step);
        let equal: bool = candidate.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && matched.is_none() {
            matched = Some(step);
        }
    }

    let step = matched.ok_or(CodeError::Wrong)?;
    if last_used_step.is_some_and(|used| step <= used) {
        return Err(CodeError::Replayed);
    }
    Ok(step)
}

/// HOTP value (RFC 4226 section 5.3) of `key` and `counter`, reduced to `digits` digits.
///
/// The counter is hashed as 8 big-endian bytes. Dynamic truncation reads 4 bytes at the
/// offset in the low nibble of the last HMAC byte and clears the top bit.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();

    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    truncated % 10u32.pow(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed of the SHA-1 vectors in RFC 6238 appendix B: the ASCII digits 1 to 0, twice.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    /// Unix times and 8-digit SHA-1 codes of the table in RFC 6238 appendix B.
    const RFC_SHA1_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(RFC_SEED.to_vec())
    }

    #[test]
    fn hotp_matches_rfc6238_vectors() {
        for (time, expected) in RFC_SHA1_VECTORS {
            let code = format!("{:08}", hotp(RFC_SEED, time_step(time), 8));
            assert_eq!(code, expected, "8-digit code at unix time {time}");
        }
    }

    #[test]
    fn code_at_six_digit_rfc_form() {
        // The 6-digit code is the same truncated value modulo 10^6: the last six digits.
        for (time, eight_digits) in RFC_SHA1_VECTORS {
            let code = code_at(&rfc_secret(), time);
            assert_eq!(
                code.as_str(),
                &eight_digits[2..],
                "code at unix time {time}"
            );
        }
    }

    #[test]
    fn code_at_keeps_leading_zero() {
        let code = code_at(&rfc_secret(), 1_111_111_111);
        assert_eq!(code.as_str(), "050471", "leading zero must be kept");
    }

    #[test]
    fn verify_code_accepts_rfc_vectors() {
        for (time, eight_digits) in RFC_SHA1_VECTORS {
            let step = verify_code(&rfc_secret(), &eight_digits[2..], time, None);
            assert_eq!(step, Ok(time_step(time)), "code at unix time {time}");
        }
    }

    #[test]
    fn verify_code_skew_window_table() {
        let time = 1_234_567_890;
        let current = time_step(time);
        // (step the code belongs to, expected result)
        let cases = [
            (current - 2, Err(CodeError::Wrong)),
            (current - 1, Ok(current - 1)),
            (current, Ok(current)),
            (current + 1, Ok(current + 1)),
            (current + 2, Err(CodeError::Wrong)),
        ];
        for (step, expected) in cases {
            let code = code_for_step(&rfc_secret(), step);
            let result = verify_code(&rfc_secret(), &code, time, None);
            assert_eq!(
                result, expected,
                "code of step {step}, current step {current}"
            );
        }
    }

    #[test]
    fn verify_code_replay_table() {
        let time = 1_234_567_890;
        let current = time_step(time);
        let code = code_for_step(&rfc_secret(), current);
        // (last used step, expected result for the code of the current step)
        let cases = [
            (None, Ok(current)),
            (Some(current - 1), Ok(current)),
            (Some(current), Err(CodeError::Replayed)),
            (Some(current + 1), Err(CodeError::Replayed)),
        ];
        for (last_used, expected) in cases {
            let result = verify_code(&rfc_secret(), &code, time, last_used);
            assert_eq!(result, expected, "last used step {last_used:?}");
        }
    }

    #[test]
    fn verify_code_malformed_table() {
        let cases = ["", "12345", "1234567", "12a456", "１２３４５６"];
        for code in cases {
            let result = verify_code(&rfc_secret(), code, 59, None);
            assert_eq!(result, Err(CodeError::Malformed), "code {code:?}");
        }
    }

    #[test]
    fn verify_code_ignores_spaces() {
        let code = code_at(&rfc_secret(), 59);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        let result = verify_code(&rfc_secret(), &spaced, 59, None);
        assert_eq!(result, Ok(time_step(59)), "code {spaced:?} with a space");
    }

    #[test]
    fn verify_code_first_step_no_underflow() {
        let code = code_for_step(&rfc_secret(), 0);
        assert_eq!(verify_code(&rfc_secret(), &code, 0, None), Ok(0));
    }

    #[test]
    fn secret_debug_hides_bytes() {
        let debug = format!("{:?}", rfc_secret());
        assert_eq!(debug, "TotpSecret(..)", "secret leaked into debug output");
    }

    #[test]
    fn secret_base32_round_trip() {
        let secret = TotpSecret::generate().expect("random bytes");
        let text = secret.to_base32();
        let decoded = TotpSecret::from_base32(&text).expect("own output decodes");
        assert_eq!(decoded, secret, "base32 round trip");
    }
}
