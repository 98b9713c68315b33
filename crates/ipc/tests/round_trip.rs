//! Every request, response and event through real frames on a Unix socket pair.

mod common;

use ferrovpn_ipc::{
    Connection, ErrorKind, Event, IpcClient, ProfileSource, Request, Response, SessionState,
    WireAnswer, WireAskReason, WireAuthOutcome, WireAuthRequest, WireAuthRequestKind,
};
use tokio::net::UnixStream;

fn auth_request(id: u64, kind: WireAuthRequestKind) -> WireAuthRequest {
    WireAuthRequest {
        id,
        session: "work".to_owned(),
        kind,
        prompt: "Enter the code from your authenticator".to_owned(),
        echo: false,
        response_required: true,
        expires_at_unix: Some(1_700_000_300),
        reason: "the server rejected the last answer: wrong code".to_owned(),
        reason_kind: WireAskReason::Rejected,
        url: None,
        username: Some("alice".to_owned()),
        password_known: Some(true),
    }
}

fn all_requests() -> Vec<Request> {
    vec![
        Request::Connect {
            profile: ProfileSource::Path("/etc/ferrovpn/work.ovpn".to_owned()),
            name: Some("work".to_owned()),
            username: Some("alice".to_owned()),
            wait: true,
        },
        Request::Connect {
            profile: ProfileSource::Contents {
                name: "home".to_owned(),
                text: "client\nremote 198.18.0.1 1194\n<key>\nbytes\n</key>\n".to_owned(),
            },
            name: None,
            username: None,
            wait: false,
        },
        Request::Disconnect {
            session: Some("work".to_owned()),
            all: false,
        },
        Request::Disconnect {
            session: None,
            all: true,
        },
        Request::Status {
            session: Some("work".to_owned()),
        },
        Request::Status { session: None },
        Request::ListAuthRequests {
            session: Some("work".to_owned()),
        },
        Request::ListAuthRequests { session: None },
        Request::Answer {
            request: 1,
            answer: WireAnswer::Credentials {
                username: "alice".to_owned(),
                password: "correct horse \"battery\" ✓".to_owned(),
            },
        },
        Request::Answer {
            request: 2,
            answer: WireAnswer::StaticChallenge {
                password: Some("hunter2".to_owned()),
                response: "918273".to_owned(),
            },
        },
        Request::Answer {
            request: 3,
            answer: WireAnswer::StaticChallenge {
                password: None,
                response: "918273".to_owned(),
            },
        },
        Request::Answer {
            request: 4,
            answer: WireAnswer::Response {
                response: "918273".to_owned(),
            },
        },
        Request::Answer {
            request: u64::MAX,
            answer: WireAnswer::Acknowledge,
        },
        Request::Subscribe,
        Request::Logs {
            session: "work".to_owned(),
            lines: 50,
        },
    ]
}

fn all_responses() -> Vec<Response> {
    let mut pending = common::status_named("work");
    pending.state = SessionState::WaitingForAuthentication;
    pending.last_error = Some("AUTH_FAILED: wrong code".to_owned());
    pending.pending = vec![auth_request(7, WireAuthRequestKind::PendingChallenge)];

    let mut web_auth = auth_request(8, WireAuthRequestKind::WebAuth);
    web_auth.url = Some("https://sso.example/login?state=abc".to_owned());
    web_auth.expires_at_unix = None;

    let mut responses = vec![
        Response::Ok,
        Response::Session(pending.clone()),
        Response::Sessions(vec![]),
        Response::Sessions(vec![pending.clone(), pending.redacted_for_other_user()]),
        Response::AuthRequests(vec![]),
        Response::AuthRequests(vec![
            auth_request(7, WireAuthRequestKind::Credentials),
            auth_request(9, WireAuthRequestKind::StaticChallenge),
            auth_request(10, WireAuthRequestKind::DynamicChallenge),
            web_auth,
        ]),
        Response::Logs(vec![]),
        Response::Logs(vec!["line one".to_owned(), "line \"two\"\n".to_owned()]),
    ];

    let kinds = [
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::InvalidRequest,
        ErrorKind::UnsupportedVersion,
        ErrorKind::FrameTooLarge,
        ErrorKind::AlreadyExists,
        ErrorKind::NotPending,
        ErrorKind::ConnectFailed,
        ErrorKind::AuthFailed,
        ErrorKind::Internal,
    ];
    for kind in kinds {
        responses.push(Response::error(kind, format!("failed with {kind}")));
    }
    responses
}

fn all_events() -> Vec<Event> {
    let mut events: Vec<Event> = [
        SessionState::Connecting,
        SessionState::WaitingForAuthentication,
        SessionState::Connected,
        SessionState::Reconnecting,
        SessionState::Disconnected,
        SessionState::Failed,
    ]
    .into_iter()
    .map(|state| Event::SessionState {
        session: "work".to_owned(),
        state,
        detail: Some(format!("now {state}")),
    })
    .collect();

    events.push(Event::SessionState {
        session: "work".to_owned(),
        state: SessionState::Connected,
        detail: None,
    });
    events.push(Event::AuthRequestAdded(auth_request(
        11,
        WireAuthRequestKind::PendingChallenge,
    )));
    for outcome in [
        WireAuthOutcome::Answered,
        WireAuthOutcome::Expired,
        WireAuthOutcome::CompletedOutOfBand,
        WireAuthOutcome::Cancelled,
    ] {
        events.push(Event::AuthRequestClosed {
            id: 11,
            session: "work".to_owned(),
            outcome,
        });
    }
    events
}

#[tokio::test]
async fn every_request_round_trips() {
    let (app, provider) = UnixStream::pair().expect("socket pair");
    let mut client = IpcClient::new(app);
    let mut connection = Connection::new(provider);

    for request in all_requests() {
        let expected = request.clone();
        let provider_side = async {
            let (id, received) = connection
                .read_request()
                .await
                .expect("read")
                .expect("a request");
            connection
                .send_response(id, Response::Ok)
                .await
                .expect("respond");
            received
        };

        let (response, received) = tokio::join!(client.request(request), provider_side);

        assert_eq!(received, Ok(expected.clone()), "request changed in transit");
        assert_eq!(
            response.expect("response"),
            Response::Ok,
            "response to {}",
            expected.type_name()
        );
    }
}

#[tokio::test]
async fn every_response_round_trips() {
    let (app, provider) = UnixStream::pair().expect("socket pair");
    let mut client = IpcClient::new(app);
    let mut connection = Connection::new(provider);

    for expected in all_responses() {
        let sent = expected.clone();
        let provider_side = async {
            let (id, _) = connection
                .read_request()
                .await
                .expect("read")
                .expect("a request");
            connection.send_response(id, sent).await.expect("respond");
        };

        let (response, ()) = tokio::join!(
            client.request(Request::Status { session: None }),
            provider_side
        );

        assert_eq!(
            response.expect("response"),
            expected,
            "response changed in transit"
        );
    }
}

#[tokio::test]
async fn every_event_round_trips() {
    let (app, provider) = UnixStream::pair().expect("socket pair");
    let mut connection = Connection::new(provider);
    let provider_side = async {
        let (id, request) = connection
            .read_request()
            .await
            .expect("read")
            .expect("a request");
        assert_eq!(request, Ok(Request::Subscribe), "first request");
        connection
            .send_response(id, Response::Ok)
            .await
            .expect("respond");
        for event in all_events() {
            connection.send_event(event).await.expect("event");
        }
        drop(connection);
    };

    let (events, ()) = tokio::join!(IpcClient::new(app).subscribe(), provider_side);
    let mut events = events.expect("subscribe");

    for expected in all_events() {
        let received = events.next().await.expect("an event").expect("valid event");
        assert_eq!(received, expected, "event changed in transit");
    }
    let end = events.next().await;
    assert!(end.is_none(), "expected the end of the stream, got {end:?}");
}

#[tokio::test]
async fn answers_survive_conversion_after_transit() {
    let (app, provider) = UnixStream::pair().expect("socket pair");
    let mut client = IpcClient::new(app);
    let mut connection = Connection::new(provider);
    let request = Request::Answer {
        request: 4,
        answer: WireAnswer::Response {
            response: "918273".to_owned(),
        },
    };

    let provider_side = async {
        let (id, received) = connection
            .read_request()
            .await
            .expect("read")
            .expect("a request");
        connection
            .send_response(id, Response::Ok)
            .await
            .expect("respond");
        received
    };
    let (_, received) = tokio::join!(client.request(request), provider_side);

    let Ok(Request::Answer { answer, .. }) = received else {
        panic!("expected an answer request, got {received:?}");
    };
    let answer = ferrovpn_protocol::auth_request::AuthAnswer::from(answer);
    let ferrovpn_protocol::auth_request::AuthAnswer::Response(response) = answer else {
        panic!("expected a response answer, got {answer:?}");
    };
    assert_eq!(response.as_str(), "918273");
}
