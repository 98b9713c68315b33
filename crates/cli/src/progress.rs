//! Progress output while connecting: readable lines on standard error, or JSON lines on standard output.

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
