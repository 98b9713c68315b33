//! Username and password authentication: `auth-user-pass`, `auth-retry` and
//! `static-challenge`.

use std::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::directive::{Directive, KindResult};
use crate::material;

/// Credentials from `auth-user-pass`; missing parts are asked from the user at connect time.
#[derive(Clone, Default)]
pub struct AuthUserPass {
    /// The credentials file as resolved, when the profile names one.
    pub file: Option<PathBuf>,
    /// Username from line 1 of the file or inline block.
    pub username: Option<String>,
    /// Password from line 2 of the file or inline block.
    pub password: Option<Zeroizing<String>>,
}

impl fmt::Debug for AuthUserPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthUserPass")
            .field("file", &self.file)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Reaction to credentials the server rejects (`auth-retry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthRetry {
    /// `none`: stop the session.
    #[default]
    None,
    /// `nointeract`: reconnect with the same credentials.
    NoInteract,
    /// `interact`: ask the user for new credentials, then reconnect.
    Interact,
}

/// Encoding of the static challenge response together with the password.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StaticChallengeFormat {
    /// `scrv1`: `SCRV1:<base64 password>:<base64 response>`, the OpenVPN 2.6 format.
    #[default]
    Scrv1,
    /// `concat`: the password followed directly by the response (OpenVPN 2.7).
    Concat,
}

/// A prompt shown before every connection, such as an OTP request (`static-challenge`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticChallenge {
    /// Prompt text for the user.
    pub text: String,
    /// Whether the response may be shown while it is typed.
    pub echo: bool,
    /// Encoding of the response in the password field.
    pub format: StaticChallengeFormat,
}

/// Parses `auth-user-pass [FILE]` or an `<auth-user-pass>` block.
///
/// Returns `None` for `auth-user-pass [inline]`, whose credentials arrive in a separate block.
pub(crate) fn parse_auth_user_pass(
    directive: &Directive,
    base_dir: Option<&Path>,
) -> KindResult<Option<AuthUserPass>> {
    if directive.inline.is_none() {
        directive.expect_count(0, 1, "auth-user-pass [FILE]")?;
        if directive.args.is_empty() {
            return Ok(Some(AuthUserPass::default()));
        }
    } else {
        directive.expect_count(0, 0, "<auth-user-pass>USERNAME\\nPASSWORD</auth-user-pass>")?;
    }

    let Some(material) = material::read(directive, base_dir)? else {
        return Ok(None);
    };
    let text = material.text(directive)?;

    let mut lines = text.lines();
    let username = lines.next().unwrap_or_default();
    if username.is_empty() {
        return Err(material.invalid(
            directive,
            "the first line is empty; put the username on line 1 and, optionally, the password \
             on line 2"
                .to_owned(),
        ));
    }

    let password = lines
        .next()
        .filter(|password| !password.is_empty())
        .map(|password| Zeroizing::new(password.to_owned()));

    Ok(Some(AuthUserPass {
        file: material.path.clone(),
        username: Some(username.to_owned()),
        password,
    }))
}

/// Parses `auth-retry none|nointeract|interact`.
pub(crate) fn parse_auth_retry(directive: &Directive) -> KindResult<AuthRetry> {
    directive.expect_args(1, 1, "auth-retry none|nointeract|interact")?;

    match directive.args[0].as_str() {
        "none" => Ok(AuthRetry::None),
        "nointeract" => Ok(AuthRetry::NoInteract),
        "interact" => Ok(AuthRetry::Interact),
        other => Err(directive.invalid(other, "none, nointeract or interact")),
    }
}

/// Parses `static-challenge TEXT ECHO [scrv1|concat]`.
pub(crate) fn parse_static_challenge(directive: &Directive) -> KindResult<StaticChallenge> {
    directive.expect_args(2, 3, "static-challenge TEXT 0|1 [scrv1|concat]")?;

    let echo = match directive.args[1].as_str() {
        "0" => false,
        "1" => true,
        other => return Err(directive.invalid(other, "0 (hide the response) or 1 (echo it)")),
    };
    let format = match directive.arg(2) {
        None | Some("scrv1") => StaticChallengeFormat::Scrv1,
        Some("concat") => StaticChallengeFormat::Concat,
        Some(other) => return Err(directive.invalid(other, "scrv1 or concat")),
    };

    Ok(StaticChallenge {
        text: directive.args[0].clone(),
        echo,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str, args: &[&str]) -> Directive {
        Directive {
            name: name.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            line: 1,
            inline: None,
        }
    }

    fn block(text: &str) -> Directive {
        Directive {
            name: "auth-user-pass".to_owned(),
            args: Vec::new(),
            line: 1,
            inline: Some(Zeroizing::new(text.to_owned())),
        }
    }

    #[test]
    fn debug_hides_password() {
        let credentials = AuthUserPass {
            file: None,
            username: Some("alice".to_owned()),
            password: Some(Zeroizing::new("hunter2".to_owned())),
        };

        let printed = format!("{credentials:?}");

        assert!(
            !printed.contains("hunter2"),
            "Debug printed the password: {printed}"
        );
    }

    #[test]
    fn without_argument_prompts() {
        let parsed = parse_auth_user_pass(&directive("auth-user-pass", &[]), None)
            .expect("valid")
            .expect("not an inline reference");

        assert!(parsed.username.is_none(), "no username without a file");
    }

    #[test]
    fn block_username_and_password() {
        let parsed = parse_auth_user_pass(&block("alice\r\nhunter2\r\n"), None)
            .expect("valid")
            .expect("a block");

        assert_eq!(parsed.username.as_deref(), Some("alice"));
        assert_eq!(
            parsed.password.as_deref().map(String::as_str),
            Some("hunter2")
        );
    }

    #[test]
    fn block_username_only() {
        let parsed = parse_auth_user_pass(&block("alice\n"), None)
            .expect("valid")
            .expect("a block");

        assert!(
            parsed.password.is_none(),
            "no second line means no password"
        );
    }

    #[test]
    fn empty_block_rejected() {
        let result = parse_auth_user_pass(&block("\n"), None);

        assert!(result.is_err(), "an empty username was accepted");
    }

    #[test]
    fn inline_marker_defers() {
        let parsed = parse_auth_user_pass(&directive("auth-user-pass", &["[inline]"]), None);

        assert!(matches!(parsed, Ok(None)), "expected an inline reference");
    }

    #[test]
    fn auth_retry_values() {
        let cases = [
            ("none", AuthRetry::None),
            ("nointeract", AuthRetry::NoInteract),
            ("interact", AuthRetry::Interact),
        ];

        for (value, expected) in cases {
            let parsed = parse_auth_retry(&directive("auth-retry", &[value]));
            assert_eq!(parsed.ok(), Some(expected), "auth-retry {value}");
        }
    }

    #[test]
    fn static_challenge_formats() {
        let cases = [
            (&["PIN", "1"][..], true, StaticChallengeFormat::Scrv1),
            (
                &["PIN", "0", "scrv1"][..],
                false,
                StaticChallengeFormat::Scrv1,
            ),
            (
                &["PIN", "0", "concat"][..],
                false,
                StaticChallengeFormat::Concat,
            ),
        ];

        for (args, echo, format) in cases {
            let parsed =
                parse_static_challenge(&directive("static-challenge", args)).expect("valid");
            assert_eq!(parsed.echo, echo, "echo of {args:?}");
            assert_eq!(parsed.format, format, "format of {args:?}");
        }
    }

    #[test]
    fn static_challenge_unknown_format() {
        let result = parse_static_challenge(&directive("static-challenge", &["PIN", "1", "plain"]));

        assert!(result.is_err(), "format \"plain\" was accepted");
    }
}
