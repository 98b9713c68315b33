//! Benchmark of the `ferrovpn` client against OpenVPN 2.6's own client.
//!
//! Both clients connect, one at a time, to the same real OpenVPN server that runs in a
//! network namespace of a `ferrovpn-testbed` test bed (UDP, tls-crypt, one data cipher).
//! For each client and data cipher it measures:
//!
//! - the time from spawning the client to the first echo reply from the server's tunnel
//!   address, on every run;
//! - TCP throughput of a verified client-to-server transfer through the tunnel, on the first
//!   `--transfers` runs;
//! - the client's CPU time (user and system, all threads, from `/proc/<pid>/stat`) per GB
//!   moved during that transfer;
//! - the client's peak resident set size (`VmHWM` in `/proc/<pid>/status`).
//!
//! The runs of the two clients alternate, and the client that goes first alternates too, so
//! slow drift of the machine affects both alike. The result is a markdown table on standard
//! output; progress goes to standard error. Needs root, iproute2, iputils `ping` and
//! `openvpn`. `scripts/bench` builds and runs it:
//!
//! ```text
//! bench --ferrovpn target/release/ferrovpn [--runs 5] [--transfers 3] [--megabytes 200]
//! ```

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use ferrovpn_testbed::{
    require_root_and_tools, transfer_check_with_timeout, Netns, OpenVpnServer, Pki, ProcessGuard,
    ServerConfig, Testbed,
};

/// Time a client gets from spawn to the first echo reply through the tunnel.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Time one throughput transfer may take before the run fails.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Interval between echo requests of one probe, which bounds the start time resolution.
const PROBE_INTERVAL: &str = "0.01";

/// Time one probe keeps sending echo requests before it gives up, in seconds.
const PROBE_DEADLINE_SECS: &str = "1";

/// Pause after a probe that failed at once, for example because no route exists yet.
const PROBE_RETRY_PAUSE: Duration = Duration::from_millis(10);

/// Largest `--runs`, which keeps one invocation bounded in time.
const MAX_RUNS: u32 = 20;

/// Largest `--megabytes`, which keeps one transfer well inside its time limit.
const MAX_MEGABYTES: usize = 2_000;

/// Bytes in one megabyte as `--megabytes` counts them (10^6).
const MEGABYTE: usize = 1_000_000;

/// Bytes in one gigabyte as the CPU column counts them (10^9).
const GIGABYTE: f64 = 1e9;

/// Command line of the benchmark.
#[derive(Debug, Parser)]
#[command(about = "Compare ferrovpn's client with OpenVPN's own client on one OpenVPN server")]
struct Args {
    /// Path of the `ferrovpn` binary to measure, normally a release build.
    #[arg(long)]
    ferrovpn: PathBuf,

    /// Connections per client and cipher, each timed from start to first ping (1 to 20).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=MAX_RUNS as i64))]
    runs: u32,

    /// Runs per client and cipher that also measure throughput, at most `--runs`.
    #[arg(long, default_value_t = 3)]
    transfers: u32,

    /// Payload of each throughput transfer, in megabytes of 10^6 bytes (1 to 2000).
    #[arg(long, default_value_t = 200, value_parser = parse_megabytes)]
    megabytes: usize,

    /// Data ciphers to measure, each on its own server.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "AES-256-GCM,CHACHA20-POLY1305"
    )]
    ciphers: Vec<String>,
}

/// The two clients compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// The `ferrovpn connect` binary under test.
    Ferrovpn,
    /// OpenVPN's own `openvpn` client.
    OpenVpn,
}

impl Client {
    /// Name shown in the table.
    fn name(self) -> &'static str {
        match self {
            Client::Ferrovpn => "ferrovpn",
            Client::OpenVpn => "openvpn",
        }
    }
}

/// Measurements of one connection of one client.
#[derive(Debug, Clone)]
struct RunSample {
    /// Time from spawning the client to the first echo reply through the tunnel.
    start: Duration,
    /// Throughput measurement, on the runs that transfer.
    transfer: Option<TransferSample>,
    /// Peak resident set size of the client process, in KiB.
    peak_rss_kib: u64,
}

/// Throughput and CPU cost of one transfer.
#[derive(Debug, Clone, Copy)]
struct TransferSample {
    /// Payload throughput in megabits per second (10^6 bits).
    mbit_per_sec: f64,
    /// Client CPU time, user plus system, per 10^9 payload bytes, in seconds.
    cpu_seconds_per_gb: f64,
}

/// Test bed, profiles and target shared by every run of one cipher.
struct Setup<'a> {
    /// Test bed whose client namespace runs the clients.
    testbed: &'a Testbed,
    /// Path of the `ferrovpn` binary.
    ferrovpn: &'a Path,
    /// Profile for `ferrovpn connect`.
    ferrovpn_profile: PathBuf,
    /// Profile for `openvpn --config`, with `disable-dco` added.
    openvpn_profile: PathBuf,
    /// Server tunnel address the probes and transfers go to.
    target: Ipv4Addr,
    /// Payload of each throughput transfer, in bytes.
    transfer_bytes: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(message) = check_args(&args) {
        eprintln!("bench: {message}");
        std::process::exit(2);
    }
    require_root_and_tools();

    let mut rows = Vec::new();
    for cipher in &args.ciphers {
        eprintln!("bench: measuring {cipher}");
        let samples = measure_cipher(&args, cipher).unwrap_or_else(|error| {
            eprintln!("bench: {cipher}: {error}");
            std::process::exit(1);
        });
        for (client, runs) in samples {
            rows.push(format_row(cipher, client, &runs));
        }
    }

    println!(
        "| cipher | client | start to first ping, ms: median (min-max) of {runs} \
         | throughput, Mbit/s: median (min-max) of {transfers} \
         | client CPU, s per GB: median | client peak RSS, MiB |",
        runs = args.runs,
        transfers = args.transfers,
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// Rejects option combinations that clap's per-value checks cannot see.
fn check_args(args: &Args) -> Result<(), String> {
    if args.transfers > args.runs {
        return Err(format!(
            "--transfers {} is larger than --runs {}; use at most --runs",
            args.transfers, args.runs
        ));
    }
    if !args.ferrovpn.is_file() {
        return Err(format!(
            "ferrovpn binary {} not found; build it with `cargo build --release -p ferrovpn`",
            args.ferrovpn.display()
        ));
    }
    if args.ciphers.is_empty() {
        return Err("--ciphers is empty; name at least one data cipher".to_owned());
    }
    Ok(())
}

/// Parses `--megabytes`, which must be between 1 and [`MAX_MEGABYTES`].
fn parse_megabytes(text: &str) -> Result<usize, String> {
    let value: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a whole number of megabytes"))?;
    if value == 0 || value > MAX_MEGABYTES {
        return Err(format!("{value} is out of range; use 1 to {MAX_MEGABYTES}"));
    }
    Ok(value)
}

/// Starts a server that allows only `cipher` and runs both clients against it.
fn measure_cipher(args: &Args, cipher: &str) -> Result<Vec<(Client, Vec<RunSample>)>, String> {
    let testbed = Testbed::new("bench");
    let pki = Pki::generate(testbed.dir());
    // DCO is off on both ends, so the stock client's data path runs in user space like
    // ferrovpn's, on machines with the ovpn-dco module as well as without.
    let config = ServerConfig::new(&pki)
        .tls_crypt()
        .data_ciphers(&[cipher])
        .verb(3)
        .extra_line("disable-dco");
    let _server = OpenVpnServer::start(&testbed, &config);

    let setup = Setup {
        testbed: &testbed,
        ferrovpn: &args.ferrovpn,
        ferrovpn_profile: testbed.write_client_profile(&pki, &config, &[]),
        openvpn_profile: testbed.write_client_profile(&pki, &config, &["disable-dco"]),
        target: config.server_tunnel_addr(),
        transfer_bytes: args.megabytes * MEGABYTE,
    };

    let mut ferrovpn_runs = Vec::new();
    let mut openvpn_runs = Vec::new();
    for run in 0..args.runs {
        let order = if run % 2 == 0 {
            [Client::Ferrovpn, Client::OpenVpn]
        } else {
            [Client::OpenVpn, Client::Ferrovpn]
        };
        for client in order {
            let transfer = run < args.transfers;
            let sample = measure_run(&setup, client, transfer)
                .map_err(|error| format!("{} run {}: {error}", client.name(), run + 1))?;
            eprintln!(
                "bench: {cipher} {} run {}: first ping after {:.0} ms{}",
                client.name(),
                run + 1,
                sample.start.as_secs_f64() * 1000.0,
                sample.transfer.map_or(String::new(), |transfer| format!(
                    ", {:.0} Mbit/s, {:.2} CPU s/GB",
                    transfer.mbit_per_sec, transfer.cpu_seconds_per_gb
                )),
            );
            match client {
                Client::Ferrovpn => ferrovpn_runs.push(sample),
                Client::OpenVpn => openvpn_runs.push(sample),
            }
        }
    }
    Ok(vec![
        (Client::Ferrovpn, ferrovpn_runs),
        (Client::OpenVpn, openvpn_runs),
    ])
}

/// Starts `client`, waits for the first echo reply, optionally measures a transfer, and
/// stops the client again.
fn measure_run(setup: &Setup, client: Client, transfer: bool) -> Result<RunSample, String> {
    let log = setup.testbed.unique_path(client.name(), "log");
    let began = Instant::now();
    let mut process = spawn_client(setup, client, &log)?;
    let pid = process.pid();

    let start = wait_first_reply(setup, &mut process, began)
        .map_err(|error| format!("{error}\n{}", log_tail(&log)))?;

    let transfer = if transfer {
        let cpu_before = cpu_time(pid)?;
        let report = transfer_check_with_timeout(
            setup.testbed,
            setup.target,
            setup.transfer_bytes,
            TRANSFER_TIMEOUT,
        )
        .map_err(|error| format!("{error}\n{}", log_tail(&log)))?;
        let cpu = cpu_time(pid)?.saturating_sub(cpu_before);
        Some(TransferSample {
            mbit_per_sec: report.mbit_per_sec(),
            cpu_seconds_per_gb: cpu.as_secs_f64() / (report.bytes as f64 / GIGABYTE),
        })
    } else {
        None
    };

    let peak_rss_kib = peak_rss_kib(pid)?;
    process.stop();
    Ok(RunSample {
        start,
        transfer,
        peak_rss_kib,
    })
}

/// Spawns `client` in the client namespace with its output going to `log`.
fn spawn_client(setup: &Setup, client: Client, log: &Path) -> Result<ProcessGuard, String> {
    let ns = setup.testbed.client_ns();
    let mut command = match client {
        Client::Ferrovpn => {
            let mut command = Netns::command(ns, &setup.ferrovpn.to_string_lossy());
            command
                .args(["connect", "--json", "--no-prompt"])
                .arg(&setup.ferrovpn_profile);
            command
        }
        Client::OpenVpn => {
            let mut command = Netns::command(ns, "openvpn");
            command.arg("--config").arg(&setup.openvpn_profile);
            command
        }
    };

    let stdout = File::create(log)
        .map_err(|error| format!("failed to create the log {}: {error}", log.display()))?;
    let stderr = stdout
        .try_clone()
        .map_err(|error| format!("failed to duplicate the log file handle: {error}"))?;
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    ProcessGuard::spawn(command, client.name())
        .map_err(|error| format!("failed to start {}: {error}", client.name()))
}

/// Probes the server's tunnel address until it replies, and returns the time since `began`.
///
/// Each probe is one `ping` that sends an echo request every 10 ms for up to 1 s and exits
/// at the first reply, or at once while the client namespace has no route to the address.
fn wait_first_reply(
    setup: &Setup,
    process: &mut ProcessGuard,
    began: Instant,
) -> Result<Duration, String> {
    let target = setup.target.to_string();
    let max_probes = START_TIMEOUT.as_millis() / PROBE_RETRY_PAUSE.as_millis() + 1;

    for _ in 0..max_probes {
        if began.elapsed() >= START_TIMEOUT {
            break;
        }
        if !process.is_running() {
            return Err("the client exited before the tunnel carried a ping".to_owned());
        }

        let status = Command::new("ip")
            .args([
                "netns",
                "exec",
                setup.testbed.client_ns(),
                "ping",
                "-n",
                "-q",
            ])
            .args([
                "-c",
                "1",
                "-i",
                PROBE_INTERVAL,
                "-w",
                PROBE_DEADLINE_SECS,
                &target,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|error| format!("failed to run ping: {error}"))?;
        if status.success() {
            return Ok(began.elapsed());
        }
        thread::sleep(PROBE_RETRY_PAUSE);
    }
    Err(format!(
        "no echo reply from {target} within {} s",
        START_TIMEOUT.as_secs()
    ))
}

/// User plus system CPU time of process `pid` and all its threads, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path)
        .map_err(|error| format!("failed to read {path}: {error}"))?;

    // The command name in field 2 may contain spaces, so fields are counted after its ')'.
    // There, index 0 is field 3 (state), so utime (field 14) and stime (field 15) are at
    // indexes 11 and 12.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("{path} has no ')' after the command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize, name: &str| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("{path} has no numeric {name} field"))
    };
    let total_ticks = ticks(11, "utime")? + ticks(12, "stime")?;

    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks_per_second <= 0 {
        return Err(format!(
            "sysconf(_SC_CLK_TCK) returned the invalid tick rate {ticks_per_second}"
        ));
    }
    Ok(Duration::from_secs_f64(
        total_ticks as f64 / ticks_per_second as f64,
    ))
}

/// Peak resident set size of process `pid` in KiB, from `VmHWM` in `/proc/<pid>/status`.
fn peak_rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path)
        .map_err(|error| format!("failed to read {path}: {error}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path} has no VmHWM line in kB"))
}

/// Last 20 lines of a client log, after a header naming it.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    format!(
        "last lines of {}:\n{}",
        path.display(),
        lines[start..].join("\n")
    )
}

/// Formats one table row: medians and ranges of the runs of one client with one cipher.
fn format_row(cipher: &str, client: Client, runs: &[RunSample]) -> String {
    let start_ms: Vec<f64> = runs
        .iter()
        .map(|run| run.start.as_secs_f64() * 1000.0)
        .collect();
    let transfers: Vec<TransferSample> = runs.iter().filter_map(|run| run.transfer).collect();
    let mbit: Vec<f64> = transfers.iter().map(|sample| sample.mbit_per_sec).collect();
    let cpu: Vec<f64> = transfers
        .iter()
        .map(|sample| sample.cpu_seconds_per_gb)
        .collect();
    let peak_rss_kib = runs.iter().map(|run| run.peak_rss_kib).max().unwrap_or(0);

    format!(
        "| {cipher} | {} | {} | {} | {} | {:.1} |",
        client.name(),
        summarize(&start_ms, 0),
        summarize(&mbit, 0),
        median(&cpu).map_or("-".to_owned(), |value| format!("{value:.2}")),
        peak_rss_kib as f64 / 1024.0,
    )
}

/// Formats "median (min-max)" of `values` with `decimals` digits, or "-" for no values.
fn summarize(values: &[f64], decimals: usize) -> String {
    let Some(middle) = median(values) else {
        return "-".to_owned();
    };
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{middle:.decimals$} ({min:.decimals$}-{max:.decimals$})")
}

/// Computes the median of `values`: the middle value, or the mean of the two middle values.
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        Some(sorted[middle])
    } else {
        Some((sorted[middle - 1] + sorted[middle]) / 2.0)
    }
}
