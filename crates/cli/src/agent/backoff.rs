//! Delays between attempts to reach the daemon again.

use std::time::Duration;

/// Delay before the first attempt after a connection failed or ended.
pub const FIRST_DELAY: Duration = Duration::from_millis(500);

/// Upper bound of the delay: a restarted daemon is found within this time.
pub const MAX_DELAY: Duration = Duration::from_secs(30);

/// Exponential backoff from [`FIRST_DELAY`], doubling up to [`MAX_DELAY`].
#[derive(Debug, Default)]
pub struct Backoff {
    /// Attempts since the last reset.
    attempts: u32,
}

impl Backoff {
    /// Returns the delay before the next attempt and counts it.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32 << self.attempts.min(16);
        self.attempts = self.attempts.saturating_add(1);
        FIRST_DELAY.saturating_mul(factor).min(MAX_DELAY)
    }

    /// Attempts since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Starts again from [`FIRST_DELAY`], after a connection that worked.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_bound() {
        let mut backoff = Backoff::default();

        let delays: Vec<u64> = (0..9)
            .map(|_| backoff.next_delay().as_millis() as u64)
            .collect();

        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
    }

    #[test]
    fn backoff_stays_bounded_after_many_attempts() {
        let mut backoff = Backoff::default();

        let last = (0..1000).map(|_| backoff.next_delay()).last();

        assert_eq!(last, Some(MAX_DELAY));
    }

    #[test]
    fn backoff_reset_starts_over() {
        let mut backoff = Backoff::default();
        backoff.next_delay();
        backoff.next_delay();

        backoff.reset();

        assert_eq!(backoff.next_delay(), FIRST_DELAY);
    }
}
