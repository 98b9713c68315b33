//! Runs short helper commands (`ip`, `openssl`, `openvpn --genkey`) and reports their output.

use std::process::{Command, Output};

/// Runs `program` with `args` to completion and returns its standard output.
///
/// The error names the full command line, its exit status and its standard error, so a
/// failed setup step can be diagnosed from the panic message alone.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let command_line = format!("{program} {}", args.join(" "));
    let output: Output = Command::new(program)
        .args(args)
        .output()
        .map_err(|error| format!("failed to start `{command_line}`: {error}"))?;

    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }

    Err(format!(
        "`{command_line}` failed with {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim(),
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// Runs `program` with `args` and panics with the command's error output if it fails.
pub(crate) fn run_or_panic(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|error| panic!("{error}"))
}
