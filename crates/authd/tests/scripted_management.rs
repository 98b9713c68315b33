//! `ferrovpn-authd run` against a scripted management interface on a Unix socket: the
//! replies to malformed and interrupted notifications, and the reconnect after the
//! server closes the connection.

use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ferrovpn_testbed::ProcessGuard;

mod common;

use common::{add_user, read_from, AUTHD};

/// Greeting of an OpenVPN 2.6 management interface.
const GREETING: &str =
    ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n";

/// Time allowed for authd to connect or to send a command.
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// Accepts one connection within [`STEP_TIMEOUT`] and greets it.
fn accept(listener: &UnixListener) -> (BufReader<UnixStream>, UnixStream) {
    listener
        .set_nonblocking(true)
        .expect("listener non-blocking");
    let deadline = Instant::now() + STEP_TIMEOUT;
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(error) if error.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("authd did not connect: {error}"),
        }
    };
    stream.set_nonblocking(false).expect("stream blocking");
    stream
        .set_read_timeout(Some(STEP_TIMEOUT))
        .expect("read timeout set");
    let mut writer = stream.try_clone().expect("stream cloned");
    writer
        .write_all(GREETING.as_bytes())
        .expect("greeting sent");
    (BufReader::new(stream), writer)
}

/// Reads the next command line from authd.
fn read_command(reader: &mut BufReader<UnixStream>, log: &Path) -> String {
    let mut line = String::new();
    let read = reader.read_line(&mut line);
    assert!(
        matches!(read, Ok(count) if count > 0),
        "no command from authd ({read:?}); authd log:\n{}",
        read_from(log, 0)
    );
    line.trim_end().to_owned()
}

#[test]
fn scripted_server_malformed_interrupted_reconnect() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("users.db");
    add_user(&database, "alice", "pw");
    let socket = dir.path().join("management.sock");
    let listener = UnixListener::bind(&socket).expect("socket bound");
    let log = dir.path().join("authd.log");
    let log_file = File::create(&log).expect("log created");

    let mut command = Command::new(AUTHD);
    command
        .args(["run", "--management"])
        .arg(&socket)
        .arg("--database")
        .arg(&database)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("log handle duplicated"))
        .stderr(log_file);
    let mut authd = ProcessGuard::spawn(command, "ferrovpn-authd").expect("authd starts");

    let (mut reader, mut writer) = accept(&listener);
    let script = concat!(
        // A CONNECT whose CID does not parse; its variables must be skipped quietly.
        ">CLIENT:CONNECT,x,1\r\n",
        ">CLIENT:ENV,username=alice\r\n",
        ">CLIENT:ENV,END\r\n",
        // A CONNECT cut short by the next one.
        ">CLIENT:CONNECT,5,1\r\n",
        ">CLIENT:ENV,username=alice\r\n",
        ">CLIENT:CONNECT,6,2\r\n",
        ">CLIENT:ENV,username=alice\r\n",
        ">CLIENT:ENV,password=pw\r\n",
        ">CLIENT:ENV,untrusted_ip=127.0.0.1\r\n",
        ">CLIENT:ENV,END\r\n",
    );
    writer.write_all(script.as_bytes()).expect("script sent");

    let interrupted = read_command(&mut reader, &log);
    assert_eq!(interrupted, r#"client-deny 5 1 "incomplete notification""#);
    writer
        .write_all(b"SUCCESS: client-deny command succeeded\r\n")
        .expect("response sent");

    let challenge = read_command(&mut reader, &log);
    assert!(
        challenge.starts_with(r#"client-deny 6 2 "crv1 challenge sent" "CRV1:R,E:"#),
        "challenge command {challenge:?}"
    );
    assert!(
        challenge.ends_with(r#":YWxpY2U=:Enter your authenticator code""#),
        "challenge command {challenge:?}"
    );
    writer
        .write_all(b"ERROR: client-deny command failed\r\n")
        .expect("response sent");

    // The server goes away; authd must come back to the same socket.
    drop(reader);
    drop(writer);
    let (mut reader, mut writer) = accept(&listener);
    let script = concat!(
        ">CLIENT:CONNECT,7,0\r\n",
        ">CLIENT:ENV,username=alice\r\n",
        ">CLIENT:ENV,password=wrong\r\n",
        ">CLIENT:ENV,END\r\n",
    );
    writer.write_all(script.as_bytes()).expect("script sent");
    let denied = read_command(&mut reader, &log);
    assert_eq!(denied, r#"client-deny 7 0 "wrong password""#);

    let status = authd.stop();
    assert!(
        status.is_some_and(|status| status.success()),
        "authd must exit cleanly on SIGTERM: {status:?}"
    );
    let text = read_from(&log, 0);
    for expected in [
        "malformed >CLIENT:CONNECT line from the server: CID \"x\" is not a decimal number",
        "the server interrupted a notification",
        "openvpn rejected a command",
        "management connection lost",
        "reconnected to the management interface",
    ] {
        assert!(text.contains(expected), "log lacks {expected:?}:\n{text}");
    }
    assert!(
        !text.contains("ENV outside a notification"),
        "the variables of the malformed CONNECT must be skipped:\n{text}"
    );
}
