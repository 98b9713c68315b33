//! Smoke test of the one-command demo: `scripts/demo --auto-answer` builds the example and
//! the binaries, runs the whole second-factor flow against a real OpenVPN 2.6 server with
//! ferrovpn-authd, and must leave no namespace, process or file behind.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time the demo may take before the test stops it. A warm target directory makes a run
/// take seconds, and the limit leaves room to build ferrovpn-authd and the example first.
const DEMO_TIMEOUT: Duration = Duration::from_secs(300);

/// Time the demo gets to clean up after SIGTERM before it receives SIGKILL.
const CLEANUP_GRACE: Duration = Duration::from_secs(30);

/// Environment variable set for the demo. Every process it starts inherits it, which is
/// how the test finds processes the demo left running.
const MARKER_VARIABLE: &str = "FERROVPN_DEMO_SMOKE_TEST";

/// Directory where `ip netns add` keeps named network namespaces.
const NETNS_DIR: &str = "/var/run/netns";

/// Audit line of ferrovpn-authd for a code accepted in the CR_TEXT flow.
const CODE_ACCEPTED: &str = "flow=crtext outcome=accepted reason=code accepted";

/// Last line of a demo run in which every step passed.
const DONE_LINE: &str = "demo: done";

#[test]
fn demo_auto_answer_leaves_nothing() {
    let temp_root = tempfile::tempdir().expect("create the demo's temporary directory");
    let marker = unique_marker();
    let mut command = Command::new(demo_script());
    remove_cargo_test_variables(&mut command);
    command.arg("--auto-answer");
    if cfg!(debug_assertions) {
        command.arg("--debug");
    }
    let child = command
        .env("TMPDIR", temp_root.path())
        .env(MARKER_VARIABLE, &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start scripts/demo");
    // scripts/demo replaces itself with the example, so this PID is also the one that the
    // test bed puts into the names of its namespaces.
    let demo_pid = child.id();

    let run = wait_bounded(child);
    let transcript = format!(
        "exit status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        run.status, run.stdout, run.stderr
    );
    assert!(
        run.status.is_some_and(|status| status.success()),
        "the demo must exit with 0 within {} s:\n{transcript}",
        DEMO_TIMEOUT.as_secs()
    );
    assert!(
        run.stdout.contains(CODE_ACCEPTED),
        "ferrovpn-authd must accept the computed code:\n{transcript}"
    );
    assert!(
        run.stdout.contains(DONE_LINE),
        "the demo must print {DONE_LINE:?}:\n{transcript}"
    );

    let namespaces = namespaces_of(demo_pid);
    assert_eq!(
        namespaces,
        Vec::<String>::new(),
        "namespaces of demo pid {demo_pid} left behind"
    );
    let processes = processes_with_marker(&marker);
    assert_eq!(
        processes,
        Vec::<String>::new(),
        "processes started by the demo still run"
    );
    let files = entries_of(temp_root.path());
    assert_eq!(
        files,
        Vec::<PathBuf>::new(),
        "files left in the demo's temporary directory"
    );
}

/// Path of `scripts/demo` in the repository.
fn demo_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/demo")
}

/// Removes the variables that cargo sets for the test process from the environment of
/// `command`, so that the `cargo build` in scripts/demo gets the environment of a plain
/// build.
///
/// Build scripts such as ring's declare `rerun-if-env-changed=CARGO_PKG_NAME`, and cargo
/// compares such variables in its own environment. Passed on, they would rebuild those
/// crates in the demo's build and again in the next plain build.
fn remove_cargo_test_variables(command: &mut Command) {
    const SET_BY_CARGO: [&str; 9] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo = SET_BY_CARGO.contains(&name.as_ref())
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_EXE_");
        if set_by_cargo {
            command.env_remove(name.as_ref());
        }
    }
}

/// Value of [`MARKER_VARIABLE`] that no other run uses.
fn unique_marker() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// Exit status and output of the demo.
struct DemoRun {
    /// Exit status, or `None` if the demo had to be killed.
    status: Option<ExitStatus>,
    /// Standard output.
    stdout: String,
    /// Standard error.
    stderr: String,
}

/// Waits for the demo and collects its output. After [`DEMO_TIMEOUT`] it sends SIGTERM, on
/// which the demo cleans up, and SIGKILL after [`CLEANUP_GRACE`].
fn wait_bounded(mut child: Child) -> DemoRun {
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());

    let mut deadline = Instant::now() + DEMO_TIMEOUT;
    let mut terminated = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            if terminated {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            let pid = libc::pid_t::try_from(child.id()).expect("PID fits pid_t");
            // SAFETY: kill has no memory-safety preconditions, and the PID is an unreaped
            // child of this test, so it cannot name another process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            terminated = true;
            deadline = Instant::now() + CLEANUP_GRACE;
        }
        thread::sleep(Duration::from_millis(100));
    };

    DemoRun {
        // A run stopped by the test counts as failed even if it exited with 0 on SIGTERM.
        status: status.filter(|_| !terminated),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Reads a pipe to its end on a thread of its own.
fn collect(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Names of the namespaces that the demo with PID `pid` created: the test bed's
/// `fv-demo-PID-N-srv` and `-cli`, and the `ferrovpn-probe-PID` of scripts/demo.
fn namespaces_of(pid: u32) -> Vec<String> {
    let testbed_prefix = format!("fv-demo-{pid}-");
    let probe = format!("ferrovpn-probe-{pid}");
    let Ok(entries) = fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&testbed_prefix) || *name == probe)
        .collect()
}

/// PIDs and names of the running processes whose environment contains `marker`.
fn processes_with_marker(marker: &str) -> Vec<String> {
    let needle = format!("{MARKER_VARIABLE}={marker}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        // Processes that exit meanwhile, or kernel threads, have no readable environment.
        let Ok(environ) = fs::read(entry.path().join("environ")) else {
            continue;
        };
        let marked = environ
            .split(|&byte| byte == 0)
            .any(|variable| variable == needle.as_bytes());
        if marked {
            let command = fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(format!("{name} ({})", command.trim()));
        }
    }
    found
}

/// Entries of directory `dir`.
fn entries_of(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default()
}
