//! A tiny provider for tests: it answers every request on one connection.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use ferrovpn_ipc::{Connection, Request, Response, SessionState, SessionStatus};
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves requests until the app closes the connection or breaks a frame.
///
/// `status` returns a session named after the request, `logs` returns the
/// requested number of lines, anything else `ok`; invalid requests get the
/// error response.
pub async fn serve<S>(mut connection: Connection<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let (id, request) = match connection.read_request().await {
            Ok(Some(incoming)) => incoming,
            Ok(None) | Err(_) => return,
        };

        let response = match request {
            Ok(Request::Status {
                session: Some(name),
            }) => Response::Session(status_named(&name)),
            Ok(Request::Logs { session, lines }) => {
                Response::Logs((0..lines).map(|n| format!("{session} line {n}")).collect())
            }
            Ok(_) => Response::Ok,
            Err(error) => error.to_response(),
        };
        if connection.send_response(id, response).await.is_err() {
            return;
        }
    }
}

/// A connected session named `name`.
pub fn status_named(name: &str) -> SessionStatus {
    SessionStatus {
        name: name.to_owned(),
        owner_uid: 1000,
        state: SessionState::Connected,
        server: Some("198.18.0.1:1194 (udp)".to_owned()),
        addresses: vec!["198.18.10.2/24".to_owned(), "fd00::2/64".to_owned()],
        device: Some("tun0".to_owned()),
        bytes_in: 1234,
        bytes_out: 5678,
        since_unix: 1_700_000_000,
        last_error: None,
        pending: Vec::new(),
    }
}
