//! Commands and file reads that show the state of the demo's namespaces and check that
//! its processes, devices and files are gone at the end.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

use ferrovpn_testbed::Netns;

use crate::console::{describe_status, detail, Failure, INDENT};

/// Echo requests sent to the server's tunnel address.
const PING_COUNT: &str = "3";

/// Upper bound in seconds for the whole ping run (`ping -w`).
const PING_DEADLINE_SECONDS: &str = "5";

/// Returns "OpenVPN 2.6.x" from the first line of `openvpn --version`.
pub fn openvpn_version() -> String {
    let output = Command::new("openvpn").arg("--version").output();
    let banner = output
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let words: Vec<&str> = banner.split_whitespace().take(2).collect();
    if words.len() == 2 {
        words.join(" ")
    } else {
        "openvpn".to_owned()
    }
}

/// Prints the lines of the server configuration at `config` whose directive is one of
/// `directives`.
pub fn print_directives(config: &Path, directives: &[&str]) -> Result<(), Failure> {
    let text = std::fs::read_to_string(config).map_err(|error| {
        format!(
            "failed to read the server configuration {}: {error}",
            config.display()
        )
    })?;
    for line in text.lines() {
        let directive = line.split_whitespace().next().unwrap_or_default();
        if directives.contains(&directive) {
            println!("{INDENT}| {line}");
        }
    }
    Ok(())
}

/// Runs a bounded `ping` from namespace `ns` to `addr` and prints its output.
pub fn ping_through_tunnel(ns: &str, addr: Ipv4Addr) -> Result<(), Failure> {
    let addr_arg = addr.to_string();
    let args = [
        "-n",
        "-c",
        PING_COUNT,
        "-i",
        "0.2",
        "-W",
        "2",
        "-w",
        PING_DEADLINE_SECONDS,
        &addr_arg,
    ];
    detail(&format!("$ ip netns exec {ns} ping {}", args.join(" ")));
    let output = Netns::command(ns, "ping")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("failed to run ping in {ns}: {error}"))?;

    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if !line.is_empty() {
            detail(&format!("  {line}"));
        }
    }
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ping to {addr} through the tunnel failed with {}: {}",
            describe_status(output.status),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into())
    }
}

/// Runs `ip ARGS`, printing the command and its output, indented.
pub fn show_ip(args: &[&str]) -> Result<(), Failure> {
    detail(&format!("$ ip {}", args.join(" ")));
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("failed to run `ip {}`: {error}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "`ip {}` failed with {}: {}",
            args.join(" "),
            describe_status(output.status),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        detail(&format!("  {line}"));
    }
    Ok(())
}

/// Fails if namespace `ns` still has device `device` or any device named `ferrovpn*`.
pub fn check_no_device(ns: &str, device: &str) -> Result<(), Failure> {
    let output = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show"])
        .output()
        .map_err(|error| format!("failed to run `ip -n {ns} link show`: {error}"))?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let left: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .map(str::trim)
        .filter(|name| *name == device || name.starts_with("ferrovpn"))
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("the device(s) {left:?} are still in {ns} after the disconnect").into())
    }
}

/// Fails if `pid` still names a process called `name`.
pub fn check_process_gone(pid: u32, name: &str) -> Result<(), Failure> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == name {
        Err(format!("{name} (pid {pid}) is still running after it was stopped").into())
    } else {
        Ok(())
    }
}

/// Fails if any of `namespaces` or the directory `dir` still exists.
pub fn check_removed(namespaces: &[String], dir: &Path) -> Result<(), Failure> {
    for ns in namespaces {
        if Netns::exists(ns) {
            return Err(format!(
                "network namespace {ns} still exists; delete it with `sudo ip netns delete {ns}`"
            )
            .into());
        }
    }
    if dir.exists() {
        return Err(format!("temporary directory {} still exists", dir.display()).into());
    }
    Ok(())
}
