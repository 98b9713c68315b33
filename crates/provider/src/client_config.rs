//! Turns a parsed profile into the protocol core's [`ClientConfig`].

use std::time::Duration;

use ferrovpn_profile::{Profile, TlsWrapConfig};
use ferrovpn_protocol::config::{
    ClientConfig, ControlWrap, Credentials, Transport, DEFAULT_HAND_WINDOW, DEFAULT_TLS_TIMEOUT,
    DEFAULT_TUN_MTU,
};
use ferrovpn_protocol::static_key::{KeyDirection, StaticKey};
use ferrovpn_protocol::tls::{self, TlsSettings, TlsVersion, VerifyX509Name, X509NameKind};
use ferrovpn_protocol::tls_auth::Digest;

/// Error turning a profile into a connection configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The profile has no `ca`.
    #[error("the profile has no ca; add <ca>...</ca> or `ca FILE`")]
    MissingCa,
    /// The certificates or key could not be loaded.
    #[error("{0}")]
    Tls(#[from] tls::TlsSetupError),
    /// The `tls-auth` or `tls-crypt` key is invalid.
    #[error("invalid {directive} key: {error}")]
    StaticKey {
        /// `tls-auth` or `tls-crypt`.
        directive: &'static str,
        /// The parse error of the key.
        error: ferrovpn_protocol::static_key::StaticKeyError,
    },
    /// The `auth` digest is not one `tls-auth` supports.
    #[error("{0}")]
    Digest(ferrovpn_protocol::tls_auth::UnsupportedDigest),
    /// `key-direction` is neither 0 nor 1.
    #[error("invalid key-direction {0}; use 0 or 1 (clients normally use 1)")]
    KeyDirection(u8),
}

/// Builds the per-connection configuration for `profile`.
///
/// `credentials` replaces whatever the profile holds: the caller resolves them
/// (from the profile's file, a prompt or an auth-token).
pub fn client_config(
    profile: &Profile,
    transport_tcp: bool,
    credentials: Option<Credentials>,
) -> Result<ClientConfig, ClientConfigError> {
    let ca = profile.ca.clone().ok_or(ClientConfigError::MissingCa)?;
    let settings = TlsSettings {
        ca_pem: ca,
        cert_pem: profile.cert.clone(),
        key_pem: profile.key.clone(),
        remote_cert_tls_server: profile.remote_cert_tls_server,
        verify_x509_name: profile
            .verify_x509_name
            .as_ref()
            .map(|(name, kind)| VerifyX509Name {
                name: name.clone(),
                kind: match kind {
                    ferrovpn_profile::X509NameType::Subject => X509NameKind::Subject,
                    ferrovpn_profile::X509NameType::Name => X509NameKind::Name,
                    ferrovpn_profile::X509NameType::NamePrefix => X509NameKind::NamePrefix,
                },
            }),
        tls_version_min: match profile.tls_version_min {
            Some(ferrovpn_profile::TlsVersionMin::V1_3) => Some(TlsVersion::V1_3),
            _ => None,
        },
    };
    let tls = tls::build_client_config(&settings)?;

    let control_wrap = match &profile.tls_wrap {
        None => ControlWrap::None,
        Some(TlsWrapConfig::Auth { key, direction }) => {
            let key = StaticKey::parse(key).map_err(|error| ClientConfigError::StaticKey {
                directive: "tls-auth",
                error,
            })?;
            let direction = match direction {
                None => None,
                Some(0) => Some(KeyDirection::Normal),
                Some(1) => Some(KeyDirection::Inverse),
                Some(other) => return Err(ClientConfigError::KeyDirection(*other)),
            };
            let digest = match &profile.auth_digest {
                Some(name) => Digest::from_name(name).map_err(ClientConfigError::Digest)?,
                None => Digest::Sha1,
            };
            ControlWrap::TlsAuth {
                key,
                direction,
                digest,
            }
        }
        Some(TlsWrapConfig::Crypt { key }) => {
            let key = StaticKey::parse(key).map_err(|error| ClientConfigError::StaticKey {
                directive: "tls-crypt",
                error,
            })?;
            ControlWrap::TlsCrypt { key }
        }
    };

    let mut data_ciphers = profile.data_ciphers.clone();
    if data_ciphers.is_empty() {
        data_ciphers = ferrovpn_protocol::DataCipher::ALL.to_vec();
    }

    let peer_info_extra = profile
        .setenv
        .iter()
        .filter(|(name, _)| name.starts_with("IV_") || name.starts_with("UV_"))
        .cloned()
        .collect();

    Ok(ClientConfig {
        transport: if transport_tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        },
        tls,
        control_wrap,
        data_ciphers,
        data_ciphers_fallback: profile.data_ciphers_fallback,
        credentials,
        peer_info_extra,
        // Every pending-auth method the provider turns into an auth request.
        sso_methods: vec![
            "crtext".to_owned(),
            "openurl".to_owned(),
            "webauth".to_owned(),
        ],
        reneg_sec: profile
            .reneg_sec
            .filter(|seconds| *seconds > 0)
            .map(|seconds| Duration::from_secs(u64::from(seconds))),
        hand_window: profile
            .hand_window
            .map(|seconds| Duration::from_secs(u64::from(seconds)))
            .unwrap_or(DEFAULT_HAND_WINDOW),
        tls_timeout: profile
            .tls_timeout
            .map(|seconds| Duration::from_secs(u64::from(seconds.max(1))))
            .unwrap_or(DEFAULT_TLS_TIMEOUT),
        ping: profile
            .ping
            .filter(|seconds| *seconds > 0)
            .map(|seconds| Duration::from_secs(u64::from(seconds))),
        ping_restart: profile
            .ping_restart
            .filter(|seconds| *seconds > 0)
            .map(|seconds| Duration::from_secs(u64::from(seconds))),
        compression: profile.compression,
        tun_mtu: profile.tun_mtu.unwrap_or(DEFAULT_TUN_MTU),
        explicit_exit_notify: profile.explicit_exit_notify.is_some(),
    })
}
