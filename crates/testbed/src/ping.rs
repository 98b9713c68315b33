//! ICMP reachability checks with the system `ping` inside a namespace.

use std::net::IpAddr;

use crate::command;

/// Largest echo count `ping` accepts here, which keeps each check short.
pub const MAX_PING_COUNT: u32 = 100;

/// Sends `count` echo requests from namespace `ns` to `addr` and succeeds if all replies come.
///
/// Runs `ip netns exec <ns> ping -c <count> -W 2 -i 0.2 -w <deadline> <addr>`, so the
/// check ends after at most about `count * 0.2 + 2` seconds. Fails if `count` is 0 or
/// above [`MAX_PING_COUNT`], or if any reply is missing.
pub fn ping(ns: &str, addr: impl Into<IpAddr>, count: u32) -> Result<(), String> {
    let addr = addr.into();
    if count == 0 || count > MAX_PING_COUNT {
        return Err(format!(
            "ping count {count} is out of range; use 1 to {MAX_PING_COUNT}"
        ));
    }

    let count_arg = count.to_string();
    let deadline_arg = (count / 5 + 3).to_string();
    let addr_arg = addr.to_string();
    let output = command::run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "ping",
            "-n",
            "-q",
            "-c",
            &count_arg,
            "-W",
            "2",
            "-i",
            "0.2",
            "-w",
            &deadline_arg,
            &addr_arg,
        ],
    );
    output
        .map(drop)
        .map_err(|error| format!("{addr} is not reachable from namespace {ns}: {error}"))
}
