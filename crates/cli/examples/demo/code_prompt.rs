//! The code that answers the server's request: typed by the person from their
//! authenticator app, or computed by the demo from the enrolled secret.

use std::io::{IsTerminal, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::console::{detail, read_line, Failure, INDENT};
use crate::totp_code::{current_code, TotpCode};

/// Number of digits in a TOTP code.
const CODE_DIGITS: usize = 6;

/// Lines the person may type that are not a code before the demo gives up.
const MAX_INVALID_LINES: usize = 3;

/// Prints the prompt of an auth request and the seconds left to answer it.
pub fn describe_request(request: &Value) {
    let prompt = request["prompt"].as_str().unwrap_or_default();
    let id = request["id"].as_u64().unwrap_or_default();
    let left = request["expires_at_unix"]
        .as_u64()
        .and_then(|expires| {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
            Some(format!(
                ", {} s left to answer",
                expires.saturating_sub(now)
            ))
        })
        .unwrap_or_default();
    detail(&format!("auth request {id}: {prompt:?}{left}"));
}

/// Returns the code to answer with. With `auto_answer` the demo computes it from `secret`;
/// otherwise it asks the person, who may press Enter alone to have it computed.
pub fn obtain_code(auto_answer: bool, secret: &[u8]) -> Result<String, Failure> {
    if auto_answer {
        return Ok(computed(secret));
    }

    detail("type the 6-digit code that your authenticator app shows for ferrovpn:demo,");
    detail("or press Enter alone to have the demo compute it from the secret");
    for _ in 0..MAX_INVALID_LINES {
        print!("{INDENT}code: ");
        let _ = std::io::stdout().flush();

        let Some(line) = read_line()? else {
            println!();
            detail("standard input is closed");
            return Ok(computed(secret));
        };
        if !std::io::stdin().is_terminal() {
            // A terminal echoes the line; input from a pipe would leave the prompt open.
            println!("{line}");
        }
        // Apps often show the code in two groups, such as "123 456".
        let code: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return Ok(computed(secret));
        }
        if code.len() == CODE_DIGITS && code.bytes().all(|byte| byte.is_ascii_digit()) {
            return Ok(code);
        }
        detail(&format!(
            "{line:?} is not a code: a code has {CODE_DIGITS} digits; try again"
        ));
    }
    Err(format!("no {CODE_DIGITS}-digit code after {MAX_INVALID_LINES} lines of input").into())
}

/// Computes the current code and prints it with the time it stays valid.
fn computed(secret: &[u8]) -> String {
    let TotpCode { code, seconds_left } = current_code(secret);
    detail(&format!(
        "computed the current code {code} from the secret (the next one starts in {seconds_left} s)"
    ));
    code
}
