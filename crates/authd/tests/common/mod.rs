//! A real OpenVPN 2.6 server in a network namespace with `ferrovpn-authd` attached to its
//! management interface, and OpenVPN's own client to log in with.
//!
//! OpenVPN 2.6's client has no prompt without a terminal. The tests therefore put the
//! response to a challenge where a person's input would go: a `CRV1::` or `SCRV1:`
//! password into its `auth-user-pass` file, or a `cr-response` command on its management
//! socket.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ferrovpn_authd::totp::{code_at, time_step, TOTP_STEP_SECONDS};
use ferrovpn_authd::TotpSecret;
use ferrovpn_testbed::{
    wait_for, Credentials, Netns, OpenVpnServer, Pki, ProcessGuard, ServerConfig, Testbed,
};

/// The `ferrovpn-authd` binary under test.
pub const AUTHD: &str = env!("CARGO_BIN_EXE_ferrovpn-authd");

/// User enrolled in every setup.
pub const USER: &str = "alice";

/// Password of [`USER`].
pub const PASSWORD: &str = "correct horse battery";

/// Log line of authd once it is connected to the management interface.
pub const CONNECTED: &str = "connected to the management interface";

/// Time authd gets to connect after start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Time an openvpn client gets to fail and exit after AUTH_FAILED.
const CLIENT_EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Time allowed for an audit line to appear.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A server with authd in front of it.
pub struct Setup {
    /// The running authd, stopped first on drop so it never outlives the server.
    pub authd: Option<ProcessGuard>,
    /// The OpenVPN server.
    pub server: OpenVpnServer,
    /// Its configuration, for client profiles.
    pub config: ServerConfig,
    /// Certificates and keys.
    pub pki: Pki,
    /// The user database.
    pub database: PathBuf,
    /// Standard output and error of every authd process of this setup.
    pub authd_log: PathBuf,
    /// TOTP secret of [`USER`].
    pub secret: TotpSecret,
    /// Arguments of `ferrovpn-authd run` after `run`.
    pub run_args: Vec<String>,
    /// Namespaces and directory, dropped last.
    pub testbed: Testbed,
}

/// Starts a server with `management-client-auth` on a Unix socket, enrols [`USER`] and
/// starts authd.
pub fn start(name: &str) -> Setup {
    start_with(name, |config| config)
}

/// Like [`start`], with the server configuration adjusted by `adjust`.
pub fn start_with(name: &str, adjust: impl FnOnce(ServerConfig) -> ServerConfig) -> Setup {
    let testbed = Testbed::new(name);
    let pki = Pki::generate(testbed.dir());
    let config = adjust(ServerConfig::new(&pki).tls_crypt().management_client_auth());
    let server = OpenVpnServer::start(&testbed, &config);
    let socket = server
        .management_socket()
        .expect("management_client_auth opens the management socket")
        .to_string_lossy()
        .into_owned();
    let run_args = vec!["--management".to_owned(), socket];
    start_authd_for(testbed, pki, config, server, run_args)
}

/// Enrols [`USER`] and starts authd with `run_args` for a running server.
pub fn start_authd_for(
    testbed: Testbed,
    pki: Pki,
    config: ServerConfig,
    server: OpenVpnServer,
    run_args: Vec<String>,
) -> Setup {
    let database = testbed.dir().join("users.db");
    let secret = add_user(&database, USER, PASSWORD);
    let authd_log = testbed.unique_path("authd", "log");
    let mut setup = Setup {
        authd: None,
        server,
        config,
        pki,
        database,
        authd_log,
        secret,
        run_args,
        testbed,
    };
    setup.start_authd();
    setup
}

/// Runs `ferrovpn-authd` with `args` and the database, and returns its output.
pub fn authd_command(database: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(AUTHD)
        .args(args)
        .arg("--database")
        .arg(database)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferrovpn-authd starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("ferrovpn-authd finishes")
}

/// Enrols `name` with `password` through `user add --json` and returns its secret.
pub fn add_user(database: &Path, name: &str, password: &str) -> TotpSecret {
    let output = authd_command(
        database,
        &["user", "add", name, "--password-stdin", "--json"],
        &format!("{password}\n"),
    );
    assert!(
        output.status.success(),
        "user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("user add --json prints JSON");
    let uri = json["otpauth_uri"].as_str().expect("otpauth_uri field");
    assert!(
        uri.starts_with(&format!("otpauth://totp/ferrovpn:{name}?secret=")),
        "URI {uri:?}"
    );
    let secret = json["secret"].as_str().expect("secret field");
    TotpSecret::from_base32(secret).expect("secret is base32")
}

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Returns a code of `secret` that stays valid for at least 5 s more. Near the end of a
/// step it waits for the next one, so a slow reconnect cannot push the code out of the
/// accepted window.
pub fn fresh_code(secret: &TotpSecret) -> String {
    let now = unix_now();
    let left = TOTP_STEP_SECONDS - now % TOTP_STEP_SECONDS;
    if left < 5 {
        std::thread::sleep(Duration::from_secs(left));
    }
    code_at(secret, unix_now()).to_string()
}

/// Returns a code that is wrong for `secret` in every step of the accepted window.
pub fn wrong_code(secret: &TotpSecret) -> String {
    let step = time_step(unix_now());
    let window: Vec<String> = (step - 2..=step + 2)
        .map(|step| ferrovpn_authd::totp::code_for_step(secret, step).to_string())
        .collect();
    (0..10u32)
        .map(|digit| digit.to_string().repeat(6))
        .find(|candidate| !window.contains(candidate))
        .expect("six equal digits are not all in a window of 5 codes")
}

/// `SCRV1:<base64 password>:<base64 code>`, the password of a static challenge.
pub fn static_challenge_password(password: &str, code: &str) -> String {
    format!("SCRV1:{}:{}", BASE64.encode(password), BASE64.encode(code))
}

impl Setup {
    /// Starts authd with the setup's arguments and waits until it is connected.
    pub fn start_authd(&mut self) {
        let offset = fs::metadata(&self.authd_log).map_or(0, |metadata| metadata.len());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.authd_log)
            .expect("authd log opened");
        let mut command = Netns::command(self.testbed.server_ns(), AUTHD);
        command
            .arg("run")
            .args(&self.run_args)
            .arg("--database")
            .arg(&self.database)
            .env("RUST_LOG", "info,ferrovpn_authd=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle duplicated"))
            .stderr(log);
        let authd = ProcessGuard::spawn(command, "ferrovpn-authd").expect("ferrovpn-authd starts");
        self.authd = Some(authd);

        let connected = wait_for(
            || read_from(&self.authd_log, offset).contains(CONNECTED),
            CONNECT_TIMEOUT,
            "ferrovpn-authd to connect to the management interface",
        );
        assert_eq!(connected, Ok(()), "authd log:\n{}", self.authd_log_text());
    }

    /// Stops authd with SIGTERM and returns whether it exited successfully.
    pub fn stop_authd(&mut self) -> bool {
        let mut authd = self.authd.take().expect("authd is running");
        authd.stop().is_some_and(|status| status.success())
    }

    /// Whole authd log.
    pub fn authd_log_text(&self) -> String {
        read_from(&self.authd_log, 0)
    }

    /// Audit lines of authd so far.
    pub fn audit_lines(&self) -> Vec<String> {
        self.authd_log_text()
            .lines()
            .filter(|line| line.contains("ferrovpn_authd::audit"))
            .map(str::to_owned)
            .collect()
    }

    /// Number of audit lines that contain every one of `fragments`.
    pub fn count_audit(&self, fragments: &[&str]) -> usize {
        self.audit_lines()
            .iter()
            .filter(|line| fragments.iter().all(|fragment| line.contains(fragment)))
            .count()
    }

    /// Waits until `count` audit lines contain every one of `fragments`.
    pub fn wait_for_audit(&self, fragments: &[&str], count: usize) {
        let what = format!("{count} audit lines with {fragments:?}");
        let waited = wait_for(
            || self.count_audit(fragments) >= count,
            AUDIT_TIMEOUT,
            &what,
        );
        assert_eq!(waited, Ok(()), "authd log:\n{}", self.authd_log_text());
    }

    /// Writes a client profile that logs in as `username` with `password`, plus `extra`
    /// lines.
    pub fn profile(&self, username: &str, password: &str, extra: &[&str]) -> PathBuf {
        let credentials = Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let text = self.testbed.client_profile_with_credentials(
            &self.pki,
            &self.config,
            Some(&credentials),
            extra,
        );
        let path = self.testbed.unique_path("client", "ovpn");
        fs::write(&path, text).expect("client profile written");
        path
    }

    /// Runs OpenVPN's client with `profile` until it exits by itself and returns its log.
    pub fn run_client_until_exit(&self, profile: &Path) -> String {
        let log_path = self.testbed.unique_path("openvpn-client", "log");
        let log = File::create(&log_path).expect("client log created");
        let mut command = Netns::command(self.testbed.client_ns(), "openvpn");
        command
            .arg("--config")
            .arg(profile)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle duplicated"))
            .stderr(log);
        let mut client = ProcessGuard::spawn(command, "openvpn client").expect("openvpn starts");

        let exited = wait_for(
            || !client.is_running(),
            CLIENT_EXIT_TIMEOUT,
            "openvpn client to exit after AUTH_FAILED",
        );
        let text = read_from(&log_path, 0);
        assert_eq!(
            exited,
            Ok(()),
            "client log:\n{text}\nauthd log:\n{}",
            self.authd_log_text()
        );
        text
    }

    /// Logs in with the password and returns the CRV1 challenge the server sent.
    pub fn crv1_challenge(&self) -> Crv1Challenge {
        let profile = self.profile(USER, PASSWORD, &[]);
        let log = self.run_client_until_exit(&profile);
        Crv1Challenge::from_client_log(&log)
    }

    /// Runs `ferrovpn-authd user ...` on the setup's database and returns its output.
    pub fn user_command(&self, args: &[&str]) -> Output {
        let mut full = vec!["user"];
        full.extend_from_slice(args);
        authd_command(&self.database, &full, "")
    }

    /// Returns the `user list --json` entry of `name`.
    pub fn user_entry(&self, name: &str) -> serde_json::Value {
        let output = self.user_command(&["list", "--json"]);
        assert!(output.status.success(), "user list failed: {output:?}");
        let users: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("user list --json prints JSON");
        users
            .as_array()
            .expect("a JSON array")
            .iter()
            .find(|user| user["user"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("user {name} missing from {users}"))
    }
}

/// Returns the text after `AUTH_FAILED,` in a client log, if the server sent a reason.
pub fn auth_failed_reason(log: &str) -> Option<&str> {
    let start = log.find("AUTH_FAILED,")? + "AUTH_FAILED,".len();
    log[start..].lines().next().map(str::trim_end)
}

/// The parts of `CRV1:<flags>:<state_id>:<base64 username>:<text>`.
#[derive(Debug)]
pub struct Crv1Challenge {
    /// Flags, such as "R,E".
    pub flags: String,
    /// State id to return.
    pub state_id: String,
    /// Decoded username.
    pub username: String,
    /// Prompt text.
    pub text: String,
}

impl Crv1Challenge {
    /// Reads the CRV1 challenge of the first AUTH_FAILED in a client log.
    pub fn from_client_log(log: &str) -> Crv1Challenge {
        let reason =
            auth_failed_reason(log).unwrap_or_else(|| panic!("no AUTH_FAILED reason in:\n{log}"));
        let fields: Vec<&str> = reason.splitn(5, ':').collect();
        let [tag, flags, state_id, username, text] = fields.as_slice() else {
            panic!("AUTH_FAILED reason {reason:?} is not a CRV1 challenge");
        };
        assert_eq!(*tag, "CRV1", "AUTH_FAILED reason {reason:?}");
        let username = BASE64.decode(username).expect("CRV1 username is base64");
        Crv1Challenge {
            flags: (*flags).to_owned(),
            state_id: (*state_id).to_owned(),
            username: String::from_utf8(username).expect("CRV1 username is UTF-8"),
            text: (*text).to_owned(),
        }
    }

    /// Builds `CRV1::<state_id>::<response>`, the password that responds to the challenge.
    pub fn password(&self, response: &str) -> String {
        format!("CRV1::{}::{response}", self.state_id)
    }
}

/// Text of a file from byte `offset` on, empty if it does not exist.
pub fn read_from(path: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(path) {
        let _ = file.read_to_end(&mut bytes);
    }
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}
