//! A real OpenVPN server process running in the server namespace of a test bed.

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::management;
use crate::openvpn_process::{log_len, log_tail, read_log_from, start_openvpn};
use crate::pki::write_file;
use crate::process::ProcessGuard;
use crate::server_config::{
    expected_credentials_text, ServerConfig, ServerFiles, BUILT_IN_VERIFY_SCRIPT,
};
use crate::testbed::{Shared, Testbed};
use crate::wait::wait_for;

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
        read_log_from(&self.files.log, 0)
    }

    /// Part of the server log written since the current process started.
    pub fn current_run_log(&self) -> String {
        read_log_from(&self.files.log, self.run_log_offset)
    }

    /// Last 40 lines of the log, after a header naming the log file.
    pub fn log_tail(&self) -> String {
        log_tail(&self.files.log)
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

    /// Starts a new openvpn process and waits until it is ready, panicking on failure.
    fn launch(&mut self) {
        self.run_log_offset = log_len(&self.files.log);
        let process = start_openvpn(
            &self.shared.server_ns,
            &self.files.config,
            &self.files.log,
            self.run_log_offset,
            "openvpn server",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        self.process = Some(process);

        tracing::info!(
            pid = self.pid(),
            ns = %self.shared.server_ns,
            proto = ?self.config.proto,
            "openvpn server ready"
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
