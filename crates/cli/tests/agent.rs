//! `ferrovpn agent` against a real OpenVPN 2.6 server with a TOTP `CR_TEXT` challenge, the
//! ferrovpn daemon, a private session D-Bus and a notification server that records
//! calls: the auth request notification, its "answer" action, the notifications that
//! follow, and a restart of the daemon.

mod support;

#[path = "support/notification_server.rs"]
mod notification_server;
#[path = "support/session_bus.rs"]
mod session_bus;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrovpn_testbed::{
    totp_at, AuthPolicy, Authenticator, Credentials, Netns, OpenVpnServer, Pki, ProcessGuard,
    ServerConfig, Testbed,
};
use notification_server::{NotificationServer, NotifyCall};
use session_bus::SessionBus;
use support::client::ferrovpn_devices;

const USERNAME: &str = "alice";
const PASSWORD: &str = "alice-password";
const SECRET: &[u8] = b"12345678901234567890";

/// Prompt of the test bed's `CR_TEXT` challenge.
const PROMPT: &str = "Enter your authenticator code";

/// Summary of the notification of an auth request of session "work".
const REQUEST_SUMMARY: &str = "VPN work needs authentication";

/// Summary of the notification that the tunnel of session "work" is up.
const CONNECTED_SUMMARY: &str = "VPN work connected";

/// Time the agent gets to post or close a notification after the daemon acted.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(20);

/// Time a session gets to come up after its auth request was answered.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(40);

fn code_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    totp_at(SECRET, now)
}

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `ferrovpn daemon` in the client namespace of a test bed.
struct Daemon {
    process: ProcessGuard,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(testbed: &Testbed) -> Daemon {
        let socket = testbed.dir().join("ferrovpn.sock");
        let log = testbed.unique_path("daemon", "log");
        let mut command = Netns::command(testbed.client_ns(), env!("CARGO_BIN_EXE_ferrovpn"));
        command
            .args(["-vv", "--socket"])
            .arg(&socket)
            .arg("daemon")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("create daemon log"),
            ));
        let process = ProcessGuard::spawn(command, "ferrovpn daemon").expect("spawn the daemon");
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
            process,
            socket,
            log,
        }
    }

    /// Runs `ferrovpn --socket S ARGS`.
    fn app(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ferrovpn"))
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

    /// Starts session "work" with `connect --no-wait`.
    fn connect(&self, profile: &Path) {
        let started = self.app(&[
            "connect",
            "--no-wait",
            profile.to_str().expect("UTF-8 path"),
        ]);
        assert_eq!(
            started.status.code(),
            Some(0),
            "connect --no-wait: {}",
            text(&started)
        );
    }

    /// Waits until session "work" has a pending auth request.
    fn wait_pending_request(&self) {
        let deadline = Instant::now() + NOTIFY_TIMEOUT;
        loop {
            let listed = self.app(&["auth", "--json"]);
            let requests: serde_json::Value =
                serde_json::from_slice(&listed.stdout).unwrap_or_default();
            if requests.get(0).is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no pending request: {}\ndaemon log:\n{}",
                text(&listed),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_connected(&self) {
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        loop {
            let output = self.app(&["status", "work", "--json"]);
            let status = String::from_utf8_lossy(&output.stdout).to_string();
            if status.contains("\"connected\"") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "session not connected: {status}\ndaemon log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends SIGTERM and returns the exit code.
    fn stop(&mut self) -> Option<i32> {
        self.process.stop().and_then(|status| status.code())
    }
}

/// `ferrovpn agent` on a private session bus, answering with a script of the test.
struct Agent {
    process: ProcessGuard,
    log: PathBuf,
}

impl Agent {
    fn start(testbed: &Testbed, socket: &Path, bus: &SessionBus, script: &Path) -> Agent {
        let log = testbed.unique_path("agent", "log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferrovpn"));
        command
            .args(["-vv", "--socket"])
            .arg(socket)
            .arg("agent")
            .arg("--answer-command")
            .arg(format!("{} {{id}}", script.display()))
            .env("DBUS_SESSION_BUS_ADDRESS", bus.address())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("create agent log"),
            ));
        let process = ProcessGuard::spawn(command, "ferrovpn agent").expect("spawn the agent");
        Agent { process, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and returns the exit code.
    fn stop(&mut self) -> Option<i32> {
        self.process.stop().and_then(|status| status.code())
    }
}

/// Writes the answer script: `ferrovpn auth --request ID --answer CODE` with the code of now.
///
/// Returns the code, which no notification may contain.
fn write_answer_script(script: &Path, socket: &Path) -> String {
    let code = code_now();
    let body = format!(
        "#!/bin/sh\nexec '{}' --socket '{}' auth --request \"$1\" --answer '{code}'\n",
        env!("CARGO_BIN_EXE_ferrovpn"),
        socket.display()
    );
    std::fs::write(script, body).expect("write the answer script");
    std::fs::set_permissions(script, std::fs::Permissions::from_mode(0o700))
        .expect("make the answer script executable");
    code
}

struct Setup {
    testbed: Testbed,
    _server: OpenVpnServer,
    _authenticator: Authenticator,
    profile: PathBuf,
    script: PathBuf,
}

fn setup(name: &str) -> Setup {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = ServerConfig::new(&pki).tls_crypt().management_client_auth();
    let server = OpenVpnServer::start(&testbed, &config);
    let authenticator = Authenticator::start(&server, AuthPolicy::CrText);
    authenticator.add_user(USERNAME, PASSWORD, SECRET);
    let credentials = Credentials {
        username: USERNAME.to_owned(),
        password: PASSWORD.to_owned(),
    };
    let profile_text =
        testbed.client_profile_with_credentials(&pki, &config, Some(&credentials), &[]);
    let profile = testbed.dir().join("work.ovpn");
    std::fs::write(&profile, profile_text).expect("write profile");
    let script = testbed.dir().join("answer.sh");
    Setup {
        testbed,
        _server: server,
        _authenticator: authenticator,
        profile,
        script,
    }
}

fn request_notifications(server: &NotificationServer) -> Vec<NotifyCall> {
    server
        .notifies()
        .into_iter()
        .filter(|call| call.summary == REQUEST_SUMMARY)
        .collect()
}

/// Clicks "Answer" on `notification` and waits until it is closed and the tunnel is up.
fn answer_through_action(
    setup: &Setup,
    daemon: &Daemon,
    agent: &Agent,
    server: &NotificationServer,
    notification: &NotifyCall,
) -> String {
    let code = write_answer_script(&setup.script, &daemon.socket);
    server.invoke_action(notification.id, "answer");

    daemon.wait_connected();
    assert!(
        server.wait_close(notification.id, NOTIFY_TIMEOUT),
        "notification {} not closed; calls: {:?}\nagent log:\n{}",
        notification.id,
        server.calls(),
        agent.log()
    );
    code
}

#[test]
fn agent_answers_request_from_notification() {
    let setup = setup("agent");
    let mut daemon = Daemon::start(&setup.testbed);
    daemon.connect(&setup.profile);
    // The request is pending before the agent starts, so the agent learns of it from the
    // daemon's replay.
    daemon.wait_pending_request();

    let bus = SessionBus::start(setup.testbed.dir());
    let server = NotificationServer::start(bus.address());
    let mut agent = Agent::start(&setup.testbed, &daemon.socket, &bus, &setup.script);

    let request = server
        .wait_notify(NOTIFY_TIMEOUT, |call| call.summary == REQUEST_SUMMARY)
        .unwrap_or_else(|| {
            panic!(
                "no request notification; calls: {:?}\nagent log:\n{}",
                server.calls(),
                agent.log()
            )
        });
    assert_eq!(request.app_name, "ferrovpn", "app name");
    assert!(
        request.body.contains(PROMPT),
        "body lacks the prompt: {:?}",
        request.body
    );
    assert_eq!(
        request.action_label("answer"),
        Some("Answer"),
        "actions: {:?}",
        request.actions
    );
    assert_eq!(
        request.replaces_id, 0,
        "request notification replaced another"
    );

    let code = answer_through_action(&setup, &daemon, &agent, &server, &request);

    let connected = server
        .wait_notify(NOTIFY_TIMEOUT, |call| call.summary == CONNECTED_SUMMARY)
        .unwrap_or_else(|| {
            panic!(
                "no connected notification; calls: {:?}\nagent log:\n{}",
                server.calls(),
                agent.log()
            )
        });
    let requests = request_notifications(&server);
    assert_eq!(requests.len(), 1, "request notifications: {requests:?}");
    for call in server.notifies() {
        assert!(
            !call.body.contains(&code) && !call.summary.contains(&code),
            "notification shows the code: {call:?}"
        );
    }
    assert_eq!(
        connected.replaces_id, 0,
        "connected notification replaced a closed one: {connected:?}"
    );

    assert_eq!(agent.stop(), Some(0), "agent exit code");
    assert!(
        !agent.log().contains(&code),
        "agent log shows the code:\n{}",
        agent.log()
    );
    let disconnected = daemon.app(&["disconnect", "work"]);
    assert_eq!(
        disconnected.status.code(),
        Some(0),
        "disconnect: {}",
        text(&disconnected)
    );
    assert_eq!(daemon.stop(), Some(0), "daemon exit code");
    assert!(
        ferrovpn_devices(setup.testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
}

#[test]
fn agent_follows_daemon_restart() {
    let setup = setup("agentrestart");
    let mut daemon = Daemon::start(&setup.testbed);
    let bus = SessionBus::start(setup.testbed.dir());
    let server = NotificationServer::start(bus.address());
    let mut agent = Agent::start(&setup.testbed, &daemon.socket, &bus, &setup.script);

    daemon.connect(&setup.profile);
    let first = server
        .wait_notify(NOTIFY_TIMEOUT, |call| call.summary == REQUEST_SUMMARY)
        .unwrap_or_else(|| {
            panic!(
                "no request notification; calls: {:?}\nagent log:\n{}",
                server.calls(),
                agent.log()
            )
        });

    assert_eq!(daemon.stop(), Some(0), "first daemon exit code");
    assert!(
        server.wait_close(first.id, NOTIFY_TIMEOUT),
        "notification of the ended session not closed; calls: {:?}\nagent log:\n{}",
        server.calls(),
        agent.log()
    );

    let mut daemon = Daemon::start(&setup.testbed);
    daemon.connect(&setup.profile);
    let second = server
        .wait_notify(NOTIFY_TIMEOUT, |call| {
            call.summary == REQUEST_SUMMARY && call.id != first.id
        })
        .unwrap_or_else(|| {
            panic!(
                "no request notification after the restart; calls: {:?}\nagent log:\n{}",
                server.calls(),
                agent.log()
            )
        });
    answer_through_action(&setup, &daemon, &agent, &server, &second);

    let requests = request_notifications(&server);
    assert_eq!(requests.len(), 2, "request notifications: {requests:?}");
    assert_eq!(agent.stop(), Some(0), "agent exit code");
    assert_eq!(daemon.stop(), Some(0), "second daemon exit code");
    assert!(
        ferrovpn_devices(setup.testbed.client_ns()).is_empty(),
        "TUN device left behind"
    );
}
