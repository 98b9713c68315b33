//! Reading the files a profile consists of: only regular files of bounded size.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest file read for a profile or a file it names, in bytes. Real profiles with
/// inline certificates and keys are a few tens of kilobytes; the bound keeps a device
/// file or a wrong path from filling memory.
pub const MAX_FILE_LEN: u64 = 4 * 1024 * 1024;

/// Reads `path`, rejecting anything that is not a regular file of at most [`MAX_FILE_LEN`] bytes.
///
/// The file is opened without blocking, so a named pipe or a device fails at once
/// instead of hanging the reader.
pub fn read_regular_file(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nonblock())
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file; give the path of a file",
        ));
    }
    if metadata.len() > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the file has {} bytes, more than the {MAX_FILE_LEN} bytes allowed",
                metadata.len()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    (&mut file).take(MAX_FILE_LEN + 1).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `O_NONBLOCK` on Linux, spelled out to avoid a libc dependency for one constant.
fn libc_o_nonblock() -> i32 {
    0o4000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_pipe_rejected_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo failed");
        let error = read_regular_file(&fifo).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "error: {error}");
    }

    #[test]
    fn directory_rejected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            read_regular_file(dir.path()).is_err(),
            "a directory was read"
        );
    }

    #[test]
    fn regular_file_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read_regular_file(&path).unwrap(), b"hello");
    }
}
