//! The daemon and the app commands against a real OpenVPN 2.6 server: a session started
//! with `connect --no-wait`, answered by a separate `ferrovpn auth` process, and the
//! permission checks for another local user.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{
    ping, totp_at, transfer_check, AuthPolicy, Authenticator, Credentials, Netns, OpenVpnServer,
    Pki, ServerConfig, Testbed,
};
use support::client::ferrovpn_devices;

const USERNAME: &str = "alice";
const PASSWORD: &str = "alice-password";
const SECRET: &[u8] = b"12345678901234567890";

/// Uid and gid of `nobody`, the other local user in these tests.
const NOBODY: u32 = 65534;

fn code_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    totp_at(SECRET, now)
}

struct Daemon {
    child: Option<Child>,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(testbed: &Testbed) -> Daemon {
        // Other users must reach the socket: let them traverse the test directory.
        std::fs::set_permissions(testbed.dir(), std::fs::Permissions::from_mode(0o711))
            .expect("open the test directory for traversal");
        let socket = testbed.dir().join("ferrovpn.sock");
        let log = testbed.unique_path("daemon", "log");
        let child = Netns::command(testbed.client_ns(), env!("CARGO_BIN_EXE_ferrovpn"))
            .args(["-vv", "--socket"])
            .arg(&socket)
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("create daemon log"),
            ))
            .spawn()
            .expect("spawn the daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Daemon {
            child: Some(child),
            socket,
            log,
        }
    }

    /// Runs `ferrovpn --socket S ARGS` as root, or as `nobody` when `as_nobody`.
    fn app(&self, args: &[&str], as_nobody: bool) -> Output {
        let binary = env!("CARGO_BIN_EXE_ferrovpn");
        let mut command = if as_nobody {
            let mut command = Command::new("setpriv");
            command
                .args([
                    "--reuid",
                    &NOBODY.to_string(),
                    "--regid",
                    &NOBODY.to_string(),
                    "--clear-groups",
                ])
                .arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run a ferrovpn app command")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        // SAFETY: kill with the PID of a child this test spawned and has not reaped.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait for the daemon") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not stop within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn setup(
    name: &str,
    policy: AuthPolicy,
) -> (Testbed, ServerConfig, OpenVpnServer, Authenticator, PathBuf) {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management_client_auth();
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, policy);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let profile_text =
        testbed.client_profile_with_credentials(&pki, &config, Some(&credentials), &[]);
    let profile = testbed.dir().join("work.ovpn");
    std::fs::write(&profile, profile_text).expect("write profile");
    (testbed, config, server, authenticator, profile)
}

fn wait_connected(daemon: &Daemon, session: &str) {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let output = daemon.app(&["status", session, "--json"], false);
        let status = String::from_utf8_lossy(&output.stdout).to_string();
        if status.contains("\"connected\"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session not connected: {status}\ndaemon log:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn answered_by_separate_process(name: &str, policy: AuthPolicy) {
    let (testbed, config, _server, _authenticator, profile) = setup(name, policy);
    let mut daemon = Daemon::start(&testbed);

    let started = daemon.app(&["connect", "--no-wait", profile.to_str().unwrap()], false);
    assert_eq!(
        started.status.code(),
        Some(0),
        "connect --no-wait: {}",
        text(&started)
    );

    let answered = daemon.app(
        &["auth", "work", "--wait", "20", "--answer", &code_now()],
        false,
    );
    assert_eq!(
        answered.status.code(),
        Some(0),
        "auth --answer: {}",
        text(&answered)
    );

    wait_connected(&daemon, "work");
    ping(testbed.client_ns(), config.server_tunnel_addr(), 2).expect("ping through the tunnel");
    let report =
        transfer_check(&testbed, config.server_tunnel_addr(), 2 * 1024 * 1024).expect("transfer");
    assert_eq!(report.bytes, 2 * 1024 * 1024, "bytes transferred");

    let logs = daemon.app(&["logs", "work"], false);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("connected to"),
        "logs: {}",
        text(&logs)
    );

    let disconnected = daemon.app(&["disconnect", "work"], false);
    assert_eq!(
        disconnected.status.code(),
        Some(0),
        "disconnect: {}",
        text(&disconnected)
    );
    assert_eq!(daemon.stop(), Some(0), "daemon exit status");
    assert!(
        ferrovpn_devices(testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
}

#[test]
fn cr_text_answered_by_auth_command() {
    answered_by_separate_process("dcrtext", AuthPolicy::CrText);
}

#[test]
fn crv1_answered_by_auth_command() {
    answered_by_separate_process("dcrv1", AuthPolicy::Crv1);
}

#[test]
fn other_user_cannot_touch_session() {
    let (testbed, _config, _server, _authenticator, profile) = setup("dperm", AuthPolicy::CrText);
    let mut daemon = Daemon::start(&testbed);
    let started = daemon.app(
        &[
            "connect",
            "--no-wait",
            "--name",
            "work",
            profile.to_str().unwrap(),
        ],
        false,
    );
    assert_eq!(
        started.status.code(),
        Some(0),
        "connect: {}",
        text(&started)
    );

    // Wait until the request is pending, as the owner sees it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let request_id = loop {
        let listed = daemon.app(&["auth", "--json"], false);
        let requests: serde_json::Value =
            serde_json::from_slice(&listed.stdout).unwrap_or_default();
        if let Some(id) = requests.get(0).and_then(|request| request["id"].as_u64()) {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "no pending request: {}",
            text(&listed)
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    let listed = daemon.app(&["auth", "--json"], true);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).trim(),
        "[]",
        "nobody sees: {}",
        text(&listed)
    );

    let status = daemon.app(&["status", "work", "--json"], true);
    let status_text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        !status_text.contains("authenticator code"),
        "nobody sees the prompt: {status_text}"
    );

    let disconnect = daemon.app(&["disconnect", "work"], true);
    assert_eq!(
        disconnect.status.code(),
        Some(6),
        "nobody disconnecting: {}",
        text(&disconnect)
    );

    let answer = daemon.app(
        &[
            "auth",
            "--request",
            &request_id.to_string(),
            "--answer",
            "000000",
        ],
        true,
    );
    assert_eq!(
        answer.status.code(),
        Some(6),
        "nobody answering: {}",
        text(&answer)
    );

    let owner = daemon.app(&["auth", "work", "--answer", &code_now()], false);
    assert_eq!(
        owner.status.code(),
        Some(0),
        "owner answering: {}",
        text(&owner)
    );
    wait_connected(&daemon, "work");
    assert_eq!(daemon.stop(), Some(0), "daemon exit status");
    assert!(
        ferrovpn_devices(testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
}

#[test]
fn profile_read_with_requesting_user_permissions() {
    let (testbed, _config, _server, _authenticator, profile) =
        setup("dprofile", AuthPolicy::CrText);
    let daemon = Daemon::start(&testbed);
    // Only root may read the profile; the daemon must not read it for nobody.
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o600))
        .expect("chmod profile");

    let output = daemon.app(&["connect", "--no-wait", profile.to_str().unwrap()], true);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(
        output.status.code(),
        Some(3),
        "connect as nobody: {}",
        text(&output)
    );
    assert!(
        stderr.contains("Permission denied"),
        "error names the cause: {stderr}"
    );

    let status = daemon.app(&["sessions", "--json"], false);
    assert!(
        !String::from_utf8_lossy(&status.stdout).contains("\"work\""),
        "a session started: {}",
        text(&status)
    );
}

#[test]
fn inline_profile_files_read_as_user() {
    let (testbed, _config, _server, _authenticator, profile) = setup("dinline", AuthPolicy::CrText);
    let daemon = Daemon::start(&testbed);
    // A root-only key, named by an inline profile that nobody sends.
    let key = testbed.dir().join("root-only.key");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let original = std::fs::read_to_string(&profile).unwrap();
    let start = original.find("<key>").expect("inline key block");
    let end = original.find("</key>").expect("end of the key block") + "</key>".len();
    let inline = format!(
        "{}key {}\n{}",
        &original[..start],
        key.display(),
        &original[end..]
    );

    let script = format!(
        r#"
import json, socket, struct
s = socket.socket(socket.AF_UNIX)
s.connect({socket:?})
body = json.dumps({{"version": 1, "id": 1, "request": {{"type": "connect", "name": "stolen", "profile": {{"contents": {{"name": "stolen", "text": {text:?}}}}}}}}}).encode()
s.sendall(struct.pack(">I", len(body)) + body)
length = struct.unpack(">I", s.recv(4))[0]
data = b""
while len(data) < length:
    data += s.recv(length - len(data))
print(data.decode())
"#,
        socket = daemon.socket.to_string_lossy(),
        text = inline,
    );
    let output = Command::new("setpriv")
        .args([
            "--reuid",
            &NOBODY.to_string(),
            "--regid",
            &NOBODY.to_string(),
            "--clear-groups",
        ])
        .args(["/usr/bin/python3", "-c", &script])
        .output()
        .expect("run python3 as nobody");
    let response = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        response.contains("Permission denied"),
        "response: {response}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sessions = daemon.app(&["sessions", "--json"], false);
    assert!(
        !String::from_utf8_lossy(&sessions.stdout).contains("stolen"),
        "a session started: {}",
        text(&sessions)
    );
}
