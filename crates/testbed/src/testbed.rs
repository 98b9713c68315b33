//! The test bed: a server and a client network namespace joined by a veth pair.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tempfile::TempDir;

use crate::addresses::{CLIENT_LINK_ADDR, LINK_PREFIX_LEN, SERVER_LINK_ADDR};
use crate::command;
use crate::netns::Netns;
use crate::preflight::require_root_and_tools;

/// Prefix of every namespace name this crate creates, used to find stale ones.
const NAMESPACE_PREFIX: &str = "fv-";

/// Linux limit on interface names, without the trailing NUL (`IFNAMSIZ - 1`).
const MAX_INTERFACE_NAME_LEN: usize = 15;

/// Number of characters of the test name kept in namespace names.
const MAX_NAME_PART_LEN: usize = 20;

/// Sequence number that keeps test beds of one process apart.
static NEXT_TESTBED: AtomicU32 = AtomicU32::new(1);

/// Two network namespaces joined by a veth pair, and a temporary directory.
///
/// The server namespace has 198.18.0.1/24 and the client namespace 198.18.0.2/24, both
/// links and both loopbacks up. Dropping the last owner (the test bed and every
/// [`crate::OpenVpnServer`] started on it) deletes both namespaces, which also removes the
/// veth pair, and the temporary directory. This happens during a panic too.
#[derive(Debug)]
pub struct Testbed {
    /// State shared with the servers started on this test bed.
    pub(crate) shared: Arc<Shared>,
}

/// Resources of a test bed, released when the last owner drops.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Name of the namespace that runs the OpenVPN server.
    pub(crate) server_ns: String,
    /// Name of the namespace that runs the client under test.
    pub(crate) client_ns: String,
    /// Name of the veth end inside the server namespace.
    pub(crate) server_link: String,
    /// Name of the veth end inside the client namespace.
    pub(crate) client_link: String,
    /// Temporary directory for configurations, keys and logs.
    pub(crate) dir: TempDir,
    /// Counter that gives files written into `dir` unique names.
    next_file: AtomicU32,
}

impl Shared {
    /// Returns a fresh number for naming a file or subdirectory of the temporary directory.
    pub(crate) fn next_file_number(&self) -> u32 {
        self.next_file.fetch_add(1, Ordering::Relaxed)
    }
}

impl Testbed {
    /// Creates the namespaces, the veth pair and the temporary directory.
    ///
    /// `name` identifies the test in namespace and interface names, together with the
    /// process id. Panics with a clear message if the process is not root, if iproute2 or
    /// openvpn is missing, or if any setup step fails, and undoes the steps already done.
    pub fn new(name: &str) -> Testbed {
        require_root_and_tools();
        delete_stale_namespaces();

        let pid = std::process::id();
        let sequence = NEXT_TESTBED.fetch_add(1, Ordering::Relaxed);
        let name_part = sanitize_name(name);
        let base = format!("{NAMESPACE_PREFIX}{name_part}-{pid}-{sequence}");

        let dir = tempfile::Builder::new()
            .prefix(&format!("ferrovpn-{name_part}-"))
            .tempdir()
            .unwrap_or_else(|error| panic!("failed to create a temporary directory: {error}"));

        let shared = Shared {
            server_ns: format!("{base}-srv"),
            client_ns: format!("{base}-cli"),
            server_link: interface_name(&name_part, pid, sequence, 's'),
            client_link: interface_name(&name_part, pid, sequence, 'c'),
            dir,
            next_file: AtomicU32::new(1),
        };
        let testbed = Testbed {
            shared: Arc::new(shared),
        };

        // From here on, a panic drops `testbed`, which deletes whatever was created.
        testbed.create_namespaces();
        tracing::debug!(
            server_ns = %testbed.server_ns(),
            client_ns = %testbed.client_ns(),
            "created test bed"
        );
        testbed
    }

    /// Name of the namespace that runs the OpenVPN server.
    pub fn server_ns(&self) -> &str {
        &self.shared.server_ns
    }

    /// Name of the namespace that runs the client under test.
    pub fn client_ns(&self) -> &str {
        &self.shared.client_ns
    }

    /// Name of the veth interface inside the server namespace.
    pub fn server_link(&self) -> &str {
        &self.shared.server_link
    }

    /// Name of the veth interface inside the client namespace.
    pub fn client_link(&self) -> &str {
        &self.shared.client_link
    }

    /// Address of the server end of the veth link, 198.18.0.1.
    pub fn server_link_addr(&self) -> Ipv4Addr {
        SERVER_LINK_ADDR
    }

    /// Address of the client end of the veth link, 198.18.0.2.
    pub fn client_link_addr(&self) -> Ipv4Addr {
        CLIENT_LINK_ADDR
    }

    /// Temporary directory of this test bed, deleted when the test bed is dropped.
    pub fn dir(&self) -> &Path {
        self.shared.dir.path()
    }

    /// Returns a path inside [`Testbed::dir`] that no other call has returned.
    ///
    /// The file name is `<stem>-<n>.<extension>`, or `<stem>-<n>` for an empty extension.
    pub fn unique_path(&self, stem: &str, extension: &str) -> PathBuf {
        let number = self.shared.next_file_number();
        let file_name = if extension.is_empty() {
            format!("{stem}-{number}")
        } else {
            format!("{stem}-{number}.{extension}")
        };
        self.dir().join(file_name)
    }

    /// Runs `f` on a thread inside the server namespace, like [`Netns::run`].
    pub fn run_in_server_ns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        Netns::run(self.server_ns(), f)
    }

    /// Runs `f` on a thread inside the client namespace, like [`Netns::run`].
    pub fn run_in_client_ns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        Netns::run(self.client_ns(), f)
    }

    /// Creates both namespaces and the veth pair, and brings every interface up.
    fn create_namespaces(&self) {
        let server_ns = self.server_ns();
        let client_ns = self.client_ns();
        let server_addr = format!("{SERVER_LINK_ADDR}/{LINK_PREFIX_LEN}");
        let client_addr = format!("{CLIENT_LINK_ADDR}/{LINK_PREFIX_LEN}");

        command::run_or_panic("ip", &["netns", "add", server_ns]);
        command::run_or_panic("ip", &["netns", "add", client_ns]);

        // Both ends are created straight inside their namespaces, so the veth pair never
        // appears in the namespace of the test process and dies with the namespaces.
        command::run_or_panic(
            "ip",
            &[
                "link",
                "add",
                self.server_link(),
                "netns",
                server_ns,
                "type",
                "veth",
                "peer",
                "name",
                self.client_link(),
                "netns",
                client_ns,
            ],
        );

        for (ns, link, addr) in [
            (server_ns, self.server_link(), &server_addr),
            (client_ns, self.client_link(), &client_addr),
        ] {
            command::run_or_panic("ip", &["-n", ns, "link", "set", "lo", "up"]);
            command::run_or_panic("ip", &["-n", ns, "addr", "add", addr, "dev", link]);
            command::run_or_panic("ip", &["-n", ns, "link", "set", link, "up"]);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        for ns in [&self.server_ns, &self.client_ns] {
            if !Netns::exists(ns) {
                continue;
            }
            // A panic here would abort a test that is already unwinding, so failures are
            // reported on standard error instead.
            if let Err(error) = command::run("ip", &["netns", "delete", ns]) {
                eprintln!("ferrovpn-testbed: failed to delete network namespace {ns}: {error}");
            }
        }
    }
}

/// Reduces a test name to lower-case ASCII letters and digits, at most 20 of them.
fn sanitize_name(name: &str) -> String {
    let sanitized: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .take(MAX_NAME_PART_LEN)
        .collect();
    if sanitized.is_empty() {
        "testbed".to_owned()
    } else {
        sanitized
    }
}

/// Builds a veth interface name such as `transfe-4711-1s` that fits in 15 characters.
///
/// The PID, sequence number and side are kept whole and the test name is shortened.
fn interface_name(name_part: &str, pid: u32, sequence: u32, side: char) -> String {
    let suffix = format!("-{pid}-{sequence}{side}");
    let room = MAX_INTERFACE_NAME_LEN.saturating_sub(suffix.len());
    let prefix: String = name_part.chars().take(room).collect();
    let name = format!("{prefix}{suffix}");
    name.chars()
        .skip(name.len().saturating_sub(MAX_INTERFACE_NAME_LEN))
        .collect()
}

/// Deletes namespaces left by test processes that were killed before they could clean up.
///
/// Only names with this crate's prefix whose PID field names no running process are
/// deleted. Processes are never signalled here.
fn delete_stale_namespaces() {
    let Ok(entries) = fs::read_dir("/var/run/netns") else {
        return;
    };

    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match command::run("ip", &["netns", "delete", &name]) {
            Ok(_) => tracing::info!(ns = %name, pid, "deleted stale network namespace"),
            Err(error) => eprintln!("ferrovpn-testbed: failed to delete stale {name}: {error}"),
        }
    }
}

/// Extracts the creating PID from a name of the form `fv-<name>-<pid>-<sequence>-<side>`.
fn owner_pid(ns_name: &str) -> Option<u32> {
    let rest = ns_name.strip_prefix(NAMESPACE_PREFIX)?;
    let fields: Vec<&str> = rest.split('-').collect();
    let [name, pid, sequence, side] = fields.as_slice() else {
        return None;
    };
    let well_formed =
        !name.is_empty() && sequence.parse::<u32>().is_ok() && (*side == "srv" || *side == "cli");
    if !well_formed {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_name_keeps_alphanumerics() {
        assert_eq!(sanitize_name("UDP tls-crypt_1"), "udptlscrypt1");
    }

    #[test]
    fn sanitize_name_empty_uses_default() {
        assert_eq!(sanitize_name("--"), "testbed");
    }

    #[test]
    fn interface_name_fits_ifnamsiz() {
        let cases = [
            ("transfer", 123, 1, 's'),
            ("averyveryverylongtestname", 4_194_304, 99, 'c'),
            ("x", 4_194_304, 4_000_000_000, 's'),
        ];
        for (name, pid, sequence, side) in cases {
            let interface = interface_name(name, pid, sequence, side);
            assert!(
                interface.len() <= MAX_INTERFACE_NAME_LEN,
                "interface name {interface:?} is longer than 15 characters"
            );
            assert!(
                interface.ends_with(side),
                "interface name {interface:?} must end with the side {side}"
            );
        }
    }

    #[test]
    fn interface_name_keeps_pid() {
        let interface = interface_name("transfer", 4711, 2, 'c');
        assert_eq!(interface, "transfe-4711-2c");
    }

    #[test]
    fn owner_pid_parses_own_names() {
        assert_eq!(owner_pid("fv-transfer-4711-3-srv"), Some(4711));
    }

    #[test]
    fn owner_pid_rejects_foreign_names() {
        let foreign = [
            "fv-4711",
            "other-transfer-4711-3-srv",
            "fv-a-b-3-srv",
            "fv-a-1-2-x",
        ];
        for name in foreign {
            assert_eq!(owner_pid(name), None, "{name:?} must not be taken for ours");
        }
    }
}
