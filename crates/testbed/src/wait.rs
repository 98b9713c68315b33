//! Bounded polling for conditions that become true asynchronously.

use std::thread;
use std::time::{Duration, Instant};

/// Interval between two evaluations of a polled condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Polls `condition` until it returns `true` or `timeout` has passed.
///
/// The condition runs at least once, even with a zero timeout, and then every 50 ms.
/// On timeout the error names `what`, for example "openvpn server to log peer connection".
pub fn wait_for(
    mut condition: impl FnMut() -> bool,
    timeout: Duration,
    what: &str,
) -> Result<(), String> {
    let start = Instant::now();
    let max_polls = timeout.as_millis() / POLL_INTERVAL.as_millis() + 2;

    for _ in 0..max_polls {
        if condition() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            break;
        }
        thread::sleep(POLL_INTERVAL);
    }

    Err(format!(
        "timed out after {:.1} s waiting for {what}",
        start.elapsed().as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_for_true_condition_returns_ok() {
        let result = wait_for(|| true, Duration::ZERO, "a true condition");
        assert_eq!(
            result,
            Ok(()),
            "a condition that is already true must not time out"
        );
    }

    #[test]
    fn wait_for_false_condition_times_out() {
        let result = wait_for(|| false, Duration::from_millis(120), "the impossible");
        let message = result.expect_err("a condition that stays false must time out");
        assert!(
            message.contains("waiting for the impossible"),
            "timeout message must name what was awaited, got {message:?}"
        );
    }

    #[test]
    fn wait_for_polls_until_condition_holds() {
        let mut calls = 0;
        let result = wait_for(
            || {
                calls += 1;
                calls == 3
            },
            Duration::from_secs(5),
            "the third poll",
        );
        assert_eq!(result, Ok(()), "condition became true on the third poll");
        assert_eq!(calls, 3, "polling must stop once the condition holds");
    }
}
