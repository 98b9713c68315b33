//! `ferrovpn-authd`: enrolling the demo user and running the daemon in front of the
//! server's management interface.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ferrovpn_testbed::{Netns, ProcessGuard};

use crate::console::{check_interrupted, describe_status, Failure, POLL_INTERVAL};
use crate::log_file::LogFile;
use crate::totp_code::decode_base32;

/// Bytes of randomness in the demo user's password, printed as twice as many hex digits.
pub const PASSWORD_BYTES: usize = 12;

/// Line that `ferrovpn-authd run` logs once it is attached to the management interface.
const ATTACHED_LINE: &str = "connected to the management interface";

/// Time `ferrovpn-authd run` gets to attach to the management interface.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(20);

/// Output of `ferrovpn-authd user add` for the new user.
pub struct Enrolment {
    /// Standard output of `user add`: the heading, the QR code, the secret and the URI.
    pub output: String,
    /// The TOTP secret, decoded from the `secret:` line.
    pub secret: Vec<u8>,
}

/// Generates the demo user's password as hex digits from `/dev/urandom`.
pub fn random_password() -> Result<String, Failure> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| format!("failed to read /dev/urandom for a password: {error}"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Runs `ferrovpn-authd --database DATABASE user add USER --password-stdin` and returns
/// what it printed, with the secret taken from its `secret:` line.
pub fn enrol_user(
    authd: &Path,
    database: &Path,
    user: &str,
    password: &str,
) -> Result<Enrolment, Failure> {
    let mut child = Command::new(authd)
        .arg("--database")
        .arg(database)
        .args(["user", "add", user, "--password-stdin"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("failed to run {} user add: {error}", authd.display()))?;

    // The password is one line on standard input, so it never shows in `ps`.
    let mut stdin = child.stdin.take().expect("standard input is piped");
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .map_err(|error| format!("failed to pass the password to user add: {error}"))?;
    drop(stdin);

    let output = child
        .wait_with_output()
        .map_err(|error| format!("failed to wait for user add: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "`ferrovpn-authd user add {user}` failed with {}: {}",
            describe_status(output.status),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }

    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let base32 = text
        .lines()
        .find_map(|line| line.strip_prefix("secret:"))
        .map(str::trim)
        .ok_or_else(|| format!("no `secret:` line in the output of user add:\n{text}"))?;
    let secret = decode_base32(base32)?;
    Ok(Enrolment {
        output: text,
        secret,
    })
}

/// Starts `ferrovpn-authd --database DATABASE run --management SOCKET` in namespace `ns`
/// with its output going to `log`, and waits until it is attached.
pub fn start(
    authd: &Path,
    ns: &str,
    database: &Path,
    management_socket: &Path,
    log: &LogFile,
    log_handle: File,
) -> Result<ProcessGuard, Failure> {
    let mut command = Netns::command(ns, &authd.to_string_lossy());
    command
        .arg("--database")
        .arg(database)
        .arg("run")
        .arg("--management")
        .arg(management_socket)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(
            log_handle
                .try_clone()
                .map_err(|error| format!("failed to share the authd log handle: {error}"))?,
        )
        .stderr(log_handle)
        // Its own process group keeps Ctrl-C away from it, so the demo stops it in order.
        .process_group(0);
    let mut process = ProcessGuard::spawn(command, "ferrovpn-authd")
        .map_err(|error| format!("failed to start ferrovpn-authd in {ns}: {error}"))?;

    let deadline = Instant::now() + ATTACH_TIMEOUT;
    while !log.text().contains(ATTACHED_LINE) {
        check_interrupted()?;
        if let Ok(Some(status)) = process.try_wait() {
            let message = format!(
                "ferrovpn-authd exited with {} before it attached to {}",
                describe_status(status),
                management_socket.display()
            );
            return Err(Failure::from(message).with_context(&log.tail()));
        }
        if Instant::now() >= deadline {
            let message = format!(
                "ferrovpn-authd did not attach to {} within {} s",
                management_socket.display(),
                ATTACH_TIMEOUT.as_secs()
            );
            return Err(Failure::from(message).with_context(&log.tail()));
        }
        thread::sleep(POLL_INTERVAL);
    }
    Ok(process)
}
