//! Invalid and broken frames against a provider on a Unix socket pair.

mod common;

use std::time::Duration;

use ferrovpn_ipc::{
    decode_provider_message, read_frame, write_frame, Connection, ErrorKind, ProviderMessage,
    Response, UNKNOWN_ID,
};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::task::JoinHandle;

/// Time a test waits for the provider before it counts as hung.
const WAIT: Duration = Duration::from_secs(10);

fn start_provider() -> (UnixStream, JoinHandle<()>) {
    let (app, provider) = UnixStream::pair().expect("socket pair");
    let server = tokio::spawn(common::serve(Connection::new(provider)));
    (app, server)
}

async fn next_message(app: &mut UnixStream) -> Option<ProviderMessage> {
    let payload = tokio::time::timeout(WAIT, read_frame(app))
        .await
        .expect("provider timed out")
        .expect("frame from the provider")?;
    Some(decode_provider_message(&payload).expect("provider message"))
}

/// Sends `payload` as one frame and returns the response's id, kind and message.
async fn send_invalid(app: &mut UnixStream, payload: &[u8]) -> (u64, ErrorKind, String) {
    write_frame(app, payload).await.expect("write");
    match next_message(app).await {
        Some(ProviderMessage::Response {
            id,
            response: Response::Error { kind, message },
        }) => (id, kind, message),
        other => panic!("expected an error response, got {other:?}"),
    }
}

async fn assert_still_serves(app: &mut UnixStream) {
    let valid = br#"{"version":1,"id":99,"request":{"type":"subscribe"}}"#;
    write_frame(app, valid).await.expect("write");
    let message = next_message(app).await;
    assert_eq!(
        message,
        Some(ProviderMessage::Response {
            id: 99,
            response: Response::Ok
        }),
        "valid request after an invalid one"
    );
}

#[tokio::test]
async fn malformed_json_gets_error_with_id_zero() {
    let (mut app, _server) = start_provider();

    let (id, kind, _) = send_invalid(&mut app, b"{\"version\":1,\"id\":5,").await;

    assert_eq!(id, UNKNOWN_ID);
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert_still_serves(&mut app).await;
}

#[tokio::test]
async fn unknown_version_gets_unsupported_version() {
    let (mut app, _server) = start_provider();
    let payload = br#"{"version":2,"id":5,"request":{"type":"status"}}"#;

    let (id, kind, message) = send_invalid(&mut app, payload).await;

    assert_eq!(id, 5);
    assert_eq!(kind, ErrorKind::UnsupportedVersion);
    assert!(message.contains("version 2"), "version missing: {message}");
    assert_still_serves(&mut app).await;
}

#[tokio::test]
async fn unknown_request_type_gets_invalid_request() {
    let (mut app, _server) = start_provider();
    let payload = br#"{"version":1,"id":6,"request":{"type":"reboot"}}"#;

    let (id, kind, message) = send_invalid(&mut app, payload).await;

    assert_eq!(id, 6);
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert!(message.contains("reboot"), "type missing: {message}");
    assert_still_serves(&mut app).await;
}

#[tokio::test]
async fn invalid_utf8_gets_invalid_request() {
    let (mut app, _server) = start_provider();

    let (id, kind, _) = send_invalid(&mut app, b"{\"version\":1,\"id\":\xff}").await;

    assert_eq!(id, UNKNOWN_ID);
    assert_eq!(kind, ErrorKind::InvalidRequest);
    assert_still_serves(&mut app).await;
}

#[tokio::test]
async fn oversized_prefix_gets_error_then_close() {
    let (mut app, server) = start_provider();
    app.write_all(&u32::MAX.to_be_bytes()).await.expect("write");

    let first = next_message(&mut app).await;
    let second = next_message(&mut app).await;

    let Some(ProviderMessage::Response {
        id,
        response: Response::Error { kind, message },
    }) = first
    else {
        panic!("expected an error response, got {first:?}");
    };
    assert_eq!(id, UNKNOWN_ID);
    assert_eq!(kind, ErrorKind::FrameTooLarge);
    assert!(message.contains("4294967295"), "length missing: {message}");
    assert!(second.is_none(), "connection stayed open: {second:?}");
    server.await.expect("provider task panicked");
}

#[tokio::test]
async fn truncated_frame_gets_error_then_close() {
    let (mut app, server) = start_provider();
    app.write_all(&64u32.to_be_bytes()).await.expect("write");
    app.write_all(br#"{"version":1,"id":3"#)
        .await
        .expect("write");
    app.shutdown().await.expect("half close");

    let first = next_message(&mut app).await;
    let second = next_message(&mut app).await;

    assert!(
        matches!(
            first,
            Some(ProviderMessage::Response {
                id: UNKNOWN_ID,
                response: Response::Error {
                    kind: ErrorKind::InvalidRequest,
                    ..
                }
            })
        ),
        "unexpected report: {first:?}"
    );
    assert!(second.is_none(), "connection stayed open: {second:?}");
    server.await.expect("provider task panicked");
}

#[tokio::test]
async fn app_vanishing_mid_frame_ends_provider_task() {
    let (mut app, server) = start_provider();
    app.write_all(&64u32.to_be_bytes()).await.expect("write");
    app.write_all(b"{\"version\"").await.expect("write");
    drop(app);

    let finished = tokio::time::timeout(WAIT, server).await;

    assert!(
        matches!(finished, Ok(Ok(()))),
        "provider task did not end cleanly: {finished:?}"
    );
}
