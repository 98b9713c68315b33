//! `.ovpn` client profiles that connect to a test bed's OpenVPN server.

use std::path::PathBuf;

use crate::addresses::SERVER_LINK_ADDR;
use crate::pki::{write_file, Pki};
use crate::server_config::{ControlWrap, Credentials, ServerConfig};
use crate::testbed::Testbed;

impl Testbed {
    /// Builds a client profile for a server started with `config`.
    ///
    /// The profile contains `<ca>`, `<cert>` and `<key>` from `pki` inline (no client
    /// certificate when the server does not verify one), the control wrap of `config`
    /// (`<tls-auth>` with `key-direction 1` and `auth`, or `<tls-crypt>`),
    /// `remote 198.18.0.1 <port> udp|tcp`, `remote-cert-tls server` and `data-ciphers`.
    /// When `config` has credentials, it writes them to a file in [`Testbed::dir`] and
    /// adds `auth-user-pass <file>`. Each entry of `extra` becomes one more line.
    pub fn client_profile(&self, pki: &Pki, config: &ServerConfig, extra: &[&str]) -> String {
        self.client_profile_with_credentials(pki, config, config.credentials.as_ref(), extra)
    }

    /// Builds a client profile like [`Testbed::client_profile`], but with `credentials`
    /// instead of those of `config`, for example a wrong password.
    pub fn client_profile_with_credentials(
        &self,
        pki: &Pki,
        config: &ServerConfig,
        credentials: Option<&Credentials>,
        extra: &[&str],
    ) -> String {
        let mut profile = String::from("# client profile written by ferrovpn-testbed\n");
        let mut line = |directive: String| {
            profile.push_str(&directive);
            profile.push('\n');
        };

        line("client".to_owned());
        line("dev tun".to_owned());
        line(format!(
            "remote {SERVER_LINK_ADDR} {} {}",
            config.port,
            config.proto.remote_word()
        ));
        line("nobind".to_owned());
        line("remote-cert-tls server".to_owned());
        line(format!("data-ciphers {}", config.data_ciphers.join(":")));
        if let ControlWrap::TlsAuth { digest } = &config.control_wrap {
            line("key-direction 1".to_owned());
            line(format!("auth {digest}"));
        }
        if let Some(credentials) = credentials {
            let path = self.write_credentials_file(credentials);
            line(format!("auth-user-pass {}", path.display()));
        }
        for extra_line in extra {
            line((*extra_line).to_owned());
        }

        push_inline(&mut profile, "ca", &pki.ca_cert_pem);
        if config.verify_client_cert {
            push_inline(&mut profile, "cert", &pki.client.cert_pem);
            push_inline(&mut profile, "key", &pki.client.key_pem);
        }
        match &config.control_wrap {
            ControlWrap::None => {}
            ControlWrap::TlsAuth { .. } => push_inline(&mut profile, "tls-auth", &config.wrap_key),
            ControlWrap::TlsCrypt => push_inline(&mut profile, "tls-crypt", &config.wrap_key),
        }
        profile
    }

    /// Writes [`Testbed::client_profile`] to a new `.ovpn` file in [`Testbed::dir`] and
    /// returns its path.
    pub fn write_client_profile(
        &self,
        pki: &Pki,
        config: &ServerConfig,
        extra: &[&str],
    ) -> PathBuf {
        let profile = self.client_profile(pki, config, extra);
        let path = self.unique_path("client", "ovpn");
        write_file(&path, &profile, 0o600);
        path
    }

    /// Writes `credentials` in `auth-user-pass` file format (username line, password line)
    /// to a new file in [`Testbed::dir`] and returns its path.
    pub fn write_credentials_file(&self, credentials: &Credentials) -> PathBuf {
        let path = self.unique_path("auth-user-pass", "txt");
        let text = format!("{}\n{}\n", credentials.username, credentials.password);
        write_file(&path, &text, 0o600);
        path
    }
}

/// Appends an inline block such as `<ca>` ... `</ca>` holding `contents`.
fn push_inline(profile: &mut String, tag: &str, contents: &str) {
    profile.push_str(&format!("<{tag}>\n"));
    profile.push_str(contents);
    if !contents.ends_with('\n') {
        profile.push('\n');
    }
    profile.push_str(&format!("</{tag}>\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_inline_adds_missing_newline() {
        let mut profile = String::new();
        push_inline(&mut profile, "ca", "PEM");
        assert_eq!(profile, "<ca>\nPEM\n</ca>\n");
    }

    #[test]
    fn push_inline_keeps_final_newline() {
        let mut profile = String::new();
        push_inline(&mut profile, "tls-crypt", "KEY\n");
        assert_eq!(profile, "<tls-crypt>\nKEY\n</tls-crypt>\n");
    }
}
