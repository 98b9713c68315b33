//! The ferrovpn daemon in the client namespace, and the app commands (`connect`, `auth`,
//! `status`, `disconnect`) that talk to it over its socket.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ferrovpn_testbed::{Netns, ProcessGuard};
use serde_json::Value;

use crate::console::{
    check_interrupted, describe_status, detail, detail_lines, Failure, POLL_INTERVAL,
};
use crate::log_file::LogFile;

/// Environment variable through which app commands find the daemon's socket.
pub const SOCKET_ENV: &str = "FERROVPN_SOCKET";

/// Time the daemon gets to create its socket.
const DAEMON_START_TIMEOUT: Duration = Duration::from_secs(10);

/// Time one app command may take.
const APP_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Interval between two `status --json` queries while waiting for a session.
const STATUS_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Next event of a session that the demo waits for.
pub enum Progress {
    /// An auth request that the demo has not answered yet, as `auth --json` lists it.
    Request(Value),
    /// The tunnel is up. Contains the session's `status --json` object.
    Connected(Value),
}

/// The `ferrovpn` binary and the socket of the daemon that its app commands talk to.
pub struct App {
    /// Path of the `ferrovpn` binary.
    ferrovpn: PathBuf,
    /// Unix socket of the daemon.
    socket: PathBuf,
}

impl App {
    /// Describes app commands of `ferrovpn` that reach the daemon on `socket`.
    pub fn new(ferrovpn: &Path, socket: PathBuf) -> App {
        App {
            ferrovpn: ferrovpn.to_owned(),
            socket,
        }
    }

    /// Unix socket of the daemon.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Starts `ferrovpn -v --socket SOCKET daemon` in namespace `ns`, its output going to
    /// `log`, and waits until the socket exists.
    pub fn start_daemon(
        &self,
        ns: &str,
        log: &LogFile,
        log_handle: File,
    ) -> Result<ProcessGuard, Failure> {
        let mut command = Netns::command(ns, &self.ferrovpn.to_string_lossy());
        command
            .arg("-v")
            .arg("--socket")
            .arg(&self.socket)
            .arg("daemon")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(
                log_handle
                    .try_clone()
                    .map_err(|error| format!("failed to share the daemon log handle: {error}"))?,
            )
            .stderr(log_handle)
            // Its own process group keeps Ctrl-C away from it, so the demo stops it in order.
            .process_group(0);
        let mut process = ProcessGuard::spawn(command, "ferrovpn daemon")
            .map_err(|error| format!("failed to start the ferrovpn daemon in {ns}: {error}"))?;

        let deadline = Instant::now() + DAEMON_START_TIMEOUT;
        while !self.socket.exists() {
            check_interrupted()?;
            if let Ok(Some(status)) = process.try_wait() {
                let message = format!(
                    "the ferrovpn daemon exited with {} before it created {}",
                    describe_status(status),
                    self.socket.display()
                );
                return Err(Failure::from(message).with_context(&log.tail()));
            }
            if Instant::now() >= deadline {
                let message = format!(
                    "the ferrovpn daemon did not create {} within {} s",
                    self.socket.display(),
                    DAEMON_START_TIMEOUT.as_secs()
                );
                return Err(Failure::from(message).with_context(&log.tail()));
            }
            thread::sleep(POLL_INTERVAL);
        }
        Ok(process)
    }

    /// Runs `ferrovpn ARGS` against the daemon and returns its output, whatever its exit
    /// status. Fails if it cannot start, takes longer than 30 s or on Ctrl-C.
    pub fn run(&self, args: &[&str]) -> Result<Output, Failure> {
        let mut command = Command::new(&self.ferrovpn);
        command
            .args(args)
            .env(SOCKET_ENV, &self.socket)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let child = command
            .spawn()
            .map_err(|error| format!("failed to run `ferrovpn {}`: {error}", args.join(" ")))?;
        wait_bounded(child, APP_COMMAND_TIMEOUT).map_err(|failure| {
            failure.with_context(&format!("command: ferrovpn {}", args.join(" ")))
        })
    }

    /// Prints `$ ferrovpn ARGS`, runs it and prints its output indented. Fails unless it
    /// exits with 0.
    pub fn show(&self, args: &[&str]) -> Result<Output, Failure> {
        detail(&format!("$ ferrovpn {}", args.join(" ")));
        let output = self.run(args)?;
        detail_lines("  ", &String::from_utf8_lossy(&output.stdout));
        detail_lines("  ", &String::from_utf8_lossy(&output.stderr));
        require_success(args, &output)?;
        Ok(output)
    }

    /// Like [`App::show`] for a command that prints JSON, printed pretty.
    pub fn show_json(&self, args: &[&str]) -> Result<Value, Failure> {
        detail(&format!("$ ferrovpn {}", args.join(" ")));
        let output = self.run(args)?;
        require_success(args, &output)?;
        let value = parse_json(args, &output)?;
        let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        detail_lines("  ", &pretty);
        Ok(value)
    }

    /// Returns the `status NAME --json` object of session `name`.
    pub fn session(&self, name: &str) -> Result<Value, Failure> {
        let args = ["status", name, "--json"];
        let output = self.run(&args)?;
        require_success(&args, &output)?;
        let sessions = parse_json(&args, &output)?;
        sessions.get(0).cloned().ok_or_else(|| {
            format!("`ferrovpn status {name} --json` listed no session: {sessions}").into()
        })
    }

    /// Waits until session `name` has an auth request other than `answered`, or is
    /// connected. Fails if the session fails, or after `timeout`.
    pub fn wait_for_progress(
        &self,
        name: &str,
        answered: Option<u64>,
        timeout: Duration,
    ) -> Result<Progress, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let session = self.session(name)?;
            match session["state"].as_str() {
                Some("connected") => return Ok(Progress::Connected(session)),
                Some("failed" | "disconnected") => {
                    return Err(format!(
                        "session {name} ended: {}",
                        session["last_error"]
                            .as_str()
                            .unwrap_or("no error reported")
                    )
                    .into())
                }
                _ => {}
            }
            let pending = session["pending"].as_array().cloned().unwrap_or_default();
            let request = pending
                .into_iter()
                .find(|request| request["id"].as_u64() != answered);
            if let Some(request) = request {
                return Ok(Progress::Request(request));
            }

            if Instant::now() >= deadline {
                return Err(format!(
                    "session {name} neither asked for a code nor connected within {} s; it is {}",
                    timeout.as_secs(),
                    session["state"].as_str().unwrap_or("in an unknown state")
                )
                .into());
            }
            check_interrupted()?;
            thread::sleep(STATUS_POLL_INTERVAL);
        }
    }

    /// Waits until session `name` is disconnected or `timeout` passes.
    pub fn wait_for_disconnected(&self, name: &str, timeout: Duration) -> Result<(), Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            let session = self.session(name)?;
            let state = session["state"].as_str().unwrap_or_default().to_owned();
            if state == "disconnected" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "session {name} is still {state} {} s after `ferrovpn disconnect`",
                    timeout.as_secs()
                )
                .into());
            }
            check_interrupted()?;
            thread::sleep(STATUS_POLL_INTERVAL);
        }
    }
}

/// Fails with the command's standard error unless it exited with 0.
fn require_success(args: &[&str], output: &Output) -> Result<(), Failure> {
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "`ferrovpn {}` failed with {}: {}",
        args.join(" "),
        describe_status(output.status),
        String::from_utf8_lossy(&output.stderr).trim()
    )
    .into())
}

/// Parses the standard output of a `--json` command.
fn parse_json(args: &[&str], output: &Output) -> Result<Value, Failure> {
    serde_json::from_slice(&output.stdout).map_err(|error| {
        format!(
            "`ferrovpn {}` printed invalid JSON ({error}): {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout)
        )
        .into()
    })
}

/// Waits for `child` to exit and collects its output, killing it after `timeout` or on
/// Ctrl-C.
fn wait_bounded(mut child: Child, timeout: Duration) -> Result<Output, Failure> {
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let deadline = Instant::now() + timeout;

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(error) => return Err(format!("failed to wait for a command: {error}").into()),
        }
        let interrupted = check_interrupted();
        if interrupted.is_err() || Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            interrupted?;
            return Err(
                format!("the command did not finish within {} s", timeout.as_secs()).into(),
            );
        }
        thread::sleep(POLL_INTERVAL / 5);
    };

    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a thread of its own, so neither pipe of a child can fill up.
fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}
