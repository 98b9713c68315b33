//! TUN device: a layer-3 virtual interface whose IP packets this process reads and writes.
//!
//! The device is created without persistence, so the kernel removes it, together with its
//! addresses and routes, when the last file descriptor attached to it closes.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::unix::AsyncFd;

/// Name template used when the caller requests no name. The kernel replaces `%d` with the
/// lowest free number.
pub const DEFAULT_NAME_TEMPLATE: &str = "ferrovpn%d";

/// Clone device that creates a new TUN interface for each open file description.
const CLONE_DEVICE: &CStr = c"/dev/net/tun";

/// Open TUN interface in non-blocking mode, driven by the tokio reactor.
#[derive(Debug)]
pub struct Tun {
    /// Non-blocking descriptor from `/dev/net/tun`, attached to the interface.
    fd: AsyncFd<OwnedFd>,
    /// Interface name the kernel assigned.
    name: String,
    /// Interface index the kernel assigned.
    index: u32,
}

/// Error from creating a TUN interface.
#[derive(Debug, thiserror::Error)]
pub enum TunError {
    /// The requested name is not a valid Linux interface name.
    #[error("invalid TUN device name {name:?}: {reason}")]
    InvalidName {
        /// Name as requested.
        name: String,
        /// Rule the name breaks.
        reason: &'static str,
    },
    /// `/dev/net/tun` could not be opened.
    #[error("opening /dev/net/tun for TUN device {name:?} failed: {os_error}{}", open_hint(.os_error))]
    Open {
        /// Name or template requested.
        name: String,
        /// Error from `open(2)`.
        os_error: io::Error,
    },
    /// The kernel rejected the `TUNSETIFF` request.
    #[error("creating TUN device {name:?} failed: {os_error}{}", create_hint(.os_error))]
    Create {
        /// Name or template requested.
        name: String,
        /// Error from `ioctl(TUNSETIFF)`.
        os_error: io::Error,
    },
    /// The interface index of the new device could not be read.
    #[error("reading the interface index of TUN device {name} failed: {os_error}")]
    Index {
        /// Interface name the kernel assigned.
        name: String,
        /// Error from `if_nametoindex(3)`.
        os_error: io::Error,
    },
    /// No tokio runtime was running to drive the device.
    #[error(
        "creating TUN device {name:?} needs a tokio runtime; call Tun::create from within one"
    )]
    NoRuntime {
        /// Name or template requested.
        name: String,
    },
    /// The descriptor could not be registered with the tokio reactor.
    #[error("registering TUN device {name} with the tokio reactor failed: {os_error}")]
    Register {
        /// Interface name the kernel assigned.
        name: String,
        /// Error from `AsyncFd::register`.
        os_error: io::Error,
    },
}

impl Tun {
    /// Creates a TUN interface (`IFF_TUN | IFF_NO_PI`) named `name`, or named from
    /// [`DEFAULT_NAME_TEMPLATE`] when `name` is `None`.
    ///
    /// A name containing `%d` is a template that the kernel completes. A name of an existing
    /// persistent TUN device attaches to that device. The interface is created in the network
    /// namespace of the calling thread and stays down until configured. Must be called from
    /// within a tokio runtime with I/O enabled.
    pub fn create(name: Option<&str>) -> Result<Tun, TunError> {
        let requested = name.unwrap_or(DEFAULT_NAME_TEMPLATE);
        let mut request = ifreq_for(requested)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TunError::NoRuntime {
                name: requested.to_owned(),
            });
        }

        // SAFETY: CLONE_DEVICE is a NUL-terminated path and the flags are valid for open(2).
        let raw_fd = unsafe {
            libc::open(
                CLONE_DEVICE.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
        };
        if raw_fd < 0 {
            let os_error = io::Error::last_os_error();
            return Err(TunError::Open {
                name: requested.to_owned(),
                os_error,
            });
        }
        // SAFETY: open(2) just returned this descriptor and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw_fd) };

        // SAFETY: `request` is a valid, initialised ifreq that TUNSETIFF reads and writes back.
        let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut request) };
        if rc < 0 {
            let os_error = io::Error::last_os_error();
            return Err(TunError::Create {
                name: requested.to_owned(),
                os_error,
            });
        }

        // The kernel writes the final name, with any template completed, back into ifr_name.
        // SAFETY: the kernel always NUL-terminates ifr_name within IFNAMSIZ bytes.
        let assigned = unsafe { CStr::from_ptr(request.ifr_name.as_ptr()) };
        let name = assigned.to_string_lossy().into_owned();

        // SAFETY: `assigned` is a valid NUL-terminated string.
        let index = unsafe { libc::if_nametoindex(assigned.as_ptr()) };
        if index == 0 {
            let os_error = io::Error::last_os_error();
            return Err(TunError::Index { name, os_error });
        }

        // SAFETY: the AsyncFd takes ownership of `fd`, so the descriptor stays open and refers
        // to this TUN device for as long as the AsyncFd exists.
        let fd = match unsafe { AsyncFd::register(fd) } {
            Ok(fd) => fd,
            Err(error) => {
                return Err(TunError::Register {
                    name,
                    os_error: error.into(),
                })
            }
        };

        tracing::debug!(tun = %name, index, "created TUN device");
        Ok(Tun { fd, name, index })
    }

    /// Returns the interface name the kernel assigned, for example `ferrovpn0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the interface index (ifindex) of the device.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Reads one IP packet, with no header before it, into `buf` and returns its length.
    ///
    /// A packet longer than `buf` is truncated, so `buf` should be at least the MTU long.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            let result = guard.try_io(|fd| read_packet(fd.as_raw_fd(), buf));
            match result {
                Ok(read) => return read,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes one IP packet, with no header before it, and returns the bytes written.
    pub async fn send(&self, packet: &[u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.fd.writable().await?;
            let result = guard.try_io(|fd| write_packet(fd.as_raw_fd(), packet));
            match result {
                Ok(written) => return written,
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsRawFd for Tun {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Builds the TUNSETIFF request, after the checks of the kernel's `dev_valid_name`.
fn ifreq_for(name: &str) -> Result<libc::ifreq, TunError> {
    let invalid = |reason| TunError::InvalidName {
        name: name.to_owned(),
        reason,
    };

    if name.is_empty() {
        return Err(invalid("the name is empty"));
    }
    if name.len() >= libc::IFNAMSIZ {
        return Err(invalid("the name must be at most 15 bytes"));
    }
    if name == "." || name == ".." {
        return Err(invalid("the name must not be \".\" or \"..\""));
    }
    if name.contains(['/', ':']) || name.contains(char::is_whitespace) {
        return Err(invalid("the name must not contain '/', ':' or whitespace"));
    }
    if name.matches('%').count() > 1 {
        return Err(invalid("the name may contain at most one %d template"));
    }
    let Ok(c_name) = CString::new(name) else {
        return Err(invalid("the name must not contain a NUL byte"));
    };

    // SAFETY: ifreq is plain old data, and all-zero is a valid value for every field.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(c_name.as_bytes()) {
        *slot = *byte as libc::c_char;
    }
    request.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    Ok(request)
}

fn read_packet(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the whole call.
    let read = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if read < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(read as usize)
}

fn write_packet(fd: RawFd, packet: &[u8]) -> io::Result<usize> {
    // SAFETY: `packet` is valid for reads of `packet.len()` bytes for the whole call.
    let written = unsafe { libc::write(fd, packet.as_ptr().cast(), packet.len()) };
    if written < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(written as usize)
}

fn open_hint(os_error: &io::Error) -> &'static str {
    match os_error.raw_os_error() {
        Some(libc::ENOENT | libc::ENODEV | libc::ENXIO) => "; load the tun module (modprobe tun)",
        Some(libc::EACCES | libc::EPERM) => "; run as root or grant CAP_NET_ADMIN",
        _ => "",
    }
}

fn create_hint(os_error: &io::Error) -> &'static str {
    match os_error.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => "; run as root or grant CAP_NET_ADMIN",
        Some(libc::EBUSY) => "; the device is already open on another file descriptor",
        Some(libc::EINVAL) => "; an interface of this name exists and is not a TUN device",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_for_rejects_invalid_names() {
        let cases = [
            ("", "the name is empty"),
            ("ferrovpn-too-long0", "the name must be at most 15 bytes"),
            ("..", "the name must not be \".\" or \"..\""),
            ("tun/0", "the name must not contain '/', ':' or whitespace"),
            ("tun 0", "the name must not contain '/', ':' or whitespace"),
            ("tun:0", "the name must not contain '/', ':' or whitespace"),
            ("tun%d%d", "the name may contain at most one %d template"),
            ("tun\0x", "the name must not contain a NUL byte"),
        ];

        for (name, expected) in cases {
            let reason = match ifreq_for(name) {
                Err(TunError::InvalidName { reason, .. }) => Some(reason),
                _ => None,
            };
            assert_eq!(reason, Some(expected), "name {name:?}");
        }
    }

    #[test]
    fn ifreq_for_sets_name_and_flags() {
        let request = ifreq_for("ferrovpn%d").expect("valid template rejected");

        // SAFETY: ifr_name was zero-filled, so it is NUL-terminated after the copied name.
        let name = unsafe { CStr::from_ptr(request.ifr_name.as_ptr()) };
        // SAFETY: ifreq_for wrote ifru_flags last.
        let flags = unsafe { request.ifr_ifru.ifru_flags };

        assert_eq!(name.to_bytes(), b"ferrovpn%d", "ifr_name");
        assert_eq!(
            flags,
            (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short,
            "ifr_flags"
        );
    }

    #[test]
    fn error_names_device_and_hint() {
        let error = TunError::Create {
            name: "ferrovpn%d".to_owned(),
            os_error: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(
            error.to_string(),
            "creating TUN device \"ferrovpn%d\" failed: Operation not permitted (os error 1); \
             run as root or grant CAP_NET_ADMIN",
        );
    }

    #[test]
    fn open_error_hints_tun_module() {
        let error = TunError::Open {
            name: "ferrovpn%d".to_owned(),
            os_error: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert!(
            error
                .to_string()
                .ends_with("; load the tun module (modprobe tun)"),
            "message without the module hint: {error}"
        );
    }
}
