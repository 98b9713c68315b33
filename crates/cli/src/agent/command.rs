//! Programs the agent starts for notification actions: the answer command and the
//! browser for a sign-in page.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Answer command used when `--answer-command` is not given: a terminal that runs
/// `ferrovpn auth` for the session.
pub const DEFAULT_ANSWER_COMMAND: &str =
    "x-terminal-emulator -e ferrovpn --socket {socket} auth {session}";

/// Error of an `--answer-command` value that is not a command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandLineError {
    /// The value has no program name.
    #[error("the answer command is empty; give a program, such as {DEFAULT_ANSWER_COMMAND:?}")]
    Empty,
    /// A quote opened at byte `position` is never closed.
    #[error("the answer command has a {quote} quote at byte {position} that is never closed")]
    UnclosedQuote {
        /// The quote character.
        quote: char,
        /// Byte offset of the opening quote.
        position: usize,
    },
    /// The value ends in a backslash that escapes nothing.
    #[error("the answer command ends in a backslash; write \\\\ for a literal backslash")]
    TrailingBackslash,
}

/// Command line run for the "answer" action, split into words like a shell does, with
/// the placeholders `{id}`, `{session}` and `{socket}` replaced inside each word.
///
/// No shell runs the command, so a session name with spaces or quotes stays one
/// argument. A command that passes a placeholder to `sh -c` hands it to that shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCommand {
    /// Program name followed by its arguments, placeholders unreplaced.
    words: Vec<String>,
}

impl AnswerCommand {
    /// Parses a command line: words split on whitespace, `'...'` taken literally,
    /// `"..."` and bare words with `\` escaping the next character.
    pub fn parse(text: &str) -> Result<AnswerCommand, CommandLineError> {
        let words = split_words(text)?;
        if words.is_empty() {
            return Err(CommandLineError::Empty);
        }
        Ok(AnswerCommand { words })
    }

    /// Returns the program and its arguments for auth request `id` of `session`.
    pub fn argv(&self, id: u64, session: &str, socket: &Path) -> Vec<String> {
        let id = id.to_string();
        let socket = socket.to_string_lossy();
        self.words
            .iter()
            .map(|word| {
                word.replace("{id}", &id)
                    .replace("{session}", session)
                    .replace("{socket}", &socket)
            })
            .collect()
    }

    /// Starts the command for auth request `id` of `session`, with `FERROVPN_SOCKET`
    /// set to `socket` so that a `ferrovpn` it runs reaches the same daemon.
    pub fn spawn(&self, id: u64, session: &str, socket: &Path) -> std::io::Result<()> {
        let argv = self.argv(id, session, socket);
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .env(ferrovpn_ipc::SOCKET_PATH_ENV, socket)
            .stdin(Stdio::null())
            .spawn()?;
        tracing::info!(request = id, session, program = %argv[0], pid = child.id(), "answer command started");
        reap(child, "answer command");
        Ok(())
    }
}

/// Opens `url` with `xdg-open`, for `http` and `https` pages only.
///
/// The URL comes from the VPN server, and `xdg-open` would hand other schemes, such as
/// `file:` or a scheme of an installed program, to whatever handles them.
pub fn open_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("https://") && !lower.starts_with("http://") {
        return Err(format!(
            "not opening the sign-in page {url:?}: only http and https pages are opened"
        ));
    }
    let child = Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|error| format!("could not start xdg-open: {error}"))?;
    reap(child, "xdg-open");
    Ok(())
}

/// Waits for `child` on a blocking thread, so that it leaves no zombie, and logs how it ended.
fn reap(mut child: Child, program: &'static str) {
    let pid = child.id();
    tokio::task::spawn_blocking(move || match child.wait() {
        Ok(status) if status.success() => tracing::debug!(pid, "{program} finished"),
        Ok(status) => tracing::warn!(pid, %status, "{program} failed"),
        Err(error) => tracing::warn!(pid, %error, "waiting for the {program} failed"),
    });
}

/// Splits a command line into words as a POSIX shell does, without expansions.
fn split_words(text: &str) -> Result<Vec<String>, CommandLineError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut characters = text.char_indices();

    while let Some((position, character)) = characters.next() {
        match character {
            '\'' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some((_, '\'')) => break,
                        Some((_, inner)) => word.push(inner),
                        None => {
                            return Err(CommandLineError::UnclosedQuote {
                                quote: '\'',
                                position,
                            })
                        }
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match characters.next() {
                            Some((_, escaped)) => word.push(escaped),
                            None => return Err(CommandLineError::TrailingBackslash),
                        },
                        Some((_, inner)) => word.push(inner),
                        None => {
                            return Err(CommandLineError::UnclosedQuote {
                                quote: '"',
                                position,
                            })
                        }
                    }
                }
            }
            '\\' => match characters.next() {
                Some((_, escaped)) => {
                    in_word = true;
                    word.push(escaped);
                }
                None => return Err(CommandLineError::TrailingBackslash),
            },
            blank if blank.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }

    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_cases() {
        let cases: [(&str, &[&str]); 8] = [
            ("a b  c", &["a", "b", "c"]),
            ("  padded  ", &["padded"]),
            ("'single quoted' x", &["single quoted", "x"]),
            ("\"double \\\"quoted\\\"\"", &["double \"quoted\""]),
            ("a\\ b", &["a b"]),
            ("''", &[""]),
            ("pre'fix'post", &["prefixpost"]),
            ("'{session}'", &["{session}"]),
        ];

        for (text, expected) in cases {
            assert_eq!(
                split_words(text).as_deref(),
                Ok(expected
                    .iter()
                    .map(|word| word.to_string())
                    .collect::<Vec<_>>())
                .as_deref(),
                "words of {text:?}"
            );
        }
    }

    #[test]
    fn parse_rejects_unclosed_quote() {
        let result = AnswerCommand::parse("sh -c 'ferrovpn auth");

        assert_eq!(
            result,
            Err(CommandLineError::UnclosedQuote {
                quote: '\'',
                position: 6
            })
        );
    }

    #[test]
    fn parse_rejects_blank_command() {
        assert_eq!(AnswerCommand::parse("  "), Err(CommandLineError::Empty));
    }

    #[test]
    fn parse_rejects_trailing_backslash() {
        assert_eq!(
            AnswerCommand::parse("answer \\"),
            Err(CommandLineError::TrailingBackslash)
        );
    }

    #[test]
    fn argv_replaces_placeholders() {
        let command = AnswerCommand::parse("answer --request {id} {session} {socket}/x")
            .expect("valid command");

        let argv = command.argv(7, "work", Path::new("/run/ferrovpn/ferrovpn.sock"));

        assert_eq!(
            argv,
            [
                "answer",
                "--request",
                "7",
                "work",
                "/run/ferrovpn/ferrovpn.sock/x"
            ]
        );
    }

    #[test]
    fn argv_keeps_session_with_spaces_one_word() {
        let command = AnswerCommand::parse("answer {session}").expect("valid command");

        let argv = command.argv(1, "home office; rm -rf", Path::new("/s"));

        assert_eq!(argv.len(), 2, "argument count of {argv:?}");
    }

    #[test]
    fn default_command_parses() {
        let command = AnswerCommand::parse(DEFAULT_ANSWER_COMMAND).expect("valid default");

        let argv = command.argv(3, "work", Path::new("/run/ferrovpn/ferrovpn.sock"));

        assert_eq!(argv[0], "x-terminal-emulator");
        assert_eq!(argv.last().map(String::as_str), Some("work"));
    }

    #[test]
    fn open_url_rejects_file_scheme() {
        let result = open_url("file:///etc/passwd");

        assert!(result.is_err(), "file URL was accepted");
    }
}
