//! The `ferrovpn` binary run inside a test bed's client namespace, with its JSON progress read back.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ferrovpn_testbed::{Netns, Testbed};
use serde_json::Value;

/// A running `ferrovpn connect`.
pub struct FerrovpnClient {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    events: Receiver<Value>,
    /// Every event seen so far, for failure messages.
    pub seen: Vec<Value>,
    log_path: PathBuf,
}

impl FerrovpnClient {
    /// Starts `ferrovpn -vv connect PROFILE --json` in the client namespace.
    pub fn start(testbed: &Testbed, profile: &Path, extra: &[&str]) -> FerrovpnClient {
        let log_path = testbed.unique_path("ferrovpn", "log");
        let log = std::fs::File::create(&log_path).expect("create client log");
        let mut command = Netns::command(testbed.client_ns(), env!("CARGO_BIN_EXE_ferrovpn"));
        command
            .args(["-vv", "connect", "--json"])
            .arg(profile)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .stdin(Stdio::piped());
        let mut child = command.spawn().expect("spawn ferrovpn");

        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, events) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(value) => {
                        if sender.send(value).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("ferrovpn printed a line that is not JSON: {line}"),
                }
            }
        });

        FerrovpnClient {
            child: Some(child),
            stdin,
            events,
            seen: Vec::new(),
            log_path,
        }
    }

    /// Writes one answer line to the client's standard input.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("client standard input open");
        writeln!(stdin, "{line}").expect("write an answer line");
        stdin.flush().expect("flush the answer line");
    }

    /// Process id of the client.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Waits for the next event named `name`, failing with the log on timeout.
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if event["event"] == name {
                        return event;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no {name:?} event within {timeout:?}; events: {:?}\nclient log tail:\n{}",
                    self.seen,
                    self.log_tail()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "ferrovpn exited before a {name:?} event; events: {:?}\nclient log tail:\n{}",
                    self.seen,
                    self.log_tail()
                ),
            }
        }
    }

    /// Takes every event that arrived so far without waiting.
    pub fn drain_events(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }

    /// Number of events named `name` seen so far.
    pub fn count(&mut self, name: &str) -> usize {
        self.drain_events();
        self.seen
            .iter()
            .filter(|event| event["event"] == name)
            .count()
    }

    /// The client's log (standard error at -vv).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The last 60 lines of the log.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Sends SIGTERM and waits up to 15 s for the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let pid = self.child.as_ref().expect("client still running").id();
        // SAFETY: kill with the PID of a child this test spawned and has not reaped.
        unsafe {
            libc::kill(pid as i32, libc::SIGTERM);
        }
        self.wait_exit(Duration::from_secs(15))
    }

    /// Waits up to `timeout` for the client to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("client still running");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for ferrovpn") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "ferrovpn did not exit within {timeout:?}; log tail:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FerrovpnClient {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Names of the TUN devices ferrovpn created in namespace `ns`.
pub fn ferrovpn_devices(ns: &str) -> Vec<String> {
    let output = Netns::command(ns, "ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("run ip link show");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split(':').nth(1).map(|name| name.trim().to_owned()))
        .filter(|name| name.starts_with("ferrovpn"))
        .collect()
}
