//! Errors that stop a profile from loading.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A profile that cannot be used as written, with where it went wrong.
#[derive(Debug, Error)]
#[error("{}: {kind}", location(.source_name, *.line))]
pub struct ProfileError {
    /// Name of the profile as given to [`crate::Profile::parse`], or the path given to
    /// [`crate::Profile::load`].
    pub source_name: String,
    /// 1-based line of the directive at fault, or `None` for a problem of the whole profile.
    pub line: Option<usize>,
    /// The problem and its fix.
    pub kind: ProfileErrorKind,
}

impl ProfileError {
    /// Builds an error for `source_name` at `line`.
    pub(crate) fn new(source_name: &str, line: Option<usize>, kind: ProfileErrorKind) -> Self {
        ProfileError {
            source_name: source_name.to_owned(),
            line,
            kind,
        }
    }
}

fn location(source_name: &str, line: Option<usize>) -> String {
    match line {
        Some(line) => format!("{source_name} line {line}"),
        None => source_name.to_owned(),
    }
}

/// The reason a profile was rejected; each message names the bad value and the fix.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProfileErrorKind {
    /// A file could not be read: the profile itself or one that a directive references.
    #[error("failed to read {directive} file \"{}\": {error}", .path.display())]
    ReadFile {
        /// The directive that references the file, or `profile` for the profile itself.
        directive: String,
        /// The path as resolved against the profile's directory.
        path: PathBuf,
        /// The I/O error from the operating system.
        error: io::Error,
    },

    /// A relative file path in a profile that was parsed without a base directory.
    #[error(
        "{directive} refers to the relative path \"{path}\" but the profile has no base \
         directory; use an absolute path or put the content inline"
    )]
    RelativePath {
        /// The directive that references the file.
        directive: String,
        /// The path as written in the profile.
        path: String,
    },

    /// A quoted argument that is still open at the end of the line.
    #[error(
        "no closing {quote} quote on this line; close the quote or escape it with a backslash"
    )]
    UnterminatedQuote {
        /// The opening quote character, `"` or `'`.
        quote: char,
    },

    /// A backslash as the last character of a line, where it escapes nothing.
    #[error("the line ends with a backslash; remove it or write \\\\ for a literal backslash")]
    TrailingBackslash,

    /// An inline `<tag>` block without its closing tag; the error line is where it opened.
    #[error("<{tag}> opened here has no closing </{tag}>; add </{tag}> after the block")]
    UnterminatedBlock {
        /// The block's tag, such as `ca`.
        tag: String,
    },

    /// A closing `</tag>` line without a matching opening tag.
    #[error("</{tag}> has no opening <{tag}> before it; remove the line or add <{tag}>")]
    UnexpectedClosingTag {
        /// The tag named in the closing line.
        tag: String,
    },

    /// A `<tag>` block for a directive that only exists as a one-line option.
    #[error("{directive} cannot be written as a <{directive}> block; write `{usage}` on one line")]
    UnexpectedBlock {
        /// The block's tag.
        directive: String,
        /// The one-line form of the directive.
        usage: &'static str,
    },

    /// A directive with too few or too many arguments.
    #[error("{directive} has {found} argument(s) but expects `{usage}`")]
    ArgumentCount {
        /// The directive as written.
        directive: String,
        /// The expected form, such as `remote HOST [PORT] [PROTO]`.
        usage: &'static str,
        /// How many arguments the line has.
        found: usize,
    },

    /// An argument that is not one of the values the directive takes.
    #[error("invalid value \"{value}\" for {directive}; expected {expected}")]
    InvalidValue {
        /// The directive as written.
        directive: String,
        /// The argument as written.
        value: String,
        /// The accepted values or their form.
        expected: String,
    },

    /// A directive that ferrovpn rejects because ignoring it would be unsafe or would break the
    /// tunnel. The message gives the reason and the change to make.
    #[error("{message}")]
    Unsupported {
        /// The directive as written.
        directive: String,
        /// The reason for the rejection and the change to make.
        message: String,
    },

    /// Ciphers named by `data-ciphers`, `cipher` or `data-ciphers-fallback` that ferrovpn does
    /// not implement, with none left to use.
    #[error(
        "unsupported {} {} in {directive}; supported: {}",
        cipher_noun(.names),
        quote_list(.names),
        supported_ciphers()
    )]
    UnsupportedCipher {
        /// The directive as written.
        directive: String,
        /// The unsupported cipher names as written.
        names: Vec<String>,
    },

    /// A directive that every usable profile needs.
    #[error("the profile has no {directive}; {fix}")]
    Missing {
        /// The missing directive.
        directive: &'static str,
        /// The directive or block to add.
        fix: &'static str,
    },

    /// Two directives that exclude each other; the error line is the second one.
    #[error("{first} and {second} cannot be used together; keep only one of them")]
    Conflict {
        /// The directive that appeared first.
        first: &'static str,
        /// The directive that appeared second.
        second: &'static str,
    },

    /// `DIRECTIVE [inline]` without the `<DIRECTIVE>` block that holds the content.
    #[error(
        "{directive} [inline] has no <{directive}> block in the profile; add \
         <{directive}>...</{directive}> or name a file"
    )]
    MissingInlineBlock {
        /// The directive that refers to the block.
        directive: String,
    },

    /// File or block content that is not what the directive needs.
    #[error("{directive} from {origin}: {problem}")]
    InvalidContent {
        /// The directive whose content is wrong.
        directive: String,
        /// `the inline block` or the file path.
        origin: String,
        /// The problem and its fix.
        problem: String,
    },
}

fn cipher_noun(names: &[String]) -> &'static str {
    if names.len() == 1 {
        "cipher"
    } else {
        "ciphers"
    }
}

fn quote_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn supported_ciphers() -> String {
    ferrovpn_protocol::DataCipher::ALL
        .iter()
        .map(|cipher| cipher.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_line_names_source_and_line() {
        let error = ProfileError::new(
            "client.ovpn",
            Some(12),
            ProfileErrorKind::UnsupportedCipher {
                directive: "data-ciphers".to_owned(),
                names: vec!["AES-512-GCM".to_owned()],
            },
        );

        assert_eq!(
            error.to_string(),
            "client.ovpn line 12: unsupported cipher \"AES-512-GCM\" in data-ciphers; \
             supported: AES-256-GCM, AES-128-GCM, CHACHA20-POLY1305"
        );
    }

    #[test]
    fn display_without_line_names_source_only() {
        let error = ProfileError::new(
            "client.ovpn",
            None,
            ProfileErrorKind::Missing {
                directive: "remote",
                fix: "add `remote HOST [PORT] [PROTO]`",
            },
        );

        assert_eq!(
            error.to_string(),
            "client.ovpn: the profile has no remote; add `remote HOST [PORT] [PROTO]`"
        );
    }

    #[test]
    fn display_plural_ciphers() {
        let kind = ProfileErrorKind::UnsupportedCipher {
            directive: "data-ciphers".to_owned(),
            names: vec!["BF-CBC".to_owned(), "AES-256-CBC".to_owned()],
        };

        assert!(
            kind.to_string()
                .starts_with("unsupported ciphers \"BF-CBC\", \"AES-256-CBC\" in data-ciphers"),
            "message was: {kind}"
        );
    }
}
