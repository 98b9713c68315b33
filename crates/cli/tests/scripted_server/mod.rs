//! A stock OpenVPN 2.6 server whose `auth-user-pass-verify` and `client-crresponse` script
//! is written by the test, so it can send any `AUTH_FAILED` reason or pending-auth text,
//! and a `ferrovpn` run whose arguments, JSON output and exit status the test controls.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use ferrovpn_testbed::{Credentials, Netns, OpenVpnServer, Pki, ServerConfig, Testbed};
use serde_json::Value;

/// Username in every profile.
pub const USERNAME: &str = "alice";

/// A test bed with a server run by a test's script, and a client profile for it.
pub struct ScriptedServer {
    /// The namespaces and the temporary directory.
    pub testbed: Testbed,
    /// The running server.
    pub server: OpenVpnServer,
    /// The client profile.
    pub profile: PathBuf,
    /// File to which the script appends one line per call.
    pub calls: PathBuf,
}

impl ScriptedServer {
    /// Starts a server that runs `script` (sh) for `auth-user-pass-verify` and for
    /// `client-crresponse`. In the script, `$CALLS` is the path of a log it may append to.
    ///
    /// With `password`, the profile gets an `auth-user-pass` file for [`USERNAME`],
    /// otherwise a bare `auth-user-pass`. Each entry of `extra` is one more profile line.
    pub fn start(
        name: &str,
        script: &str,
        server: impl FnOnce(ServerConfig) -> ServerConfig,
        password: Option<&str>,
        extra: &[&str],
    ) -> ScriptedServer {
        let testbed = Testbed::new(name);
        let pki = Pki::generate(testbed.dir());
        let calls = testbed.dir().join("script-calls.log");
        std::fs::write(&calls, "").expect("create the call log");
        let script = format!("#!/bin/sh\nCALLS='{}'\n{script}", calls.display());
        let crresponse = testbed.dir().join("crresponse.sh");
        std::fs::write(&crresponse, &script).expect("write the crresponse script");
        std::process::Command::new("chmod")
            .arg("755")
            .arg(&crresponse)
            .status()
            .expect("chmod");
        let crresponse_line = format!("client-crresponse {}", crresponse.display());
        let config = server(
            ServerConfig::new(&pki)
                .tls_crypt()
                .verify_script(&script)
                .extra_line(&crresponse_line),
        );
        let server = OpenVpnServer::start(&testbed, &config);

        let credentials = password.map(|password| Credentials {
            username: USERNAME.to_owned(),
            password: password.to_owned(),
        });
        let mut lines: Vec<&str> = extra.to_vec();
        if password.is_none() {
            lines.push("auth-user-pass");
        }
        let text =
            testbed.client_profile_with_credentials(&pki, &config, credentials.as_ref(), &lines);
        let profile = testbed.unique_path(name, "ovpn");
        std::fs::write(&profile, text).expect("write the profile");
        ScriptedServer {
            testbed,
            server,
            profile,
            calls,
        }
    }

    /// Lines the script appended to `$CALLS` so far.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// A running `ferrovpn` whose standard output is read as JSON lines.
pub struct Client {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every standard output line read so far.
    pub seen: Vec<String>,
    /// Path of the standard error log.
    pub log_path: PathBuf,
}

impl Client {
    /// Starts `ferrovpn ARGS` in the client namespace with piped standard input.
    pub fn start(testbed: &Testbed, args: &[&str]) -> Client {
        let log_path = testbed.unique_path("ferrovpn", "log");
        let log = std::fs::File::create(&log_path).expect("create the client log");
        let mut command = Netns::command(testbed.client_ns(), env!("CARGO_BIN_EXE_ferrovpn"));
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .stdin(Stdio::piped());
        let mut child = command.spawn().expect("spawn ferrovpn");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Client {
            child: Some(child),
            stdin,
            lines,
            seen: Vec::new(),
            log_path,
        }
    }

    /// Writes one line to standard input.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("standard input open");
        let _ = writeln!(stdin, "{line}");
        let _ = stdin.flush();
    }

    /// Closes standard input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the next JSON event named `name`, or `None` after `timeout` or at exit.
    pub fn next_event(&mut self, name: &str, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let Ok(event) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    if event["event"] == name {
                        return Some(event);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Takes the lines printed so far without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    /// Number of JSON events named `name` so far.
    pub fn count(&mut self, name: &str) -> usize {
        self.drain();
        self.seen
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["event"] == name)
            .count()
    }

    /// Returns the standard error log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends `signal` to the client.
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill with the PID of a child this test spawned and has not reaped.
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    /// Waits up to `timeout` for the exit status; after that, kills the client and returns `None`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("wait for ferrovpn") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits up to 15 s.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(15))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
