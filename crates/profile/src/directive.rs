//! One directive of a profile: its name, its arguments and an optional inline block.

use std::str::FromStr;

use zeroize::Zeroizing;

use crate::error::ProfileErrorKind;

/// Result of checking one directive; the caller adds the profile name and line.
pub(crate) type KindResult<T> = Result<T, ProfileErrorKind>;

/// A profile line split into words, or a `<tag>...</tag>` block.
///
/// A block `<ca>...</ca>` becomes the directive `ca` with no arguments and the block text as
/// `inline`, which is how OpenVPN 2.6 `options.c` treats it too.
pub(crate) struct Directive {
    /// The option name without a leading `--`.
    pub name: String,
    /// The words after the name, quotes and escapes resolved.
    pub args: Vec<String>,
    /// 1-based line of the name, or of the opening tag for a block.
    pub line: usize,
    /// The text between `<name>` and `</name>`, one `\n` after each line.
    pub inline: Option<Zeroizing<String>>,
}

impl Directive {
    /// Returns argument `index`, counting from 0 after the name.
    pub(crate) fn arg(&self, index: usize) -> Option<&str> {
        self.args.get(index).map(String::as_str)
    }

    /// Checks that a one-line directive has between `min` and `max` arguments.
    ///
    /// `usage` is the expected form, quoted in the error.
    pub(crate) fn expect_args(
        &self,
        min: usize,
        max: usize,
        usage: &'static str,
    ) -> KindResult<()> {
        if self.inline.is_some() {
            return Err(ProfileErrorKind::UnexpectedBlock {
                directive: self.name.clone(),
                usage,
            });
        }

        self.expect_count(min, max, usage)
    }

    /// Checks the argument count of a directive that may also come as a block.
    pub(crate) fn expect_count(
        &self,
        min: usize,
        max: usize,
        usage: &'static str,
    ) -> KindResult<()> {
        let found = self.args.len();
        if found < min || found > max {
            return Err(ProfileErrorKind::ArgumentCount {
                directive: self.name.clone(),
                usage,
                found,
            });
        }
        Ok(())
    }

    /// Checks a directive that takes a file: `NAME FILE` with up to `extra` more arguments, or
    /// a `<NAME>` block with none.
    pub(crate) fn expect_file_args(&self, extra: usize, usage: &'static str) -> KindResult<()> {
        if self.inline.is_some() {
            self.expect_count(0, 0, usage)
        } else {
            self.expect_count(1, 1 + extra, usage)
        }
    }

    /// Parses `value` as a number of type `T`, or names `expected` in the error.
    pub(crate) fn number<T: FromStr>(&self, value: &str, expected: &str) -> KindResult<T> {
        value.parse().map_err(|_| self.invalid(value, expected))
    }

    /// Parses the only argument as a number, for directives of the form `NAME N`.
    pub(crate) fn single_number<T: FromStr>(
        &self,
        usage: &'static str,
        expected: &str,
    ) -> KindResult<T> {
        self.expect_args(1, 1, usage)?;
        self.number(&self.args[0], expected)
    }

    /// Checks that a flag directive such as `nobind` has no arguments.
    pub(crate) fn flag(&self, usage: &'static str) -> KindResult<bool> {
        self.expect_args(0, 0, usage)?;
        Ok(true)
    }

    /// Builds the error for an argument that is not one of the accepted values.
    pub(crate) fn invalid(&self, value: &str, expected: &str) -> ProfileErrorKind {
        ProfileErrorKind::InvalidValue {
            directive: self.name.clone(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }

    /// Builds the error for a directive that ferrovpn rejects, with why and what to do.
    pub(crate) fn unsupported(&self, message: String) -> ProfileErrorKind {
        ProfileErrorKind::Unsupported {
            directive: self.name.clone(),
            message,
        }
    }
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

    #[test]
    fn expect_args_too_many() {
        let result = directive("nobind", &["x"]).flag("nobind");

        assert!(
            matches!(
                result,
                Err(ProfileErrorKind::ArgumentCount { found: 1, .. })
            ),
            "result was {result:?}"
        );
    }

    #[test]
    fn expect_args_rejects_block() {
        let mut nobind = directive("nobind", &[]);
        nobind.inline = Some(Zeroizing::new("x\n".to_owned()));

        let result = nobind.flag("nobind");

        assert!(
            matches!(result, Err(ProfileErrorKind::UnexpectedBlock { .. })),
            "result was {result:?}"
        );
    }

    #[test]
    fn single_number_invalid_names_value() {
        let result = directive("ping", &["ten"]).single_number::<u32>("ping SECONDS", "seconds");

        let message = result.expect_err("\"ten\" is not a number").to_string();
        assert_eq!(message, "invalid value \"ten\" for ping; expected seconds");
    }
}
