//! A guided tour of ferrovpn: a real OpenVPN 2.6 server and the `ferrovpn` client, each in
//! its own throwaway network namespace.
//!
//! Run it through `sudo scripts/demo`, which installs the tools, builds this example and the
//! `ferrovpn` binary, and passes the binary's path. The demo prints each step, streams the
//! client's progress, checks ping and a 20 MiB TCP transfer through the tunnel, disconnects
//! with SIGTERM and checks that no device, process, namespace or file is left behind.
//!
//! Every step is bounded in time. On failure, on Ctrl-C or SIGTERM the demo stops the
//! processes it started (by PID) and deletes its namespaces before it exits.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::net::Ipv4Addr;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use ferrovpn_testbed::{
    transfer_check, KeyAlgorithm, Netns, OpenVpnServer, Pki, ServerConfig, Testbed,
};

/// Titles of the numbered steps, printed as `[n/10] title`.
const STEPS: [&str; 10] = [
    "create two network namespaces joined by a veth pair",
    "generate a throwaway PKI",
    "start a real OpenVPN server in the server namespace",
    "write an ordinary .ovpn client profile",
    "connect with ferrovpn in the client namespace",
    "ping the server's tunnel address through the tunnel",
    "send 20 MiB to the server through the tunnel",
    "show the tunnel device and its routes",
    "disconnect with SIGTERM",
    "check that nothing is left behind",
];

/// Username the OpenVPN server accepts, with a password generated for each run.
const DEMO_USER: &str = "demo";

/// Bytes of randomness in the generated password, printed as twice as many hex digits.
const PASSWORD_BYTES: usize = 12;

/// Data channel cipher that the server offers and the client must select.
const DATA_CIPHER: &str = "AES-256-GCM";

/// Payload of the transfer through the tunnel: 20 MiB.
const TRANSFER_BYTES: usize = 20 * 1024 * 1024;

/// Time allowed from starting ferrovpn to its `connected to` line.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Time ferrovpn gets to exit after SIGTERM before it receives SIGKILL.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Time allowed for ferrovpn's last output lines after it exited.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Interval at which waits check for Ctrl-C and for an exited client.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Echo requests sent to the server's tunnel address.
const PING_COUNT: &str = "3";

/// Upper bound in seconds for the whole ping run (`ping -w`).
const PING_DEADLINE_SECONDS: &str = "5";

/// Prefix of the client's output lines, so they stand apart from the demo's own lines.
const CLIENT_PREFIX: &str = "  ferrovpn | ";

/// Indentation of the demo's detail lines under a step title.
const INDENT: &str = "        ";

/// Exit code after Ctrl-C or SIGTERM, as shells report death by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// Number of the step running now, for the failure message.
static CURRENT_STEP: AtomicUsize = AtomicUsize::new(0);

/// Set by the SIGINT and SIGTERM handler.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Shows ferrovpn connecting to a real local OpenVPN 2.6 server, then cleans up.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Args {
    /// Path of the `ferrovpn` binary to run in the client namespace.
    #[arg(long, value_name = "PATH")]
    ferrovpn: PathBuf,

    /// Run without waiting for Enter before disconnecting.
    #[arg(long)]
    auto: bool,
}

/// Cause of a demo run that stopped before its last step.
enum Failure {
    /// A step failed. The message names what failed and, where known, the fix.
    Step(String),
    /// The user pressed Ctrl-C or the demo received SIGTERM.
    Interrupted,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Step(message)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    install_interrupt_handler();

    // The test bed reports setup failures by panicking. Unwinding drops the server and the
    // test bed, which stops openvpn and deletes the namespaces. The panic message is then
    // printed once below, in place of the default panic report.
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&args)));

    let failure = match outcome {
        Ok(Ok(())) => return ExitCode::SUCCESS,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Step(panic_message(payload.as_ref())),
    };
    let step = CURRENT_STEP.load(Ordering::Relaxed);
    let title = step.checked_sub(1).and_then(|index| STEPS.get(index));
    let place = match title {
        Some(title) => format!("step {step} ({title})"),
        None => "setup".to_owned(),
    };
    let code = match failure {
        Failure::Step(message) => {
            eprintln!("\ndemo: failed at {place}: {message}");
            ExitCode::FAILURE
        }
        Failure::Interrupted => {
            eprintln!("\ndemo: interrupted at {place}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
    };
    if title.is_some() {
        eprintln!("demo: the processes, namespaces and files of this run have been removed");
    }
    code
}

/// Runs the ten steps. Every resource lives in a local, so any early return cleans up.
fn run(args: &Args) -> Result<(), Failure> {
    check_preconditions(&args.ferrovpn)?;
    println!("ferrovpn demo: a real OpenVPN server and the ferrovpn client in two throwaway");
    println!("network namespaces. Nothing here touches the network of this machine.");

    begin_step(1)?;
    let testbed = Testbed::new("demo");
    detail(&format!(
        "server namespace {}  {}/24 on {}",
        testbed.server_ns(),
        testbed.server_link_addr(),
        testbed.server_link()
    ));
    detail(&format!(
        "client namespace {}  {}/24 on {}",
        testbed.client_ns(),
        testbed.client_link_addr(),
        testbed.client_link()
    ));

    begin_step(2)?;
    let pki = Pki::generate(testbed.dir());
    let algorithm = match pki.algorithm {
        KeyAlgorithm::EcdsaP256 => "ECDSA P-256",
        KeyAlgorithm::Rsa2048 => "RSA-2048",
    };
    detail(&format!(
        "CA {:?}, server certificate {:?}, client certificate {:?}, {algorithm} keys",
        ferrovpn_testbed::CA_COMMON_NAME,
        pki.server.common_name,
        pki.client.common_name,
    ));
    detail("and a tls-crypt key, all in a temporary directory deleted at the end");

    begin_step(3)?;
    let password = random_password()?;
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .data_ciphers(&[DATA_CIPHER])
        .credentials(DEMO_USER, &password)
        .auth_gen_token(0);
    let mut server = OpenVpnServer::start(&testbed, &config);
    let server_pid = server.pid().unwrap_or(0);
    detail(&format!(
        "{} (pid {server_pid}) listening on {} {}:{}",
        openvpn_version(),
        config.proto.remote_word(),
        testbed.server_link_addr(),
        config.port
    ));
    detail(&format!(
        "tls-crypt, data-ciphers {DATA_CIPHER}, user {DEMO_USER:?} with a random \
         {}-digit password, auth-gen-token",
        PASSWORD_BYTES * 2
    ));

    begin_step(4)?;
    let profile = testbed.write_client_profile(&pki, &config, &[]);
    detail(&format!("{} (secret keys elided below)", profile.display()));
    print_profile(&profile)?;

    begin_step(5)?;
    let command_line = format!(
        "ip netns exec {} {} -v connect --no-prompt {}",
        testbed.client_ns(),
        args.ferrovpn.display(),
        profile.display()
    );
    detail(&format!("$ {command_line}"));
    let mut client = ClientProcess::start(&args.ferrovpn, testbed.client_ns(), &profile)?;
    let started = Instant::now();
    let connected = client
        .wait_for_connected(CONNECT_TIMEOUT)
        .map_err(|failure| with_server_log(failure, &server))?;
    let device = device_name(&connected).ok_or_else(|| {
        format!("no device name in ferrovpn's line {connected:?}; expected \"device NAME,\"")
    })?;
    detail(&format!(
        "tunnel up after {} ms on device {device}",
        started.elapsed().as_millis()
    ));

    begin_step(6)?;
    let tunnel_addr = config.server_tunnel_addr();
    ping_through_tunnel(testbed.client_ns(), tunnel_addr)
        .map_err(|failure| with_server_log(failure, &server))?;

    begin_step(7)?;
    detail(&format!(
        "TCP from the client namespace to {tunnel_addr}, checked byte for byte and by SHA-256"
    ));
    let report = transfer_check(&testbed, tunnel_addr, TRANSFER_BYTES)
        .map_err(|error| with_server_log(Failure::Step(error), &server))?;
    detail(&format!(
        "{} bytes in {:.2} s: {:.0} Mbit/s",
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.mbit_per_sec()
    ));

    begin_step(8)?;
    show_command(&["-n", testbed.client_ns(), "addr", "show", "dev", &device])?;
    show_command(&["-n", testbed.client_ns(), "route", "show", "dev", &device])?;

    begin_step(9)?;
    if !args.auto {
        wait_for_enter(testbed.client_ns(), tunnel_addr)?;
    }
    let pid = client.pid();
    detail(&format!("sending SIGTERM to ferrovpn (pid {pid})"));
    let status = client.terminate()?;
    detail(&format!("ferrovpn exited with {}", describe_status(status)));
    if status.code() != Some(0) {
        return Err(format!(
            "ferrovpn exited with {} after SIGTERM; expected exit code 0",
            describe_status(status)
        )
        .into());
    }

    begin_step(10)?;
    check_no_device(testbed.client_ns(), &device)?;
    detail(&format!("no ferrovpn device in {}", testbed.client_ns()));
    server.stop();
    check_process_gone(server_pid, "openvpn")?;
    detail(&format!("openvpn server (pid {server_pid}) stopped"));
    let namespaces = [
        testbed.server_ns().to_owned(),
        testbed.client_ns().to_owned(),
    ];
    let dir = testbed.dir().to_owned();
    drop(server);
    drop(testbed);
    check_removed(&namespaces, &dir)?;
    detail(&format!(
        "namespaces {} and {} deleted, {} removed",
        namespaces[0],
        namespaces[1],
        dir.display()
    ));

    println!("\ndemo: done; ferrovpn connected, carried traffic and disconnected cleanly");
    Ok(())
}

/// Fails early, with the fix, when the demo cannot run at all.
fn check_preconditions(ferrovpn: &Path) -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(format!(
            "the demo needs root for network namespaces and TUN devices (effective uid {euid}); \
             run `sudo scripts/demo`"
        )
        .into());
    }
    if !ferrovpn.is_file() {
        return Err(format!(
            "ferrovpn binary {} not found; build it with `cargo build -p ferrovpn` or run \
             scripts/demo",
            ferrovpn.display()
        )
        .into());
    }
    Ok(())
}

/// Prints the title of step `number` and fails if the demo has been interrupted.
fn begin_step(number: usize) -> Result<(), Failure> {
    check_interrupted()?;
    CURRENT_STEP.store(number, Ordering::Relaxed);
    println!("\n[{number}/{}] {}", STEPS.len(), STEPS[number - 1]);
    Ok(())
}

/// Prints one indented line under the current step.
fn detail(text: &str) {
    println!("{INDENT}{text}");
}

/// Returns `Failure::Interrupted` once Ctrl-C or SIGTERM has arrived.
fn check_interrupted() -> Result<(), Failure> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        Err(Failure::Interrupted)
    } else {
        Ok(())
    }
}

/// Records SIGINT and SIGTERM in [`INTERRUPTED`] instead of ending the process, so the
/// demo can stop its processes and delete its namespaces first.
fn install_interrupt_handler() {
    extern "C" fn record(_signal: libc::c_int) {
        INTERRUPTED.store(true, Ordering::Relaxed);
    }

    let handler = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(signal, handler) };
    }
}

/// Extracts the text of a panic payload, which is a `&str` or a `String` for `panic!`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a step panicked without a message".to_owned()
    }
}

/// Appends the tail of the server log to a step failure, where the cause often shows.
fn with_server_log(failure: Failure, server: &OpenVpnServer) -> Failure {
    match failure {
        Failure::Step(message) => Failure::Step(format!("{message}\n{}", server.log_tail())),
        Failure::Interrupted => Failure::Interrupted,
    }
}

/// Generates the demo user's password as hex digits from `/dev/urandom`.
fn random_password() -> Result<String, Failure> {
    let mut bytes = [0u8; PASSWORD_BYTES];
    File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|error| format!("failed to read /dev/urandom for a password: {error}"))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Returns "OpenVPN 2.6.x" from the first line of `openvpn --version`.
fn openvpn_version() -> String {
    let output = Command::new("openvpn").arg("--version").output();
    let banner = output
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let words: Vec<&str> = banner.split_whitespace().take(2).collect();
    if words.len() == 2 {
        words.join(" ")
    } else {
        "openvpn".to_owned()
    }
}

/// Prints the profile with the contents of `<key>` and `<tls-crypt>` replaced by `…`.
fn print_profile(profile: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(profile)
        .map_err(|error| format!("failed to read the profile {}: {error}", profile.display()))?;

    let mut secret_block = None;
    for line in text.lines() {
        if let Some(tag) = secret_block {
            if line == format!("</{tag}>") {
                secret_block = None;
            }
            continue;
        }
        match line {
            "<key>" => {
                secret_block = Some("key");
                println!("{INDENT}| <key>…</key>");
            }
            "<tls-crypt>" => {
                secret_block = Some("tls-crypt");
                println!("{INDENT}| <tls-crypt>…</tls-crypt>");
            }
            _ => println!("{INDENT}| {line}"),
        }
    }
    Ok(())
}

/// Takes the device name from ferrovpn's line
/// `connected to ADDR:PORT: device NAME, address ..., cipher ...`.
fn device_name(connected_line: &str) -> Option<String> {
    let (_, rest) = connected_line.split_once(" device ")?;
    let name = rest.split(',').next()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Runs a bounded `ping` from namespace `ns` to `addr` and prints its summary.
fn ping_through_tunnel(ns: &str, addr: Ipv4Addr) -> Result<(), Failure> {
    let addr_arg = addr.to_string();
    let args = [
        "-n",
        "-c",
        PING_COUNT,
        "-i",
        "0.2",
        "-W",
        "2",
        "-w",
        PING_DEADLINE_SECONDS,
        &addr_arg,
    ];
    detail(&format!("$ ip netns exec {ns} ping {}", args.join(" ")));
    let output = Netns::command(ns, "ping")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("failed to run ping in {ns}: {error}"))?;

    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if !line.is_empty() {
            detail(line);
        }
    }
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ping to {addr} through the tunnel failed with {}: {}",
            describe_status(output.status),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into())
    }
}

/// Runs `ip ARGS`, printing the command and its output, indented.
fn show_command(args: &[&str]) -> Result<(), Failure> {
    detail(&format!("$ ip {}", args.join(" ")));
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("failed to run `ip {}`: {error}", args.join(" ")))?;
    if !output.status.success() {
        return Err(format!(
            "`ip {}` failed with {}: {}",
            args.join(" "),
            describe_status(output.status),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        detail(line);
    }
    Ok(())
}

/// Waits for Enter on standard input, or returns at its end, or fails on Ctrl-C.
///
/// Meanwhile the tunnel stays up, and the hint shows how to use it from the client
/// namespace `ns` to reach the server's tunnel address `addr`.
fn wait_for_enter(ns: &str, addr: Ipv4Addr) -> Result<(), Failure> {
    detail("the tunnel stays up; try it from another terminal, for example");
    detail(&format!("  sudo ip netns exec {ns} ping -c 3 {addr}"));
    detail("press Enter to disconnect");

    // The read runs on its own thread because std retries a read that a signal interrupts.
    // Polling the flag here is what notices Ctrl-C while the read still blocks.
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        let _ = sender.send(());
    });
    loop {
        check_interrupted()?;
        match receiver.recv_timeout(POLL_INTERVAL) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

/// Fails if namespace `ns` still has device `device` or any device named `ferrovpn*`.
fn check_no_device(ns: &str, device: &str) -> Result<(), Failure> {
    let output = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show"])
        .output()
        .map_err(|error| format!("failed to run `ip -n {ns} link show`: {error}"))?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let left: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.split(':').nth(1))
        .map(str::trim)
        .filter(|name| *name == device || name.starts_with("ferrovpn"))
        .collect();
    if left.is_empty() {
        Ok(())
    } else {
        Err(format!("ferrovpn left the device(s) {left:?} in {ns} after it exited").into())
    }
}

/// Fails if `pid` still names a process called `name`.
fn check_process_gone(pid: u32, name: &str) -> Result<(), Failure> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == name {
        Err(format!("{name} (pid {pid}) is still running after it was stopped").into())
    } else {
        Ok(())
    }
}

/// Fails if any of `namespaces` or the directory `dir` still exists.
fn check_removed(namespaces: &[String], dir: &Path) -> Result<(), Failure> {
    for ns in namespaces {
        if Netns::exists(ns) {
            return Err(format!(
                "network namespace {ns} still exists; delete it with `sudo ip netns delete {ns}`"
            )
            .into());
        }
    }
    if dir.exists() {
        return Err(format!("temporary directory {} still exists", dir.display()).into());
    }
    Ok(())
}

/// Describes an exit status as "exit code N" or "signal N".
fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;

    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "an unknown status".to_owned(),
    }
}

/// The `ferrovpn connect` process in the client namespace, with its standard error streamed
/// to the terminal. Dropping it stops the process by PID.
struct ClientProcess {
    /// The running client, or `None` once it has exited and been reaped.
    child: Option<Child>,
    /// PID of the client, kept for messages after it exits.
    pid: u32,
    /// Lines of the client's standard error, already printed by the reader thread.
    lines: Receiver<String>,
}

impl ClientProcess {
    /// Starts `ferrovpn -v connect --no-prompt PROFILE` in namespace `ns`.
    fn start(ferrovpn: &Path, ns: &str, profile: &Path) -> Result<ClientProcess, Failure> {
        let mut command = Netns::command(ns, &ferrovpn.to_string_lossy());
        command
            .args(["-v", "connect", "--no-prompt"])
            .arg(profile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !std::io::stdout().is_terminal() {
            // Colour codes would end up verbatim in a log file.
            command.env("NO_COLOR", "1");
        }
        let mut child = command
            .spawn()
            .map_err(|error| format!("failed to start `ip netns exec {ns} ferrovpn`: {error}"))?;
        let pid = child.id();

        let stderr = child.stderr.take().expect("standard error is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                println!("{CLIENT_PREFIX}{line}");
                if sender.send(line).is_err() {
                    break;
                }
            }
        });

        Ok(ClientProcess {
            child: Some(child),
            pid,
            lines,
        })
    }

    /// PID of the client process.
    fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the line that starts with `connected to ` and returns it.
    ///
    /// Fails if the client exits first, if `timeout` passes or on Ctrl-C.
    fn wait_for_connected(&mut self, timeout: Duration) -> Result<String, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            check_interrupted()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "ferrovpn did not report `connected to` within {} s",
                    timeout.as_secs()
                )
                .into());
            }

            match self.lines.recv_timeout(left.min(POLL_INTERVAL)) {
                Ok(line) if line.starts_with("connected to ") => return Ok(line),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.wait_exit(OUTPUT_DRAIN_TIMEOUT);
                    return Err(format!(
                        "ferrovpn exited with {status} before it connected; its output is above"
                    )
                    .into());
                }
            }
        }
    }

    /// Sends SIGTERM, waits for the exit and for the last output lines, and returns the
    /// exit status. Sends SIGKILL and fails if the client outlives [`DISCONNECT_TIMEOUT`].
    fn terminate(&mut self) -> Result<ExitStatus, Failure> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| format!("ferrovpn (pid {}) was already reaped", self.pid))?;
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "ferrovpn exited with {} before it was asked to disconnect",
                describe_status(status)
            )
            .into());
        }

        // SAFETY: kill has no memory-safety preconditions, and the PID is an unreaped child
        // of this process, so it cannot name another process.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };

        let deadline = Instant::now() + DISCONNECT_TIMEOUT;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(POLL_INTERVAL),
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "ferrovpn (pid {}) did not exit within {} s of SIGTERM and was killed",
                        self.pid,
                        DISCONNECT_TIMEOUT.as_secs()
                    )
                    .into());
                }
            }
        };

        self.drain_output();
        Ok(status)
    }

    /// Waits up to `timeout` for the client to exit, killing it after that, and describes
    /// its exit status.
    fn wait_exit(&mut self, timeout: Duration) -> String {
        let Some(mut child) = self.child.take() else {
            return "an unknown status".to_owned();
        };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return describe_status(status);
            }
            thread::sleep(POLL_INTERVAL);
        }
        let _ = child.kill();
        child
            .wait()
            .map(describe_status)
            .unwrap_or_else(|error| format!("an unknown status ({error})"))
    }

    /// Waits until the reader thread has printed every remaining line, bounded in time.
    fn drain_output(&self) {
        let deadline = Instant::now() + OUTPUT_DRAIN_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

impl Drop for ClientProcess {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(None) = child.try_wait() {
            // SAFETY: as in `terminate`, the PID is an unreaped child of this process.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + DISCONNECT_TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(POLL_INTERVAL);
            }
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_name_from_connected_line() {
        let line = "connected to 198.18.0.1:1194: device ferrovpn0, address 198.19.0.2/24, \
                    cipher AES-256-GCM";
        assert_eq!(device_name(line).as_deref(), Some("ferrovpn0"));
    }

    #[test]
    fn device_name_missing_is_none() {
        assert_eq!(device_name("connected to 198.18.0.1:1194"), None);
    }
}
