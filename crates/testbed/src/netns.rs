//! Running code and commands inside a named network namespace.

use std::ffi::CString;
use std::io;
use std::panic;
use std::path::PathBuf;
use std::process::Command;
use std::thread;

/// Directory where `ip netns add` bind-mounts named network namespaces.
const NETNS_RUN_DIR: &str = "/var/run/netns";

/// Entry points for work inside a named network namespace created by `ip netns add`.
///
/// A thread that calls `setns(CLONE_NEWNET)` moves only itself, so every socket it creates,
/// and every process it starts, belongs to that namespace. The other threads of the test
/// process stay where they were.
pub enum Netns {}

impl Netns {
    /// Runs `f` on a fresh thread that first enters the network namespace `name`.
    ///
    /// Sockets created by `f` belong to that namespace. A panic inside `f` is resumed on the
    /// calling thread. Panics if the namespace cannot be entered.
    pub fn run<T: Send>(name: &str, f: impl FnOnce() -> T + Send) -> T {
        let result = thread::scope(|scope| {
            thread::Builder::new()
                .name(format!("netns-{name}"))
                .spawn_scoped(scope, || {
                    enter(name).unwrap_or_else(|error| panic!("{error}"));
                    f()
                })
                .expect("failed to spawn a thread for the network namespace")
                .join()
        });

        match result {
            Ok(value) => value,
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// Starts `f` on a new thread inside the network namespace `name` and returns its handle.
    ///
    /// Joining the handle returns `Err` if the namespace could not be entered or `f` panicked.
    pub fn spawn<T: Send + 'static>(
        name: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> thread::JoinHandle<T> {
        let name = name.to_owned();
        thread::Builder::new()
            .name(format!("netns-{name}"))
            .spawn(move || {
                enter(&name).unwrap_or_else(|error| panic!("{error}"));
                f()
            })
            .expect("failed to spawn a thread for the network namespace")
    }

    /// Builds `ip netns exec <name> <program>`, to which the caller adds arguments.
    ///
    /// `ip netns exec` replaces itself with `program`, so the child's PID is the program's.
    pub fn command(name: &str, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", name, program]);
        command
    }

    /// Returns whether a namespace called `name` is mounted under `/var/run/netns`.
    pub fn exists(name: &str) -> bool {
        path(name).exists()
    }
}

/// Path of the bind mount that keeps the named namespace alive.
fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_RUN_DIR).join(name)
}

/// Moves the calling thread into the network namespace `name`.
fn enter(name: &str) -> Result<(), String> {
    let path = path(name);
    let c_path = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("network namespace name {name:?} contains a NUL byte"))?;

    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!(
            "failed to open network namespace {}: {}; was it created with `ip netns add`?",
            path.display(),
            io::Error::last_os_error()
        ));
    }

    // SAFETY: fd is an open descriptor owned here and closed right after the call.
    let status = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
    let setns_error = io::Error::last_os_error();
    // SAFETY: fd was returned by open above and is not used after this.
    unsafe { libc::close(fd) };

    if status != 0 {
        return Err(format!(
            "setns(CLONE_NEWNET) into {} failed: {setns_error}; the test needs root",
            path.display()
        ));
    }
    Ok(())
}
