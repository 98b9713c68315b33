//! Warnings about directives that were accepted but not applied as written.

use std::collections::HashSet;
use std::fmt;

/// A directive that ferrovpn ignored or applied differently from OpenVPN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line of the first occurrence.
    pub line: usize,
    /// The directive as written, such as `route-delay`.
    pub directive: String,
    /// Sentence that names the directive and the way ferrovpn handles it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Warnings in profile order, each distinct message once.
#[derive(Default)]
pub(crate) struct Warnings {
    list: Vec<Warning>,
    seen: HashSet<(String, String)>,
}

impl Warnings {
    /// Adds a warning unless the same directive already has the same message.
    pub(crate) fn push(&mut self, line: usize, directive: &str, message: String) {
        let key = (directive.to_owned(), message.clone());
        if !self.seen.insert(key) {
            return;
        }

        tracing::debug!(line, directive, "profile directive not applied as written");
        self.list.push(Warning {
            line,
            directive: directive.to_owned(),
            message,
        });
    }

    /// Warns that `directive` is not supported and is ignored.
    pub(crate) fn unsupported(&mut self, line: usize, directive: &str) {
        self.push(
            line,
            directive,
            format!("directive \"{directive}\" is not supported and is ignored"),
        );
    }

    /// Returns the warnings sorted by line; checks made after reading every line add theirs
    /// late.
    pub(crate) fn into_vec(mut self) -> Vec<Warning> {
        self.list.sort_by_key(|warning| warning.line);
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_directive_warns_once() {
        let mut warnings = Warnings::default();
        warnings.unsupported(3, "route-delay");
        warnings.unsupported(9, "route-delay");

        let list = warnings.into_vec();

        assert_eq!(list.len(), 1, "warnings were {list:?}");
        assert_eq!(list[0].line, 3, "the first occurrence should be kept");
    }

    #[test]
    fn distinct_messages_both_kept() {
        let mut warnings = Warnings::default();
        warnings.push(2, "data-ciphers", "entry \"BF-CBC\" skipped".to_owned());
        warnings.push(
            2,
            "data-ciphers",
            "entry \"AES-256-CBC\" skipped".to_owned(),
        );

        assert_eq!(warnings.into_vec().len(), 2);
    }

    #[test]
    fn display_has_line_and_message() {
        let warning = Warning {
            line: 4,
            directive: "route-delay".to_owned(),
            message: "directive \"route-delay\" is not supported and is ignored".to_owned(),
        };

        assert_eq!(
            warning.to_string(),
            "line 4: directive \"route-delay\" is not supported and is ignored"
        );
    }
}
