//! End-to-end data check: TCP through the tunnel from the client to the server namespace.

use std::any::Any;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::netns::Netns;
use crate::pattern::PatternStream;
use crate::testbed::Testbed;

/// Time a whole transfer check may take unless the caller chooses another.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Time allowed for one TCP connection attempt through the tunnel.
const CONNECT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause between connection attempts while the tunnel route is not yet usable.
const CONNECT_RETRY_INTERVAL: Duration = Duration::from_millis(200);

/// Interval between two checks for an incoming connection.
const ACCEPT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Size of the buffers both ends read and write, in bytes.
const CHUNK_LEN: usize = 64 * 1024;

/// Marker in the server's reply meaning that every byte matched.
const NO_MISMATCH: u64 = u64::MAX;

/// Result of a successful transfer check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReport {
    /// Number of payload bytes sent and verified.
    pub bytes: usize,
    /// Time from the first connection attempt to the server's digest reply.
    pub elapsed: Duration,
    /// SHA-256 of the payload, equal on both ends.
    pub sha256: [u8; 32],
}

impl TransferReport {
    /// Payload throughput in megabits per second (10^6 bits).
    pub fn mbit_per_sec(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64().max(f64::EPSILON);
        self.bytes as f64 * 8.0 / seconds / 1_000_000.0
    }
}

/// Sends `bytes` of deterministic pseudo-random data through the tunnel and verifies it,
/// with a 120 s limit.
///
/// A TCP listener on `server_tunnel_addr` (198.19.0.1 for the default pool) runs in the
/// server namespace, and a client in the client namespace connects to it, so the data
/// crosses the VPN tunnel. The server compares every byte with the expected stream and
/// replies with the SHA-256 it computed, which the client compares with its own.
pub fn transfer_check(
    testbed: &Testbed,
    server_tunnel_addr: impl Into<IpAddr>,
    bytes: usize,
) -> Result<TransferReport, String> {
    transfer_check_with_timeout(testbed, server_tunnel_addr, bytes, TRANSFER_TIMEOUT)
}

/// Runs [`transfer_check`] with a limit of `timeout` for the whole check.
pub fn transfer_check_with_timeout(
    testbed: &Testbed,
    server_tunnel_addr: impl Into<IpAddr>,
    bytes: usize,
    timeout: Duration,
) -> Result<TransferReport, String> {
    let server_addr = server_tunnel_addr.into();
    let deadline = Instant::now() + timeout;
    let abort = AtomicBool::new(false);
    let (port_sender, port_receiver) = mpsc::channel();

    let (client_result, server_result) = thread::scope(|scope| {
        let server = scope.spawn(|| {
            Netns::run(testbed.server_ns(), || {
                receive(server_addr, bytes, deadline, &port_sender, &abort)
            })
        });

        let client_result = match port_receiver.recv_timeout(remaining(deadline)) {
            Ok(Ok(port)) => Netns::run(testbed.client_ns(), || {
                send(SocketAddr::new(server_addr, port), bytes, deadline)
            }),
            Ok(Err(error)) => Err(error),
            Err(_) => Err("the receiving side did not start listening".to_owned()),
        };
        if client_result.is_err() {
            abort.store(true, Ordering::Relaxed);
        }

        let server_result = server
            .join()
            .unwrap_or_else(|panic| Err(panic_message(panic)));
        (client_result, server_result)
    });

    match (client_result, server_result) {
        (Ok(report), Ok(())) => Ok(report),
        (Err(client), Ok(())) => Err(format!(
            "transfer check failed on the client side: {client}"
        )),
        (Ok(_), Err(server)) => Err(format!(
            "transfer check failed on the server side: {server}"
        )),
        (Err(client), Err(server)) => Err(format!(
            "transfer check failed on the client side: {client}; on the server side: {server}"
        )),
    }
}

/// Server end: accepts one connection, verifies the payload and replies with its digest.
fn receive(
    addr: IpAddr,
    expected_len: usize,
    deadline: Instant,
    port_sender: &mpsc::Sender<Result<u16, String>>,
    abort: &AtomicBool,
) -> Result<(), String> {
    let listener = match bind_listener(addr) {
        Ok(listener) => listener,
        Err(error) => {
            let _ = port_sender.send(Err(error.clone()));
            return Err(error);
        }
    };
    let port = listener
        .local_addr()
        .map_err(|error| format!("failed to read the listener address: {error}"))?
        .port();
    let _ = port_sender.send(Ok(port));

    let mut stream = accept_until(&listener, deadline, abort)?;
    set_timeouts(&stream, deadline)?;

    let mut header = [0u8; 8];
    read_exact_before(&mut stream, &mut header, deadline, "length header")?;
    let announced_len = u64::from_be_bytes(header);
    if announced_len != expected_len as u64 {
        return Err(format!(
            "client announced {announced_len} bytes, expected {expected_len}"
        ));
    }

    let mut pattern = PatternStream::new();
    let mut hasher = Sha256::new();
    let mut received = vec![0u8; CHUNK_LEN];
    let mut expected = vec![0u8; CHUNK_LEN];
    let mut first_mismatch = NO_MISMATCH;
    let mut offset = 0usize;

    while offset < expected_len {
        let want = CHUNK_LEN.min(expected_len - offset);
        let chunk = &mut received[..want];
        read_exact_before(&mut stream, chunk, deadline, "payload")
            .map_err(|error| format!("{error} after {offset} of {expected_len} bytes"))?;

        pattern.fill(&mut expected[..want]);
        if first_mismatch == NO_MISMATCH {
            if let Some(index) = chunk
                .iter()
                .zip(&expected[..want])
                .position(|(a, b)| a != b)
            {
                first_mismatch = (offset + index) as u64;
            }
        }
        hasher.update(&*chunk);
        offset += want;
    }

    let digest: [u8; 32] = hasher.finalize().into();
    let mut reply = [0u8; 40];
    reply[..32].copy_from_slice(&digest);
    reply[32..].copy_from_slice(&first_mismatch.to_be_bytes());
    stream
        .write_all(&reply)
        .map_err(|error| format!("failed to send the digest reply: {error}"))?;

    if first_mismatch != NO_MISMATCH {
        return Err(format!(
            "received data differs from the sent data at byte {first_mismatch} of {expected_len}"
        ));
    }
    Ok(())
}

/// Client end: connects, sends the payload and checks the server's digest.
fn send(server: SocketAddr, len: usize, deadline: Instant) -> Result<TransferReport, String> {
    let start = Instant::now();
    let mut stream = connect_until(server, deadline)?;
    set_timeouts(&stream, deadline)?;

    stream
        .write_all(&(len as u64).to_be_bytes())
        .map_err(|error| format!("failed to send the length header: {error}"))?;

    let mut pattern = PatternStream::new();
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; CHUNK_LEN];
    let mut offset = 0usize;
    while offset < len {
        if Instant::now() >= deadline {
            return Err(format!("timed out after sending {offset} of {len} bytes"));
        }
        let want = CHUNK_LEN.min(len - offset);
        pattern.fill(&mut chunk[..want]);
        stream
            .write_all(&chunk[..want])
            .map_err(|error| format!("failed after sending {offset} of {len} bytes: {error}"))?;
        hasher.update(&chunk[..want]);
        offset += want;
    }

    let mut reply = [0u8; 40];
    read_exact_before(&mut stream, &mut reply, deadline, "digest reply")?;
    let sha256: [u8; 32] = hasher.finalize().into();

    let first_mismatch = u64::from_be_bytes(reply[32..].try_into().expect("8-byte slice"));
    if first_mismatch != NO_MISMATCH {
        return Err(format!(
            "server received different data from byte {first_mismatch} of {len}"
        ));
    }
    if reply[..32] != sha256 {
        return Err(format!(
            "digest mismatch: sent data has SHA-256 {}, server computed {}",
            hex(&sha256),
            hex(&reply[..32])
        ));
    }

    Ok(TransferReport {
        bytes: len,
        elapsed: start.elapsed(),
        sha256,
    })
}

/// Binds a listener on an ephemeral port of `addr`.
fn bind_listener(addr: IpAddr) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(SocketAddr::new(addr, 0)).map_err(|error| {
        format!("failed to listen on {addr}: {error}; is the server's tunnel device up?")
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|error| format!("failed to make the listener non-blocking: {error}"))?;
    Ok(listener)
}

/// Waits for one connection until `deadline` or until the client side gives up.
fn accept_until(
    listener: &TcpListener,
    deadline: Instant,
    abort: &AtomicBool,
) -> Result<TcpStream, String> {
    let max_polls = remaining(deadline).as_millis() / ACCEPT_POLL_INTERVAL.as_millis() + 1;
    for _ in 0..max_polls {
        if abort.load(Ordering::Relaxed) {
            return Err("stopped waiting for a connection because the client side failed".into());
        }
        match listener.accept() {
            Ok((stream, _)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|error| format!("failed to make the stream blocking: {error}"))?;
                return Ok(stream);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(format!("failed to accept a connection: {error}")),
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(ACCEPT_POLL_INTERVAL);
    }
    Err("timed out waiting for the client to connect through the tunnel".to_owned())
}

/// Connects to `server`, retrying while the tunnel is not yet usable, until `deadline`.
fn connect_until(server: SocketAddr, deadline: Instant) -> Result<TcpStream, String> {
    let mut last_error = String::from("no attempt was made");
    let max_attempts = remaining(deadline).as_millis() / CONNECT_RETRY_INTERVAL.as_millis() + 1;

    for _ in 0..max_attempts {
        let attempt_timeout = CONNECT_ATTEMPT_TIMEOUT.min(remaining(deadline));
        if attempt_timeout.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&server, attempt_timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = error.to_string(),
        }
        thread::sleep(CONNECT_RETRY_INTERVAL.min(remaining(deadline)));
    }
    Err(format!(
        "failed to connect to {server} through the tunnel: {last_error}"
    ))
}

/// Limits every blocking read and write on `stream` to the time left before `deadline`.
fn set_timeouts(stream: &TcpStream, deadline: Instant) -> Result<(), String> {
    let timeout = remaining(deadline).max(Duration::from_millis(1));
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| format!("failed to set socket timeouts: {error}"))
}

/// Reads exactly `buf.len()` bytes, failing once `deadline` has passed.
fn read_exact_before(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
    what: &str,
) -> Result<(), String> {
    if Instant::now() >= deadline {
        return Err(format!("timed out before reading the {what}"));
    }
    stream.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("timed out reading the {what}")
        }
        _ => format!("failed to read the {what}: {error}"),
    })
}

/// Time left until `deadline`, zero once it has passed.
fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Lower-case hexadecimal form of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Message of a panic payload from a joined thread.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        return format!("panicked: {message}");
    }
    if let Some(message) = payload.downcast_ref::<String>() {
        return format!("panicked: {message}");
    }
    "panicked with a non-text payload".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_throughput_in_megabits() {
        let report = TransferReport {
            bytes: 1_000_000,
            elapsed: Duration::from_secs(2),
            sha256: [0; 32],
        };
        assert_eq!(report.mbit_per_sec(), 4.0);
    }

    #[test]
    fn hex_formats_lower_case() {
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
