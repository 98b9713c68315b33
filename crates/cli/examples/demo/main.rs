//! A guided tour of ferrovpn with a second factor: a real OpenVPN 2.6 server whose logins
//! `ferrovpn-authd` decides with TOTP codes, and the ferrovpn daemon as the client, each
//! in its own throwaway network namespace.
//!
//! Run it through `sudo scripts/demo`, which installs the tools, builds this example and
//! the `ferrovpn` and `ferrovpn-authd` binaries, and passes the binaries' paths. The demo
//! enrols a user for TOTP, connects with an ordinary `.ovpn` profile through the daemon,
//! shows the server's CR_TEXT request for a code and answers it with `ferrovpn auth`: the
//! person types the code from an authenticator app, or the demo computes it from the
//! secret (`--auto-answer`). Then it checks ping and a TCP transfer through the tunnel,
//! disconnects, stops every process it started and checks that no device, process,
//! namespace or file is left behind.
//!
//! Every step is bounded in time. On failure, on Ctrl-C or SIGTERM the demo stops the
//! processes it started (by PID) and deletes its namespaces before it exits.

mod app;
mod authd;
mod code_prompt;
mod console;
mod inspect;
mod log_file;
mod profile;
mod totp_code;

use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use ferrovpn_testbed::{
    transfer_check, KeyAlgorithm, OpenVpnServer, Pki, ProcessGuard, ServerConfig, Testbed,
};
use serde_json::Value;

use app::{App, Progress, SOCKET_ENV};
use console::{begin_step, describe_status, detail, Failure};
use log_file::LogFile;

/// Titles of the numbered steps, printed as `[n/14] title`.
const STEPS: [&str; 14] = [
    "create two network namespaces joined by a veth pair",
    "generate a throwaway PKI",
    "start a real OpenVPN server that leaves every login to its management client",
    "enrol a user for TOTP with ferrovpn-authd",
    "attach ferrovpn-authd to the server's management interface",
    "write an ordinary .ovpn client profile",
    "start the ferrovpn daemon in the client namespace",
    "connect through the daemon, and the server requests a code",
    "answer with the code from the authenticator app",
    "ping the server's tunnel address through the tunnel",
    "send data to the server through the tunnel",
    "show the session with ferrovpn status",
    "disconnect and stop the daemon, ferrovpn-authd and the server",
    "check that nothing is left behind",
];

/// Username enrolled with ferrovpn-authd, with a password generated for each run.
const DEMO_USER: &str = "demo";

/// Name of the profile file and so of the session in the daemon.
const SESSION: &str = "work";

/// Data channel cipher that the server offers and the client must select.
const DATA_CIPHER: &str = "AES-256-GCM";

/// Payload of the transfer through the tunnel: 8 MiB.
const TRANSFER_BYTES: usize = 8 * 1024 * 1024;

/// Time allowed from `connect --no-wait`, or from an answer, to the next request or to
/// the connected state.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

/// Time allowed from `ferrovpn disconnect` to the disconnected state.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Codes the person may send before the demo gives up. ferrovpn-authd locks the user
/// after 5 failures in a row by default.
const MAX_ANSWERS: usize = 3;

/// Exit code after Ctrl-C or SIGTERM, as shells report death by SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

/// Shows ferrovpn connecting to a real local OpenVPN 2.6 server that requests a TOTP
/// code, then removes everything.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Args {
    /// Path of the `ferrovpn` binary, run as the daemon and for the app commands.
    #[arg(long, value_name = "PATH")]
    ferrovpn: PathBuf,

    /// Path of the `ferrovpn-authd` binary, run in the server namespace.
    #[arg(long, value_name = "PATH")]
    authd: PathBuf,

    /// Answer the server's request with a code computed from the secret, and disconnect
    /// without waiting for Enter (for scripts and tests).
    #[arg(long = "auto-answer", alias = "auto")]
    auto_answer: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    console::install_interrupt_handler();

    // The test bed reports setup failures by panicking. Unwinding drops the processes,
    // the server and the test bed, which stops them and deletes the namespaces. The panic
    // message is then printed once below, in place of the default panic report.
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| run(&args)));

    let failure = match outcome {
        Ok(Ok(())) => return ExitCode::SUCCESS,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::Step(console::panic_message(payload.as_ref())),
    };
    let step = console::current_step();
    let place = match step {
        Some((number, title)) => format!("step {number} ({title})"),
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
    if step.is_some() {
        eprintln!("demo: the processes, namespaces and files of this run have been removed");
    }
    code
}

/// Runs the steps. Every resource lives in a local, so any early return cleans up: the
/// locals drop in reverse order, daemon first and test bed last.
fn run(args: &Args) -> Result<(), Failure> {
    check_preconditions(args)?;
    println!("ferrovpn demo: a real OpenVPN server with a TOTP second factor, and the ferrovpn");
    println!("client, in two throwaway network namespaces. Nothing here touches the network");
    println!("of this machine.");

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
    detail(&format!(
        "files of this run go to {}, deleted at the end",
        testbed.dir().display()
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
    detail("and a tls-crypt key");

    begin_step(3)?;
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .data_ciphers(&[DATA_CIPHER])
        .management_client_auth()
        .auth_gen_token_external_auth(0);
    let mut server = OpenVpnServer::start(&testbed, &config);
    let server_pid = server.pid().unwrap_or(0);
    let management_socket = server
        .management_socket()
        .ok_or("the server configuration has no management socket".to_owned())?
        .to_owned();
    detail(&format!(
        "{} (pid {server_pid}) listening on {} {}:{}",
        inspect::openvpn_version(),
        config.proto.remote_word(),
        testbed.server_link_addr(),
        config.port
    ));
    detail("with these lines in its configuration:");
    inspect::print_directives(
        server.config_path(),
        &["management", "management-client-auth", "auth-gen-token"],
    )?;
    detail("so every login waits for a decision on the management socket, and a client that");
    detail("logged in renegotiates with a session token instead of a new code");

    begin_step(4)?;
    let database = testbed.dir().join("users.db");
    let password = authd::random_password()?;
    detail(&format!(
        "$ ferrovpn-authd --database {} user add {DEMO_USER} --password-stdin",
        database.display()
    ));
    detail(&format!(
        "  (a random {}-digit password on standard input)",
        authd::PASSWORD_BYTES * 2
    ));
    let enrolment = authd::enrol_user(&args.authd, &database, DEMO_USER, &password)?;
    println!();
    for line in enrolment.output.lines() {
        println!("  {line}");
    }
    println!();
    detail("scan the QR code with an authenticator app (for example Aegis, FreeOTP or");
    detail("Google Authenticator), or type the secret into it, to answer with your phone");

    begin_step(5)?;
    let (mut authd_log, authd_log_handle) =
        LogFile::create(testbed.dir().join("authd.log"), "authd")?;
    detail(&format!(
        "$ ip netns exec {} ferrovpn-authd --database {} run --management {}",
        testbed.server_ns(),
        database.display(),
        management_socket.display()
    ));
    let mut authd = authd::start(
        &args.authd,
        testbed.server_ns(),
        &database,
        &management_socket,
        &authd_log,
        authd_log_handle,
    )
    .map_err(|failure| failure.with_context(&server.log_tail()))?;
    let authd_pid = authd.pid();
    detail(&format!("ferrovpn-authd (pid {authd_pid}) is attached"));
    log_file::show_new(&mut [&mut authd_log]);

    begin_step(6)?;
    let profile = profile::write_profile(&testbed, &pki, &config, DEMO_USER, &password, SESSION)?;
    detail(&format!(
        "{} (inline certificates and keys elided below); the auth-user-pass file contains \
         {DEMO_USER:?} and its password",
        profile.display()
    ));
    profile::print_profile(&profile)?;

    begin_step(7)?;
    let app = App::new(&args.ferrovpn, testbed.dir().join("ferrovpn.sock"));
    let (mut daemon_log, daemon_log_handle) =
        LogFile::create(testbed.dir().join("daemon.log"), "daemon")?;
    detail(&format!(
        "$ ip netns exec {} ferrovpn -v --socket {} daemon",
        testbed.client_ns(),
        app.socket().display()
    ));
    let mut daemon = app.start_daemon(testbed.client_ns(), &daemon_log, daemon_log_handle)?;
    let daemon_pid = daemon.pid();
    detail(&format!(
        "daemon (pid {daemon_pid}) listening; the app commands below find it through"
    ));
    detail(&format!(
        "{SOCKET_ENV}={} and run {}",
        app.socket().display(),
        args.ferrovpn.display()
    ));
    log_file::show_new(&mut [&mut daemon_log]);

    let diagnostics = |authd_log: &LogFile, daemon_log: &LogFile| {
        format!(
            "{}\n{}\n{}",
            daemon_log.tail(),
            authd_log.tail(),
            server.log_tail()
        )
    };

    begin_step(8)?;
    let profile_arg = profile.to_string_lossy();
    app.show(&["connect", "--no-wait", &profile_arg])?;
    let started = Instant::now();
    let progress = app
        .wait_for_progress(SESSION, None, CONNECT_TIMEOUT)
        .map_err(|failure| failure.with_context(&diagnostics(&authd_log, &daemon_log)))?;
    let mut request = match progress {
        Progress::Request(request) => request,
        Progress::Connected(_) => {
            let message = "the session connected without a code, but ferrovpn-authd must \
                           request one; its log is below";
            return Err(Failure::from(message.to_owned())
                .with_context(&diagnostics(&authd_log, &daemon_log)));
        }
    };
    log_file::show_new(&mut [&mut daemon_log, &mut authd_log]);
    detail(&format!(
        "the server requested a code {} ms after the connect",
        started.elapsed().as_millis()
    ));
    app.show_json(&["auth", SESSION, "--json"])?;
    app.show(&["status", SESSION])?;

    begin_step(9)?;
    let mut answers = 0;
    let connected = loop {
        code_prompt::describe_request(&request);
        let code = code_prompt::obtain_code(args.auto_answer, &enrolment.secret)?;
        app.show(&["auth", SESSION, "--answer", &code])?;
        answers += 1;

        let answered = request["id"].as_u64();
        let progress = app
            .wait_for_progress(SESSION, answered, CONNECT_TIMEOUT)
            .map_err(|failure| failure.with_context(&diagnostics(&authd_log, &daemon_log)))?;
        log_file::show_new(&mut [&mut daemon_log, &mut authd_log]);
        match progress {
            Progress::Connected(status) => break status,
            Progress::Request(next) if !args.auto_answer && answers < MAX_ANSWERS => {
                let reason = next["reason"].as_str().unwrap_or("no reason given");
                detail(&format!("ferrovpn asks again: {reason}"));
                request = next;
            }
            Progress::Request(next) => {
                let reason = next["reason"].as_str().unwrap_or("no reason given");
                let message =
                    format!("ferrovpn requests a new code after {answers} answer(s): {reason}");
                return Err(
                    Failure::from(message).with_context(&diagnostics(&authd_log, &daemon_log))
                );
            }
        }
    };
    let device = connected["device"]
        .as_str()
        .ok_or_else(|| format!("no device in the connected session: {connected}"))?
        .to_owned();
    let addresses = connected["addresses"]
        .as_array()
        .map(|addresses| {
            addresses
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    detail(&format!(
        "tunnel up {} ms after the connect, on device {device} with {addresses}",
        started.elapsed().as_millis()
    ));

    begin_step(10)?;
    let tunnel_addr = config.server_tunnel_addr();
    inspect::ping_through_tunnel(testbed.client_ns(), tunnel_addr)
        .map_err(|failure| failure.with_context(&diagnostics(&authd_log, &daemon_log)))?;

    begin_step(11)?;
    detail(&format!(
        "{} MiB over TCP from the client namespace to {tunnel_addr}, checked byte for byte \
         and by SHA-256",
        TRANSFER_BYTES / (1024 * 1024)
    ));
    let report = transfer_check(&testbed, tunnel_addr, TRANSFER_BYTES).map_err(|error| {
        Failure::from(error).with_context(&diagnostics(&authd_log, &daemon_log))
    })?;
    detail(&format!(
        "{} bytes in {:.2} s: {:.0} Mbit/s",
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.mbit_per_sec()
    ));

    begin_step(12)?;
    app.show(&["status", SESSION])?;
    inspect::show_ip(&["-n", testbed.client_ns(), "addr", "show", "dev", &device])?;
    inspect::show_ip(&["-n", testbed.client_ns(), "route", "show", "dev", &device])?;

    begin_step(13)?;
    if !args.auto_answer {
        console::wait_for_enter(&[
            "the tunnel stays up; try it from another terminal, for example".to_owned(),
            format!(
                "  sudo ip netns exec {} ping -c 3 {tunnel_addr}",
                testbed.client_ns()
            ),
            format!(
                "  sudo {SOCKET_ENV}={} {} status",
                app.socket().display(),
                args.ferrovpn.display()
            ),
            "then press Enter here to disconnect".to_owned(),
        ])?;
    }
    app.show(&["disconnect", SESSION])?;
    app.wait_for_disconnected(SESSION, DISCONNECT_TIMEOUT)?;
    log_file::show_new(&mut [&mut daemon_log]);
    inspect::check_no_device(testbed.client_ns(), &device)?;
    detail(&format!(
        "session {SESSION} disconnected; no ferrovpn device left in {}",
        testbed.client_ns()
    ));
    stop_process(&mut daemon, "the ferrovpn daemon")?;
    log_file::show_new(&mut [&mut daemon_log]);
    stop_process(&mut authd, "ferrovpn-authd")?;
    log_file::show_new(&mut [&mut authd_log]);
    server.stop();
    detail(&format!("openvpn server (pid {server_pid}) stopped"));

    begin_step(14)?;
    for (pid, name) in [
        (daemon_pid, "ferrovpn"),
        (authd_pid, "ferrovpn-authd"),
        (server_pid, "openvpn"),
    ] {
        inspect::check_process_gone(pid, name)?;
    }
    detail(&format!(
        "no process left: ferrovpn daemon {daemon_pid}, ferrovpn-authd {authd_pid}, \
         openvpn {server_pid}"
    ));
    let namespaces = [
        testbed.server_ns().to_owned(),
        testbed.client_ns().to_owned(),
    ];
    let dir = testbed.dir().to_owned();
    drop(daemon);
    drop(authd);
    drop(server);
    drop(testbed);
    inspect::check_removed(&namespaces, &dir)?;
    detail(&format!(
        "namespaces {} and {} deleted, {} removed",
        namespaces[0],
        namespaces[1],
        dir.display()
    ));

    println!(
        "\ndemo: done; ferrovpn answered the server's TOTP request, carried traffic and \
         disconnected cleanly"
    );
    Ok(())
}

/// Fails early, with the fix, when the demo cannot run at all.
fn check_preconditions(args: &Args) -> Result<(), Failure> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(format!(
            "the demo needs root for network namespaces and TUN devices (effective uid {euid}); \
             run `sudo scripts/demo`"
        )
        .into());
    }
    for (binary, package) in [
        (&args.ferrovpn, "ferrovpn"),
        (&args.authd, "ferrovpn-authd"),
    ] {
        if !binary.is_file() {
            return Err(format!(
                "binary {} not found; build it with `cargo build -p {package}` or run \
                 scripts/demo",
                binary.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Stops a process the demo started with SIGTERM (SIGKILL after 5 s) and fails unless it
/// exits with 0.
fn stop_process(process: &mut ProcessGuard, name: &str) -> Result<(), Failure> {
    let pid = process.pid();
    let status = process
        .stop()
        .ok_or_else(|| format!("{name} (pid {pid}) was already stopped"))?;
    detail(&format!(
        "sent SIGTERM to {name} (pid {pid}); it exited with {}",
        describe_status(status)
    ));
    if !status.success() {
        return Err(format!(
            "{name} exited with {} after SIGTERM; expected exit code 0",
            describe_status(status)
        )
        .into());
    }
    Ok(())
}
