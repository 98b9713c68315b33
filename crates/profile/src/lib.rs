//! Parser for OpenVPN `.ovpn` client profiles into a typed configuration.
//!
//! [`Profile::load`] reads a profile file and every file it references; [`Profile::parse`]
//! does the same for text already in memory. Lines are split into words as OpenVPN 2.6 does,
//! with quotes, backslash escapes, `#` and `;` comments and `<tag>...</tag>` inline blocks.
//! Each directive is then applied to a [`Profile`] field, ignored with a [`Warning`], or
//! rejected with a [`ProfileError`] that names the line and the fix. A directive is rejected
//! when ignoring it would be unsafe or would break the tunnel: scripts, plugins, static key
//! mode, tap devices, real compression, ciphers ferrovpn does not implement.

mod auth;
mod builder;
mod cipher;
mod compression;
mod connection;
mod device;
mod directive;
mod error;
mod file;
mod lexer;
mod material;
mod profile;
mod rejected;
mod remote;
mod route;
mod tls;
mod warning;

pub use auth::{AuthRetry, AuthUserPass, StaticChallenge, StaticChallengeFormat};
pub use error::{ProfileError, ProfileErrorKind};
pub use profile::{Loaded, Profile};
pub use remote::{Proto, Remote, ResolvRetry};
pub use route::{Route, RouteIpv6};
pub use tls::{TlsVersionMin, TlsWrapConfig, X509NameType};
pub use warning::Warning;
