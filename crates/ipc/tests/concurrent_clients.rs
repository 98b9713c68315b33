//! Many apps at once against a small provider on a Unix socket in a temporary directory.

mod common;

use std::path::Path;
use std::time::Duration;

use ferrovpn_ipc::{Connection, IpcClient, Request, Response};
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};

/// Number of apps connected at the same time.
const CLIENTS: usize = 50;

/// Requests each app sends on its connection.
const REQUESTS_PER_CLIENT: usize = 20;

/// Time the whole exchange may take before the test counts as hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// Accepts connections forever, each served on its own task.
async fn accept_loop(listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(common::serve(Connection::new(stream)));
    }
}

/// Sends the requests of app `index` and checks that each response belongs to it.
async fn run_client(path: &Path, index: usize) {
    let mut client = IpcClient::connect(path).await.expect("connect");

    for round in 0..REQUESTS_PER_CLIENT {
        let name = format!("client-{index}-request-{round}");
        let response = client
            .request(Request::Status {
                session: Some(name.clone()),
            })
            .await
            .expect("status response");
        let Response::Session(status) = response else {
            panic!("client {index}: expected a session, got {response:?}");
        };
        assert_eq!(
            status.name, name,
            "client {index} got another client's response"
        );
    }

    let lines = (index % 7) as u32;
    let response = client
        .request(Request::Logs {
            session: format!("client-{index}"),
            lines,
        })
        .await
        .expect("logs response");
    let Response::Logs(received) = response else {
        panic!("client {index}: expected logs, got {response:?}");
    };
    assert_eq!(
        received.len(),
        lines as usize,
        "client {index}: number of log lines"
    );
}

/// Writes half of a frame and disconnects.
async fn run_vanishing_client(path: &Path) {
    let mut stream = UnixStream::connect(path).await.expect("connect");
    stream
        .write_all(&128u32.to_be_bytes())
        .await
        .expect("write");
    stream
        .write_all(br#"{"version":1,"id":1,"request":{"#)
        .await
        .expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_get_their_own_responses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ferrovpn.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = tokio::spawn(accept_loop(listener));

    let mut clients = Vec::with_capacity(CLIENTS);
    for index in 0..CLIENTS {
        let path = path.clone();
        clients.push(tokio::spawn(async move { run_client(&path, index).await }));
    }
    let vanishing = {
        let path = path.clone();
        tokio::spawn(async move { run_vanishing_client(&path).await })
    };

    let all_done = tokio::time::timeout(DEADLINE, async {
        for client in clients {
            client.await.expect("client task panicked");
        }
        vanishing.await.expect("vanishing client panicked");
    })
    .await;
    assert!(
        all_done.is_ok(),
        "clients did not finish within {DEADLINE:?}"
    );

    let after = tokio::time::timeout(DEADLINE, run_client(&path, CLIENTS)).await;
    assert!(after.is_ok(), "provider stopped serving after the clients");
    server.abort();
}
