//! Splits profile text into directives the way OpenVPN 2.6 reads a config file.
//!
//! The rules follow `parse_line` and `read_inline_file` in OpenVPN 2.6 `options.c`:
//!
//! - Words are separated by whitespace. `"..."` and `'...'` quote a word; a quoted word ends at
//!   its closing quote, so `"a"b` is the two words `a` and `b`.
//! - Outside single quotes a backslash makes the next character literal: `\"`, `\\` and `\ `
//!   (a space that does not end the word).
//! - `#` or `;` starts a comment only where a word would start, so `a#b` is one word. As in
//!   OpenVPN, a backslash does not stop a `#` at a word start from opening a comment.
//! - A line whose only word is `<tag>` opens an inline block. Its text runs, unchanged, up to
//!   the first line that begins with `</tag>` after optional whitespace.
//! - A leading `--` on the option name is dropped, so command-line spelling works in a file.

use zeroize::Zeroizing;

use crate::directive::{Directive, KindResult};
use crate::error::{ProfileError, ProfileErrorKind};

/// Splits `text` into directives; `first_line` is the line number of its first line.
pub(crate) fn lex(
    text: &str,
    first_line: usize,
    source: &str,
) -> Result<Vec<Directive>, ProfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').map(strip_carriage_return).collect();
    let mut directives = Vec::new();

    let mut index = 0;
    while index < lines.len() {
        let line = first_line + index;
        let fail = |kind| ProfileError::new(source, Some(line), kind);
        let mut words = split_words(lines[index]).map_err(fail)?;
        index += 1;

        if words.is_empty() {
            continue;
        }

        if let Some(tag) = closing_tag(&words) {
            return Err(fail(ProfileErrorKind::UnexpectedClosingTag { tag }));
        }

        if let Some(tag) = opening_tag(&words) {
            let close = format!("</{tag}>");
            let Some(length) = lines[index..]
                .iter()
                .position(|raw| raw.trim_start().starts_with(&close))
            else {
                return Err(fail(ProfileErrorKind::UnterminatedBlock { tag }));
            };
            let body = &lines[index..index + length];
            index += length + 1;

            // Sized up front so that no reallocation leaves a copy of key material behind.
            let size = body.iter().map(|raw| raw.len() + 1).sum();
            let mut content = Zeroizing::new(String::with_capacity(size));
            for raw in body {
                content.push_str(raw);
                content.push('\n');
            }

            directives.push(Directive {
                name: tag,
                args: Vec::new(),
                line,
                inline: Some(content),
            });
            continue;
        }

        let mut name = words.remove(0);
        if name.len() >= 3 && name.starts_with("--") {
            name.drain(..2);
        }
        directives.push(Directive {
            name,
            args: words,
            line,
            inline: None,
        });
    }

    Ok(directives)
}

fn strip_carriage_return(line: &str) -> &str {
    line.strip_suffix('\r').unwrap_or(line)
}

/// Returns `tag` when the line is exactly `<tag>`.
fn opening_tag(words: &[String]) -> Option<String> {
    let [word] = words else {
        return None;
    };
    let tag = word.strip_prefix('<')?.strip_suffix('>')?;
    if tag.is_empty() || tag.starts_with('/') {
        return None;
    }
    Some(tag.to_owned())
}

/// Returns `tag` when the line starts with `</tag>`.
fn closing_tag(words: &[String]) -> Option<String> {
    let tag = words.first()?.strip_prefix("</")?.strip_suffix('>')?;
    Some(tag.to_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BetweenWords,
    Unquoted,
    DoubleQuoted,
    SingleQuoted,
}

/// Whitespace as C `isspace` defines it, plus NUL, the set OpenVPN splits words on.
fn is_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\u{0b}' || c == '\0'
}

/// Splits one line into words, resolving quotes and backslash escapes and dropping comments.
pub(crate) fn split_words(line: &str) -> KindResult<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::BetweenWords;
    let mut escaped = false;

    for c in line.chars() {
        if !escaped && c == '\\' && state != State::SingleQuoted {
            escaped = true;
            continue;
        }

        match state {
            State::BetweenWords => {
                if is_space(c) {
                    // An escaped space between words is dropped, as in OpenVPN.
                } else if c == '#' || c == ';' {
                    escaped = false;
                    break;
                } else if !escaped && c == '"' {
                    state = State::DoubleQuoted;
                } else if !escaped && c == '\'' {
                    state = State::SingleQuoted;
                } else {
                    word.push(c);
                    state = State::Unquoted;
                }
            }
            State::Unquoted => {
                if !escaped && is_space(c) {
                    words.push(std::mem::take(&mut word));
                    state = State::BetweenWords;
                } else {
                    word.push(c);
                }
            }
            State::DoubleQuoted => {
                if !escaped && c == '"' {
                    words.push(std::mem::take(&mut word));
                    state = State::BetweenWords;
                } else {
                    word.push(c);
                }
            }
            State::SingleQuoted => {
                if c == '\'' {
                    words.push(std::mem::take(&mut word));
                    state = State::BetweenWords;
                } else {
                    word.push(c);
                }
            }
        }
        escaped = false;
    }

    if escaped {
        return Err(ProfileErrorKind::TrailingBackslash);
    }

    match state {
        State::BetweenWords => {}
        State::Unquoted => words.push(word),
        State::DoubleQuoted => return Err(ProfileErrorKind::UnterminatedQuote { quote: '"' }),
        State::SingleQuoted => return Err(ProfileErrorKind::UnterminatedQuote { quote: '\'' }),
    }

    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_words_cases() {
        let cases: &[(&str, &[&str])] = &[
            (
                "remote vpn.example.net 1194 udp",
                &["remote", "vpn.example.net", "1194", "udp"],
            ),
            (
                "  remote\tvpn.example.net   1194  ",
                &["remote", "vpn.example.net", "1194"],
            ),
            ("# a comment", &[]),
            ("; a comment", &[]),
            (
                "remote vpn.example.net # trailing",
                &["remote", "vpn.example.net"],
            ),
            (
                "remote vpn.example.net ;trailing",
                &["remote", "vpn.example.net"],
            ),
            ("setenv A b#c", &["setenv", "A", "b#c"]),
            ("setenv A b;c", &["setenv", "A", "b;c"]),
            (
                r#"static-challenge "Enter PIN" 1"#,
                &["static-challenge", "Enter PIN", "1"],
            ),
            (
                "static-challenge 'Enter PIN' 1",
                &["static-challenge", "Enter PIN", "1"],
            ),
            (r#"setenv A "say \"hi\"""#, &["setenv", "A", r#"say "hi""#]),
            (r"setenv A 'back\slash'", &["setenv", "A", r"back\slash"]),
            (r"setenv A two\ words", &["setenv", "A", "two words"]),
            (r"setenv A C:\\dir", &["setenv", "A", r"C:\dir"]),
            (r"setenv A \'x", &["setenv", "A", "'x"]),
            (r#"setenv A "a # b""#, &["setenv", "A", "a # b"]),
            (r#"setenv A "a"b"#, &["setenv", "A", "a", "b"]),
            (r#"setenv A """#, &["setenv", "A", ""]),
            ("", &[]),
        ];

        for (line, expected) in cases {
            let words = split_words(line).unwrap_or_else(|error| panic!("{line:?}: {error}"));
            assert_eq!(&words, expected, "words of {line:?}");
        }
    }

    #[test]
    fn escaped_hash_at_word_start_is_comment() {
        let words = split_words(r"setenv A x\#y").expect("valid line");
        let comment = split_words(r"setenv A \#x").expect("valid line");

        assert_eq!(
            words,
            ["setenv", "A", "x#y"],
            "an escape inside a word keeps #"
        );
        assert_eq!(
            comment,
            ["setenv", "A"],
            "an escaped # at a word start opens a comment"
        );
    }

    #[test]
    fn unterminated_double_quote() {
        let result = split_words(r#"static-challenge "Enter PIN 1"#);

        assert!(
            matches!(
                result,
                Err(ProfileErrorKind::UnterminatedQuote { quote: '"' })
            ),
            "result was {result:?}"
        );
    }

    #[test]
    fn unterminated_single_quote() {
        let result = split_words("setenv A 'x");

        assert!(
            matches!(
                result,
                Err(ProfileErrorKind::UnterminatedQuote { quote: '\'' })
            ),
            "result was {result:?}"
        );
    }

    #[test]
    fn trailing_backslash_is_error() {
        let result = split_words(r"setenv A x\");

        assert!(
            matches!(result, Err(ProfileErrorKind::TrailingBackslash)),
            "result was {result:?}"
        );
    }

    #[test]
    fn lex_strips_double_dash() {
        let directives = lex("--remote vpn.example.net\n", 1, "t").expect("valid text");

        assert_eq!(directives[0].name, "remote");
    }

    #[test]
    fn lex_strips_byte_order_mark() {
        let directives = lex("\u{feff}client\r\n", 1, "t").expect("valid text");

        assert_eq!(directives[0].name, "client");
    }

    #[test]
    fn lex_counts_lines_from_first_line() {
        let directives = lex("\n# comment\n\nnobind\n", 10, "t").expect("valid text");

        assert_eq!(directives[0].line, 13);
    }

    #[test]
    fn lex_inline_block_keeps_text() {
        let text = "<ca>\n  -----BEGIN CERTIFICATE-----\r\n# not a comment\n  </ca>\nnobind\n";

        let directives = lex(text, 1, "t").expect("valid text");

        assert_eq!(directives.len(), 2, "expected the block and nobind");
        assert_eq!(directives[0].name, "ca");
        assert_eq!(directives[0].line, 1);
        assert_eq!(
            directives[0].inline.as_deref().map(String::as_str),
            Some("  -----BEGIN CERTIFICATE-----\n# not a comment\n")
        );
        assert_eq!(directives[1].line, 5, "nobind follows the closing tag");
    }

    #[test]
    fn lex_unterminated_block_names_opening_line() {
        let error = lex("nobind\n<key>\nsecret\n</ca>\n", 1, "client.ovpn")
            .err()
            .expect("the block never closes");

        assert_eq!(error.line, Some(2), "error was {error}");
        assert!(
            matches!(&error.kind, ProfileErrorKind::UnterminatedBlock { tag } if tag == "key"),
            "error was {error}"
        );
    }

    #[test]
    fn lex_stray_closing_tag_is_error() {
        let error = lex("nobind\n</ca>\n", 1, "t")
            .err()
            .expect("no <ca> opened");

        assert_eq!(error.line, Some(2), "error was {error}");
    }

    #[test]
    fn lex_tag_with_arguments_is_directive() {
        let directives = lex("<ca> extra\n", 1, "t").expect("valid text");

        assert_eq!(directives[0].name, "<ca>");
        assert!(directives[0].inline.is_none(), "no block should open");
    }
}
