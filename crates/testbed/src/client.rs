//! OpenVPN's own client, run in the client namespace as a reference peer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::openvpn_process::{log_len, log_tail, read_log_from, start_openvpn};
use crate::process::ProcessGuard;
use crate::testbed::{Shared, Testbed};

/// An `openvpn` client process started by the test, stopped by PID when dropped.
///
/// It checks a server configuration and profile against the stock client, and gives
/// transfer checks a working tunnel to compare ferrovpn with.
#[derive(Debug)]
pub struct OpenVpnClient {
    /// The running process, or `None` after [`OpenVpnClient::stop`]. Declared first so it
    /// is stopped before `shared` can delete the namespace.
    process: Option<ProcessGuard>,
    /// Profile passed to `openvpn --config`.
    profile: PathBuf,
    /// File receiving the client's standard output and error.
    log: PathBuf,
    /// Namespaces and directory of the test bed.
    shared: Arc<Shared>,
}

impl OpenVpnClient {
    /// Starts `openvpn --config <profile>` in the client namespace and waits up to 20 s
    /// for "Initialization Sequence Completed".
    ///
    /// Panics with the tail of the client log if openvpn exits or does not get ready in time.
    pub fn start(testbed: &Testbed, profile: &Path) -> OpenVpnClient {
        let log = testbed.unique_path("openvpn-client", "log");
        let process = start_openvpn(
            testbed.client_ns(),
            profile,
            &log,
            log_len(&log),
            "openvpn client",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        tracing::info!(pid = process.pid(), ns = %testbed.client_ns(), "openvpn client ready");

        OpenVpnClient {
            process: Some(process),
            profile: profile.to_owned(),
            log,
            shared: Arc::clone(&testbed.shared),
        }
    }

    /// Stops the client: SIGTERM to its PID, SIGKILL after 5 s, then reaps it.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// PID of the running client process, or `None` once it is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ProcessGuard::pid)
    }

    /// Whole client log.
    pub fn log(&self) -> String {
        read_log_from(&self.log, 0)
    }

    /// Last 40 lines of the log, after a header naming the log file.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Profile the client runs with.
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    /// Name of the namespace the client runs in.
    pub fn ns(&self) -> &str {
        &self.shared.client_ns
    }
}
