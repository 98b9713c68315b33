//! `ferrovpn-authd user ...`: enrolment and administration of users.

use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use ferrovpn_authd::enrolment::{otpauth_uri, qr_code_text};
use ferrovpn_authd::password::{hash_password, validate_password};
use ferrovpn_authd::username::validate_username;
use ferrovpn_authd::{Store, TotpSecret, UserRecord};
use serde_json::json;
use zeroize::Zeroizing;

use super::time::{format_utc, unix_now};

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user: ask for the password twice and print the TOTP secret as an otpauth://
    /// URI and a QR code.
    Add {
        /// Username, as the client sends it: letters, digits and . _ @ -.
        name: String,
        /// Read the password from the first line of standard input instead of the
        /// terminal.
        #[arg(long)]
        password_stdin: bool,
        /// Print the name, secret and URI as one JSON object, without the QR code.
        #[arg(long)]
        json: bool,
    },
    /// List the users with their lock state and last login.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user.
    Remove {
        /// Username.
        name: String,
    },
    /// Give a user a new TOTP secret, for a lost or replaced phone.
    ResetTotp {
        /// Username.
        name: String,
        /// Print the name, secret and URI as one JSON object, without the QR code.
        #[arg(long)]
        json: bool,
    },
    /// Clear the lockout and failure count of a user.
    Unlock {
        /// Username.
        name: String,
    },
}

/// Runs one user command on the database at `database`.
pub fn run(database: &Path, command: UserCommand) -> anyhow::Result<()> {
    let mut store = Store::open(database)?;
    match command {
        UserCommand::Add {
            name,
            password_stdin,
            json,
        } => add(&mut store, &name, password_stdin, json),
        UserCommand::List { json } => list(&store, json),
        UserCommand::Remove { name } => {
            store.remove_user(&name)?;
            tracing::info!(user = %name, "user removed");
            println!("Removed user {name}.");
            Ok(())
        }
        UserCommand::ResetTotp { name, json } => {
            let secret = new_secret()?;
            store.reset_totp(&name, &secret)?;
            tracing::info!(user = %name, "totp secret reset");
            print_enrolment(&name, &secret, json, "New TOTP secret for")
        }
        UserCommand::Unlock { name } => {
            store.unlock(&name)?;
            tracing::info!(user = %name, "user unlocked");
            println!("Unlocked user {name}.");
            Ok(())
        }
    }
}

/// Adds a user and prints its enrolment.
fn add(store: &mut Store, name: &str, password_stdin: bool, json: bool) -> anyhow::Result<()> {
    validate_username(name)?;
    if store.user(name)?.is_some() {
        bail!(
            "user {name:?} already exists; use `user reset-totp` for a new secret or \
             `user remove` first"
        );
    }

    let password = if password_stdin {
        read_password_stdin()?
    } else {
        read_password_terminal(name)?
    };
    validate_password(&password)?;
    let hash = hash_password(&password)?;
    let secret = new_secret()?;
    store.add_user(name, &hash, &secret, unix_now())?;
    tracing::info!(user = %name, "user added");

    print_enrolment(name, &secret, json, "Added user")
}

/// Draws a new TOTP secret.
fn new_secret() -> anyhow::Result<TotpSecret> {
    TotpSecret::generate().map_err(|error| anyhow!("no random bytes for the TOTP secret: {error}"))
}

/// Reads the password from the first line of standard input.
fn read_password_stdin() -> anyhow::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    io::stdin()
        .lock()
        .read_line(&mut line)
        .context("failed to read the password from standard input")?;
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    Ok(line)
}

/// Asks for the password twice on the terminal, without echo.
fn read_password_terminal(name: &str) -> anyhow::Result<Zeroizing<String>> {
    let hint = "pass --password-stdin to read the password from standard input";
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Password for {name}: "))
            .with_context(|| format!("failed to read the password from the terminal; {hint}"))?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password("Repeat the password: ")
            .with_context(|| format!("failed to read the password from the terminal; {hint}"))?,
    );
    if first != second {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// Prints the secret of `name` as otpauth:// URI and QR code, or as JSON.
fn print_enrolment(
    name: &str,
    secret: &TotpSecret,
    json: bool,
    heading: &str,
) -> anyhow::Result<()> {
    let uri = otpauth_uri(name, secret);
    let base32 = secret.to_base32();
    let mut stdout = io::stdout().lock();

    if json {
        let object = json!({
            "user": name,
            "secret": base32.as_str(),
            "otpauth_uri": uri.as_str(),
        });
        writeln!(stdout, "{object}")?;
        return Ok(());
    }

    let qr = qr_code_text(&uri).context("the otpauth:// URI does not fit a QR code")?;
    writeln!(stdout, "{heading} {name}.")?;
    writeln!(stdout)?;
    writeln!(
        stdout,
        "Scan this QR code with an authenticator app, or enter the secret by hand:"
    )?;
    writeln!(stdout)?;
    writeln!(stdout, "{}", qr.as_str())?;
    writeln!(stdout, "secret: {}", base32.as_str())?;
    writeln!(stdout, "URI:    {}", uri.as_str())?;
    Ok(())
}

/// Prints the users as a table or JSON.
fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let users = store.users()?;
    let mut stdout = io::stdout().lock();

    if json {
        let array: Vec<serde_json::Value> = users.iter().map(user_json).collect();
        writeln!(stdout, "{}", serde_json::Value::Array(array))?;
        return Ok(());
    }

    if users.is_empty() {
        writeln!(
            stdout,
            "No users; add one with `ferrovpn-authd user add NAME`."
        )?;
        return Ok(());
    }
    let width = users
        .iter()
        .map(|user| user.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(
        stdout,
        "{:width$}  {:6}  {:8}  LAST LOGIN (UTC)",
        "USER", "STATE", "FAILURES"
    )?;
    for user in &users {
        let state = if user.locked_at.is_some() {
            "locked"
        } else {
            "active"
        };
        let last_login = user
            .last_login_at
            .map_or_else(|| "never".to_owned(), format_utc);
        writeln!(
            stdout,
            "{:width$}  {state:6}  {:8}  {last_login}",
            user.name, user.failed_attempts
        )?;
    }
    Ok(())
}

/// Builds the JSON object of one user, without password hash or secret.
fn user_json(user: &UserRecord) -> serde_json::Value {
    json!({
        "user": user.name,
        "locked": user.locked_at.is_some(),
        "locked_at": user.locked_at,
        "failed_attempts": user.failed_attempts,
        "created_at": user.created_at,
        "last_login_at": user.last_login_at,
    })
}
