//! Progress output while connecting: readable lines on standard error, or JSON lines on standard output.

use ferrovpn_protocol::auth_request::{AskReason, AuthRequestKind};
use ferrovpn_provider::ProviderEvent;
use serde_json::json;

/// Prints one provider event in the chosen form.
pub fn print(event: &ProviderEvent, as_json: bool) {
    if as_json {
        println!("{}", to_json(event));
    } else {
        eprintln!("{}", to_text(event));
    }
}

fn to_text(event: &ProviderEvent) -> String {
    match event {
        ProviderEvent::Connecting {
            host,
            port,
            proto,
            attempt,
        } if *attempt > 1 => {
            format!("connecting to {host}:{port} ({proto}), attempt {attempt}")
        }
        ProviderEvent::Connecting {
            host, port, proto, ..
        } => {
            format!("connecting to {host}:{port} ({proto})")
        }
        ProviderEvent::ServerReached { server } => format!("server {server} answered"),
        ProviderEvent::TlsEstablished => "TLS established, server certificate verified".to_owned(),
        ProviderEvent::Authenticating => "authenticating".to_owned(),
        ProviderEvent::AuthPending {
            timeout: Some(timeout),
        } => format!(
            "the server holds authentication pending for up to {} s",
            timeout.as_secs()
        ),
        ProviderEvent::AuthPending { timeout: None } => {
            "the server holds authentication pending".to_owned()
        }
        ProviderEvent::ServerInfo(text) => format!("server: {text}"),
        ProviderEvent::AuthRequested(request) => {
            let left = crate::answer::seconds_left(request.expires_at)
                .map(|seconds| format!(", {seconds} s left"))
                .unwrap_or_default();
            let url = match &request.kind {
                AuthRequestKind::WebAuth { url } => format!(" {url}"),
                _ => String::new(),
            };
            let reason = match &request.reason {
                AskReason::Initial => String::new(),
                other => format!(" ({other})"),
            };
            format!(
                "auth request {} ({}{left}): {}{url}{reason}",
                request.id,
                request.kind.name(),
                request.prompt
            )
        }
        ProviderEvent::AuthRequestClosed { id, outcome } => format!("auth request {id} {outcome}"),
        ProviderEvent::Connected {
            device,
            addresses,
            cipher,
            server,
        } => {
            let addresses: Vec<String> = addresses.iter().map(ToString::to_string).collect();
            format!(
                "connected to {server}: device {device}, address {}, cipher {cipher}",
                addresses.join(", ")
            )
        }
        ProviderEvent::Renegotiated { key_id } => {
            format!("renegotiated data channel keys (key {key_id})")
        }
        ProviderEvent::Reconnecting { reason, delay } => {
            format!("{reason}; reconnecting in {} s", delay.as_secs())
        }
        ProviderEvent::Disconnected { reason } => format!("disconnected: {reason}"),
    }
}

fn to_json(event: &ProviderEvent) -> serde_json::Value {
    match event {
        ProviderEvent::Connecting {
            host,
            port,
            proto,
            attempt,
        } => {
            json!({"event": "connecting", "host": host, "port": port, "proto": proto, "attempt": attempt})
        }
        ProviderEvent::ServerReached { server } => {
            json!({"event": "server_reached", "server": server.to_string()})
        }
        ProviderEvent::TlsEstablished => json!({"event": "tls_established"}),
        ProviderEvent::Authenticating => json!({"event": "authenticating"}),
        ProviderEvent::AuthPending { timeout } => {
            json!({"event": "auth_pending", "timeout_seconds": timeout.map(|t| t.as_secs())})
        }
        ProviderEvent::ServerInfo(text) => json!({"event": "server_info", "text": text}),
        ProviderEvent::AuthRequested(request) => {
            let url = match &request.kind {
                AuthRequestKind::WebAuth { url } => Some(url.clone()),
                _ => None,
            };
            json!({
                "event": "auth_request",
                "id": request.id.0,
                "session": request.session,
                "kind": request.kind.name(),
                "prompt": request.prompt,
                "echo": request.echo,
                "response_required": request.response_required,
                "expires_in_seconds": crate::answer::seconds_left(request.expires_at),
                "reason": request.reason.to_string(),
                "reason_kind": match request.reason {
                    AskReason::Initial => "initial",
                    AskReason::Rejected { .. } => "rejected",
                    AskReason::SessionExpired => "session_expired",
                    AskReason::NextStep => "next_step",
                    AskReason::Reauthentication => "reauthentication",
                },
                "url": url,
            })
        }
        ProviderEvent::AuthRequestClosed { id, outcome } => {
            json!({"event": "auth_request_closed", "id": id.0, "outcome": outcome.to_string()})
        }
        ProviderEvent::Connected {
            device,
            addresses,
            cipher,
            server,
        } => json!({
            "event": "connected",
            "device": device,
            "addresses": addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "cipher": cipher,
            "server": server.to_string(),
        }),
        ProviderEvent::Renegotiated { key_id } => {
            json!({"event": "renegotiated", "key_id": key_id})
        }
        ProviderEvent::Reconnecting { reason, delay } => {
            json!({"event": "reconnecting", "reason": reason, "delay_seconds": delay.as_secs()})
        }
        ProviderEvent::Disconnected { reason } => {
            json!({"event": "disconnected", "reason": reason})
        }
    }
}
