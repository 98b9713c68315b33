//! The client profile: an ordinary `.ovpn` file as a server administrator would hand it
//! out, written into the demo's directory and printed with its keys elided.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ferrovpn_testbed::{Credentials, Pki, ServerConfig, Testbed};

use crate::console::{Failure, INDENT};

/// Writes `SESSION.ovpn`, the test bed's client profile with an `auth-user-pass` file that
/// contains `username` and `password`, and returns its path. The file name makes `session`
/// the name of the session in the daemon.
pub fn write_profile(
    testbed: &Testbed,
    pki: &Pki,
    config: &ServerConfig,
    username: &str,
    password: &str,
    session: &str,
) -> Result<PathBuf, Failure> {
    let credentials = Credentials {
        username: username.to_owned(),
        password: password.to_owned(),
    };
    let text = testbed.client_profile_with_credentials(pki, config, Some(&credentials), &[]);
    let path = testbed.dir().join(format!("{session}.ovpn"));
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|error| format!("failed to write the profile {}: {error}", path.display()))?;
    Ok(path)
}

/// Prints the profile with the contents of its inline blocks (`<ca>`, `<cert>`, `<key>`,
/// `<tls-crypt>` and the like) replaced by `…`.
pub fn print_profile(profile: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(profile)
        .map_err(|error| format!("failed to read the profile {}: {error}", profile.display()))?;

    let mut open_block: Option<&str> = None;
    for line in text.lines() {
        if let Some(tag) = open_block {
            if line
                .strip_prefix("</")
                .and_then(|rest| rest.strip_suffix('>'))
                == Some(tag)
            {
                open_block = None;
            }
            continue;
        }
        let tag = line
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix('>'))
            .filter(|tag| !tag.starts_with('/'));
        match tag {
            Some(tag) => {
                open_block = Some(tag);
                println!("{INDENT}| <{tag}>…</{tag}>");
            }
            None => println!("{INDENT}| {line}"),
        }
    }
    Ok(())
}
