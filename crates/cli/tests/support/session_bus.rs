//! A private session D-Bus: a `dbus-daemon` of its own, listening on a Unix socket in
//! the test's directory, so tests neither see nor disturb the desktop's bus.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrovpn_testbed::ProcessGuard;

/// Time the bus gets to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `dbus-daemon`, stopped by PID when dropped.
pub struct SessionBus {
    /// The daemon process.
    process: ProcessGuard,
    /// Address to put into `DBUS_SESSION_BUS_ADDRESS`, as the daemon printed it.
    address: String,
}

impl SessionBus {
    /// Starts a bus listening on `dir/bus`.
    ///
    /// The configuration names no service directories, so calling a name that nobody
    /// owns fails at once instead of starting a program installed on this machine.
    pub fn start(dir: &Path) -> SessionBus {
        let socket = dir.join("bus");
        let config = dir.join("session-bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write the bus configuration");

        // The daemon prints its address once it listens; a file keeps the pipe out of
        // the process guard.
        let address_file = dir.join("session-bus.address");
        let stdout = std::fs::File::create(&address_file).expect("create the address file");
        // As root it warns that it cannot raise its file limit; keep that out of test output.
        let stderr =
            std::fs::File::create(dir.join("session-bus.log")).expect("create the bus log");
        let mut command = Command::new("dbus-daemon");
        command
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
        let mut process =
            ProcessGuard::spawn(command, "dbus-daemon").expect("start dbus-daemon (package dbus)");

        let deadline = Instant::now() + START_TIMEOUT;
        let address = loop {
            let printed = std::fs::read_to_string(&address_file).unwrap_or_default();
            if let Some(line) = printed.lines().next().filter(|line| !line.is_empty()) {
                break line.to_owned();
            }
            assert!(
                process.is_running(),
                "dbus-daemon exited before it printed its address"
            );
            assert!(
                Instant::now() < deadline,
                "dbus-daemon printed no address within {START_TIMEOUT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };

        SessionBus { process, address }
    }

    /// Address of the bus, for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// PID of the `dbus-daemon`.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
