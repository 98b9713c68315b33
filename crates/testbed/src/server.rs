//! A real OpenVPN server process running in the server namespace of a test bed.

use std::fs::{self, File, OpenOptions};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::management;
use crate::netns::Netns;
use crate::pki::write_file;
use crate::process::ProcessGuard;
use crate::server_config::{
    expected_credentials_text, ServerConfig, ServerFiles, BUILT_IN_VERIFY_SCRIPT,
};
use crate::testbed::{Shared, Testbed};
use crate::wait::wait_for;

/// Log line with which OpenVPN 2.6 reports that it is ready for clients.
pub const INITIALIZATION_COMPLETED: &str = "Initialization Sequence Completed";

/// Time the server gets to reach [`INITIALIZATION_COMPLETED`] before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Number of log lines shown in a panic message.
const LOG_TAIL_LINES: usize = 40;

/// Interval between two checks of a starting server.
const START_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Time allowed for one management interface command.
const MANAGEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// An `openvpn` server process started by the test, stopped by PID when dropped.
///
/// The server keeps the test bed's namespaces and directory alive until it is dropped, so
/// the order in which a test drops the two does not matter.
#[derive(Debug)]
pub struct OpenVpnServer {
    /// The running process, or `None` after [`OpenVpnServer::stop`]. Declared first so it
    /// is stopped before `shared` can delete the namespace.
    process: Option<ProcessGuard>,
    /// Configuration the server runs with, kept for restarts and client profiles.
    config: ServerConfig,
    /// Files of this server inside the test bed directory.
    files: ServerFiles,
    /// Length of the log file when the current process started.
    run_log_offset: usize,
    /// Namespaces and directory of the test bed.
    shared: Arc<Shared>,
}

impl OpenVpnServer {
    /// Writes the configuration into a new directory and starts the server in the server
    /// namespace, waiting up to 20 s for "Initialization Sequence Completed".
    ///
    /// Panics with the tail of the server log if openvpn exits or does not get ready in time.
    pub fn start(testbed: &Testbed, config: &ServerConfig) -> OpenVpnServer {
        let number = testbed.shared.next_file_number();
        let dir = testbed.dir().join(format!("server-{number}"));
        let files = ServerFiles::in_dir(&dir);
        write_server_files(&dir, &files, config);

        let mut server = OpenVpnServer {
            process: None,
            config: config.clone(),
            files,
            run_log_offset: 0,
            shared: Arc::clone(&testbed.shared),
        };
        server.launch();
        server
    }

    /// Stops the server: SIGTERM to its PID, SIGKILL after 5 s, then reaps it.
    ///
    /// Does nothing if the server is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let status = process.stop();
            tracing::debug!(pid = process.pid(), ?status, "stopped openvpn server");
        }
    }

    /// Stops the server and starts a new process with the same configuration and files.
    ///
    /// Panics like [`OpenVpnServer::start`] if the new process does not get ready.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// PID of the running server process, or `None` once it is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ProcessGuard::pid)
    }

    /// Returns whether the server process is running.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(ProcessGuard::is_running)
    }

    /// Whole server log, covering every process started by `start` and `restart`.
    pub fn log(&self) -> String {
        read_log(&self.files.log)
    }

    /// Part of the server log written since the current process started.
    pub fn current_run_log(&self) -> String {
        let bytes = fs::read(&self.files.log).unwrap_or_default();
        let current = bytes.get(self.run_log_offset..).unwrap_or_default();
        String::from_utf8_lossy(current).into_owned()
    }

    /// Waits until the log of the current process contains `needle`.
    ///
    /// The error carries the tail of the log.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> Result<(), String> {
        let what = format!("openvpn server log to contain {needle:?}");
        wait_for(|| self.current_run_log().contains(needle), timeout, &what)
            .map_err(|error| format!("{error}\n{}", self.log_tail()))
    }

    /// Configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Path of the configuration file passed to `openvpn --config`.
    pub fn config_path(&self) -> &Path {
        &self.files.config
    }

    /// Path of the log file, which receives the server's standard output and error.
    pub fn log_path(&self) -> &Path {
        &self.files.log
    }

    /// Unix socket of the management interface, if the configuration enables it.
    pub fn management_socket(&self) -> Option<&Path> {
        self.config
            .management
            .then_some(self.files.management_socket.as_path())
    }

    /// Sends one command, such as "status" or "kill ferrovpn-test-client", to the management
    /// interface and returns its response without the greeting and notifications.
    ///
    /// Fails if the management interface is not enabled or does not respond within 10 s.
    pub fn management_command(&self, command: &str) -> Result<String, String> {
        let socket = self.management_socket().ok_or_else(|| {
            "the server has no management interface; enable ServerConfig::management".to_owned()
        })?;
        management::command(socket, command, MANAGEMENT_TIMEOUT)
    }

    /// Last lines of the log, prefixed with a header naming the log file.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "last {} lines of {}:\n{}",
            lines.len() - start,
            self.files.log.display(),
            lines[start..].join("\n")
        )
    }

    /// Starts a new openvpn process and waits until it is ready.
    fn launch(&mut self) {
        self.run_log_offset = fs::read(&self.files.log).map_or(0, |bytes| bytes.len());
        let log = open_log(&self.files.log);
        let log_for_stderr = log
            .try_clone()
            .unwrap_or_else(|error| panic!("failed to duplicate the log file handle: {error}"));

        let config_arg = self.files.config.to_string_lossy().into_owned();
        let mut command = Netns::command(&self.shared.server_ns, "openvpn");
        command
            .args(["--config", &config_arg])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_for_stderr);

        let process = ProcessGuard::spawn(command, "openvpn server")
            .unwrap_or_else(|error| panic!("failed to start `ip netns exec ... openvpn`: {error}"));
        self.process = Some(process);

        self.wait_until_ready();
        tracing::info!(
            pid = self.pid(),
            ns = %self.shared.server_ns,
            proto = ?self.config.proto,
            "openvpn server ready"
        );
    }

    /// Polls the process and its log until it is ready, panicking if it exits or times out.
    fn wait_until_ready(&mut self) {
        let start = Instant::now();
        let max_polls = START_TIMEOUT.as_millis() / START_POLL_INTERVAL.as_millis() + 1;

        for _ in 0..max_polls {
            if self.current_run_log().contains(INITIALIZATION_COMPLETED) {
                return;
            }

            let process = self
                .process
                .as_mut()
                .expect("a launched server has a process");
            match process.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    self.process = None;
                    panic!(
                        "openvpn server exited with {status} before \"{INITIALIZATION_COMPLETED}\"\
                         \n{}",
                        self.log_tail()
                    );
                }
                Err(error) => panic!("failed to poll the openvpn server process: {error}"),
            }

            if start.elapsed() >= START_TIMEOUT {
                break;
            }
            thread::sleep(START_POLL_INTERVAL);
        }

        self.stop();
        panic!(
            "openvpn server did not log \"{INITIALIZATION_COMPLETED}\" within {} s\n{}",
            START_TIMEOUT.as_secs(),
            self.log_tail()
        );
    }
}

/// Writes the configuration, keys, scripts and working directories of a server.
fn write_server_files(dir: &Path, files: &ServerFiles, config: &ServerConfig) {
    fs::create_dir_all(&files.tmp_dir)
        .unwrap_or_else(|error| panic!("failed to create {:?}: {error}", files.tmp_dir));

    write_file(&files.ca_cert, &config.ca_cert_pem, 0o644);
    write_file(&files.server_cert, &config.server_cert_pem, 0o644);
    write_file(&files.server_key, &config.server_key_pem, 0o600);
    write_file(&files.wrap_key, &config.wrap_key, 0o600);

    if let Some(credentials) = &config.credentials {
        let text = expected_credentials_text(credentials);
        write_file(&files.expected_credentials, &text, 0o600);
    }
    if config.checks_credentials() {
        let script = config
            .verify_script
            .as_deref()
            .unwrap_or(BUILT_IN_VERIFY_SCRIPT);
        write_file(&files.verify_script, script, 0o700);
    }

    write_file(&files.config, &config.render(files), 0o644);
    tracing::debug!(dir = %dir.display(), "wrote openvpn server files");
}

/// Opens the log file for appending, creating it if needed.
fn open_log(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|error| panic!("failed to open the server log {path:?}: {error}"))
}

/// Reads the log file, or returns an empty string if it does not exist yet.
fn read_log(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}
