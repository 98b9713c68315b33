//! Content of `ca`, `cert`, `key` and the other directives that take a file or an inline block.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::directive::{Directive, KindResult};
use crate::error::ProfileErrorKind;

/// Bytes of one file or inline block, with where they came from for error messages.
pub(crate) struct Material {
    /// The content exactly as stored.
    pub bytes: Zeroizing<Vec<u8>>,
    /// The file the content was read from, or `None` for an inline block.
    pub path: Option<PathBuf>,
}

impl Material {
    /// Returns `the inline block` or the quoted path, for error messages.
    fn origin(&self) -> String {
        match &self.path {
            Some(path) => format!("\"{}\"", path.display()),
            None => "the inline block".to_owned(),
        }
    }

    fn contains(&self, needle: &str) -> bool {
        self.bytes
            .windows(needle.len())
            .any(|window| window == needle.as_bytes())
    }

    /// Builds the error for content that is not what `directive` needs.
    pub(crate) fn invalid(&self, directive: &Directive, problem: String) -> ProfileErrorKind {
        ProfileErrorKind::InvalidContent {
            directive: directive.name.clone(),
            origin: self.origin(),
            problem,
        }
    }

    /// Returns the content as UTF-8 text.
    pub(crate) fn text(&self, directive: &Directive) -> KindResult<Zeroizing<String>> {
        match std::str::from_utf8(&self.bytes) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(_) => Err(self.invalid(
                directive,
                "the content is not UTF-8 text; save it as plain text".to_owned(),
            )),
        }
    }
}

/// Returns whether a file argument means "the content is in the `<tag>` block".
///
/// OpenVPN 2.6 writes `[[INLINE]]`; older profiles and documentation use `[inline]`.
pub(crate) fn is_inline_marker(arg: &str) -> bool {
    arg == "[[INLINE]]" || arg.eq_ignore_ascii_case("[inline]")
}

/// Resolves `path` from the profile against `base_dir`, the profile's directory.
pub(crate) fn resolve_path(
    directive: &str,
    path: &str,
    base_dir: Option<&Path>,
) -> KindResult<PathBuf> {
    let written = Path::new(path);
    if written.is_absolute() {
        return Ok(written.to_path_buf());
    }

    match base_dir {
        Some(base_dir) => Ok(base_dir.join(written)),
        None => Err(ProfileErrorKind::RelativePath {
            directive: directive.to_owned(),
            path: path.to_owned(),
        }),
    }
}

/// Reads the content of `directive`: its inline block, or the file its first argument names.
///
/// Returns `None` for `DIRECTIVE [inline]`, whose content arrives in a separate block. The
/// caller checks the argument count first, so a one-line directive has a first argument.
pub(crate) fn read(directive: &Directive, base_dir: Option<&Path>) -> KindResult<Option<Material>> {
    if let Some(text) = &directive.inline {
        return Ok(Some(Material {
            bytes: Zeroizing::new(text.as_bytes().to_vec()),
            path: None,
        }));
    }

    let Some(arg) = directive.arg(0) else {
        return Ok(None);
    };
    if is_inline_marker(arg) {
        return Ok(None);
    }

    let path = resolve_path(&directive.name, arg, base_dir)?;
    match crate::file::read_regular_file(&path) {
        Ok(bytes) => Ok(Some(Material {
            bytes: Zeroizing::new(bytes),
            path: Some(path),
        })),
        Err(error) => Err(ProfileErrorKind::ReadFile {
            directive: directive.name.clone(),
            path,
            error,
        }),
    }
}

/// Checks that `material` contains PEM certificates, as `ca`, `cert` and `extra-certs` need.
pub(crate) fn certificates(directive: &Directive, material: &Material) -> KindResult<Vec<u8>> {
    if !material.contains("-----BEGIN CERTIFICATE-----") {
        return Err(material.invalid(
            directive,
            "no \"-----BEGIN CERTIFICATE-----\" line found; the certificate must be PEM \
             (convert DER with `openssl x509 -inform der -in FILE -out FILE.pem`)"
                .to_owned(),
        ));
    }
    Ok(material.bytes.to_vec())
}

/// Checks that `material` contains an unencrypted PEM private key.
pub(crate) fn private_key(
    directive: &Directive,
    material: Material,
) -> KindResult<Zeroizing<Vec<u8>>> {
    if !material.contains("-----BEGIN ") || !material.contains("PRIVATE KEY-----") {
        return Err(material.invalid(
            directive,
            "no \"-----BEGIN ... PRIVATE KEY-----\" line found; the key must be PEM \
             (convert DER with `openssl pkey -inform der -in FILE -out FILE.pem`)"
                .to_owned(),
        ));
    }

    if material.contains("ENCRYPTED PRIVATE KEY") || material.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(material.invalid(
            directive,
            "the private key is encrypted with a passphrase, which ferrovpn does not support \
             yet; decrypt it with `openssl pkey -in FILE -out key.pem`"
                .to_owned(),
        ));
    }

    Ok(material.bytes)
}

const STATIC_KEY_BEGIN: &str = "-----BEGIN OpenVPN Static key V1-----";
const STATIC_KEY_END: &str = "-----END OpenVPN Static key V1-----";

/// Hex digits in an OpenVPN static key: 256 bytes, two keys of 64-byte cipher and HMAC slots.
const STATIC_KEY_HEX_DIGITS: usize = 512;

/// Checks that `material` is an OpenVPN static key file, as `tls-auth` and `tls-crypt` need.
pub(crate) fn static_key(
    directive: &Directive,
    material: Material,
) -> KindResult<Zeroizing<String>> {
    let text = material.text(directive)?;

    let Some(begin) = text.find(STATIC_KEY_BEGIN) else {
        return Err(material.invalid(
            directive,
            format!(
                "no \"{STATIC_KEY_BEGIN}\" line found; use the key file the server \
                 administrator provides"
            ),
        ));
    };
    let body_start = begin + STATIC_KEY_BEGIN.len();
    let Some(body_len) = text[body_start..].find(STATIC_KEY_END) else {
        return Err(material.invalid(
            directive,
            format!("no \"{STATIC_KEY_END}\" line found; the key file is cut short"),
        ));
    };
    let body = &text[body_start..body_start + body_len];

    if let Some(bad) = body
        .chars()
        .find(|c| !c.is_ascii_hexdigit() && !c.is_whitespace())
    {
        return Err(material.invalid(
            directive,
            format!("the key contains {bad:?}, which is not a hex digit"),
        ));
    }

    let digits = body.chars().filter(char::is_ascii_hexdigit).count();
    if digits != STATIC_KEY_HEX_DIGITS {
        return Err(material.invalid(
            directive,
            format!(
                "the key has {digits} hex digits but an OpenVPN static key has \
                 {STATIC_KEY_HEX_DIGITS} (256 bytes); the key file is damaged"
            ),
        ));
    }

    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, text: &str) -> Directive {
        Directive {
            name: name.to_owned(),
            args: Vec::new(),
            line: 1,
            inline: Some(Zeroizing::new(text.to_owned())),
        }
    }

    fn material(text: &str) -> Material {
        Material {
            bytes: Zeroizing::new(text.as_bytes().to_vec()),
            path: None,
        }
    }

    fn static_key_text(digits: usize) -> String {
        let hex = "0123456789abcdef".repeat(digits / 16 + 1);
        format!(
            "#\n# 2048 bit OpenVPN static key\n#\n{STATIC_KEY_BEGIN}\n{}\n{STATIC_KEY_END}\n",
            &hex[..digits]
        )
    }

    #[test]
    fn inline_marker_spellings() {
        for marker in ["[inline]", "[INLINE]", "[[INLINE]]"] {
            assert!(is_inline_marker(marker), "{marker} should mean inline");
        }
        assert!(!is_inline_marker("inline"), "a bare word is a file name");
    }

    #[test]
    fn resolve_path_joins_base_dir() {
        let path = resolve_path("ca", "keys/ca.crt", Some(Path::new("/etc/ferrovpn")))
            .expect("a base directory is given");

        assert_eq!(path, Path::new("/etc/ferrovpn/keys/ca.crt"));
    }

    #[test]
    fn resolve_path_keeps_absolute() {
        let path = resolve_path("ca", "/srv/ca.crt", None).expect("absolute paths need no base");

        assert_eq!(path, Path::new("/srv/ca.crt"));
    }

    #[test]
    fn resolve_path_relative_without_base() {
        let result = resolve_path("ca", "ca.crt", None);

        assert!(
            matches!(result, Err(ProfileErrorKind::RelativePath { .. })),
            "result was {result:?}"
        );
    }

    #[test]
    fn read_missing_file_names_resolved_path() {
        let directive = Directive {
            name: "ca".to_owned(),
            args: vec!["missing-ca.crt".to_owned()],
            line: 1,
            inline: None,
        };
        let dir = tempfile::tempdir().expect("temporary directory");

        let Err(error) = read(&directive, Some(dir.path())) else {
            panic!("the file does not exist but was read");
        };

        let expected = dir.path().join("missing-ca.crt");
        assert!(
            error.to_string().contains(&expected.display().to_string()),
            "message was: {error}"
        );
    }

    #[test]
    fn certificates_rejects_der_like_content() {
        let directive = block("ca", "MIIB\n");

        let result = certificates(&directive, &material("MIIB\n"));

        assert!(result.is_err(), "content without a PEM header was accepted");
    }

    #[test]
    fn private_key_rejects_encrypted() {
        let text =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let directive = block("key", text);

        let message = private_key(&directive, material(text))
            .expect_err("an encrypted key was accepted")
            .to_string();

        assert!(message.contains("openssl pkey"), "message was: {message}");
    }

    #[test]
    fn private_key_accepts_pkcs8() {
        let text = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n";
        let directive = block("key", text);

        assert!(private_key(&directive, material(text)).is_ok());
    }

    #[test]
    fn static_key_accepts_full_key() {
        let text = static_key_text(STATIC_KEY_HEX_DIGITS);
        let directive = block("tls-crypt", &text);

        let key = static_key(&directive, material(&text)).expect("a complete key");

        assert_eq!(key.as_str(), text);
    }

    #[test]
    fn static_key_rejects_short_key() {
        let text = static_key_text(500);
        let directive = block("tls-auth", &text);

        let message = static_key(&directive, material(&text))
            .expect_err("a short key was accepted")
            .to_string();

        assert!(message.contains("500 hex digits"), "message was: {message}");
    }

    #[test]
    fn static_key_rejects_missing_header() {
        let directive = block("tls-auth", "abcdef\n");

        let result = static_key(&directive, material("abcdef\n"));

        assert!(result.is_err(), "a key without markers was accepted");
    }
}
