//! Failure limits per client address.
//!
//! Failures per user are counted in the database and lock the user (see
//! [`crate::Store::record_failure`]). Failures per source address are counted here, in
//! memory, in fixed windows: after [`SourceLimits::max_failures`] failures within one
//! window, every attempt from that address is rejected unchecked until the window ends.
//! This stops one address from guessing across many usernames, which the per-user
//! lockout cannot see.

use std::collections::HashMap;

/// Number of addresses tracked before expired windows are pruned.
const PRUNE_THRESHOLD: usize = 4096;

/// Limits of the per-address failure count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Failures within one window after which an address is blocked.
    pub max_failures: u32,
    /// Length of a window in seconds.
    pub window_seconds: u64,
}

impl Default for SourceLimits {
    /// 20 failures in 10 minutes: room for a few users behind one NAT address who
    /// mistype, and too few for guessing 6-digit codes.
    fn default() -> Self {
        SourceLimits {
            max_failures: 20,
            window_seconds: 600,
        }
    }
}

/// Failures of one address in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Start of the window, Unix seconds.
    started_at: u64,
    /// Failures counted in the window.
    failures: u32,
}

/// Failure counts per client address.
#[derive(Debug, Default)]
pub struct SourceLimiter {
    /// The limits.
    limits: SourceLimits,
    /// Current windows by address.
    windows: HashMap<String, Window>,
}

impl SourceLimiter {
    /// Starts with no failures.
    pub fn new(limits: SourceLimits) -> SourceLimiter {
        SourceLimiter {
            limits,
            windows: HashMap::new(),
        }
    }

    /// Returns whether `source` has reached the limit in its window at `now` (Unix
    /// seconds). An empty source, from a client without `untrusted_ip`, is never blocked
    /// because [`SourceLimiter::record_failure`] does not count it.
    pub fn is_blocked(&self, source: &str, now: u64) -> bool {
        if source.is_empty() {
            return false;
        }
        self.windows.get(source).is_some_and(|window| {
            self.is_current(window, now) && window.failures >= self.limits.max_failures
        })
    }

    /// Counts one failure of `source` at `now` and returns the failures in its window.
    pub fn record_failure(&mut self, source: &str, now: u64) -> u32 {
        if source.is_empty() {
            return 0;
        }
        if self.windows.len() >= PRUNE_THRESHOLD {
            self.prune(now);
        }

        let limits = self.limits;
        let window = self.windows.entry(source.to_owned()).or_insert(Window {
            started_at: now,
            failures: 0,
        });
        if now.saturating_sub(window.started_at) >= limits.window_seconds {
            *window = Window {
                started_at: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
        window.failures
    }

    /// Number of addresses tracked.
    pub fn tracked_sources(&self) -> usize {
        self.windows.len()
    }

    /// Returns whether `window` is still open at `now`.
    fn is_current(&self, window: &Window, now: u64) -> bool {
        now.saturating_sub(window.started_at) < self.limits.window_seconds
    }

    /// Drops the windows that have ended.
    fn prune(&mut self, now: u64) {
        let window_seconds = self.limits.window_seconds;
        self.windows
            .retain(|_, window| now.saturating_sub(window.started_at) < window_seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SourceLimits = SourceLimits {
        max_failures: 3,
        window_seconds: 60,
    };

    #[test]
    fn blocked_after_max_failures() {
        let mut limiter = SourceLimiter::new(LIMITS);
        for failure in 1..=3 {
            assert!(
                !limiter.is_blocked("198.18.0.2", 100),
                "blocked before failure {failure}"
            );
            limiter.record_failure("198.18.0.2", 100);
        }
        assert!(
            limiter.is_blocked("198.18.0.2", 100),
            "blocked after 3 failures"
        );
    }

    #[test]
    fn block_ends_with_window() {
        let mut limiter = SourceLimiter::new(LIMITS);
        for _ in 0..3 {
            limiter.record_failure("198.18.0.2", 100);
        }
        assert!(limiter.is_blocked("198.18.0.2", 159), "inside the window");
        assert!(!limiter.is_blocked("198.18.0.2", 160), "after the window");
    }

    #[test]
    fn new_window_restarts_count() {
        let mut limiter = SourceLimiter::new(LIMITS);
        limiter.record_failure("198.18.0.2", 100);
        limiter.record_failure("198.18.0.2", 100);
        let count = limiter.record_failure("198.18.0.2", 200);
        assert_eq!(count, 1, "failures in the new window");
    }

    #[test]
    fn other_source_not_blocked() {
        let mut limiter = SourceLimiter::new(LIMITS);
        for _ in 0..3 {
            limiter.record_failure("198.18.0.2", 100);
        }
        assert!(!limiter.is_blocked("198.18.0.3", 100), "other address");
    }

    #[test]
    fn empty_source_never_counted() {
        let mut limiter = SourceLimiter::new(LIMITS);
        for _ in 0..5 {
            limiter.record_failure("", 100);
        }
        assert!(!limiter.is_blocked("", 100), "empty source");
        assert_eq!(limiter.tracked_sources(), 0, "tracked addresses");
    }
}
