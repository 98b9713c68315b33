//! The options string and the peer info block of the client's key method 2 message.
//!
//! The options string (OCC string) describes the client's settings in OpenVPN 2.x form. A
//! server only compares it with its own and logs the differences. The peer info block
//! is a list of `IV_*` and `UV_*` variables, one `NAME=value` per line, that announces
//! to the server what the client implements. The server acts on `IV_PROTO`, `IV_CIPHERS` and the
//! compression stubs, so they announce only what ferrovpn implements.

use std::ops::{BitOr, BitOrAssign};

use crate::cipher::DataCipher;
use crate::config::Transport;

/// The `IV_VER` value: the OpenVPN release whose client protocol ferrovpn follows.
///
/// OpenVPN 2.6 servers do not read `IV_VER` themselves, but server scripts compare it, so
/// it carries a 2.x version. ferrovpn names itself in `IV_GUI_VER`.
pub const IV_VER: &str = "2.6.0";

/// The `IV_GUI_VER` value unless the caller passes one.
pub const DEFAULT_IV_GUI_VER: &str = concat!("ferrovpn_", env!("CARGO_PKG_VERSION"));

/// The default `tun-max-mtu` of OpenVPN 2.6, sent as `IV_MTU`.
pub const DEFAULT_TUN_MAX_MTU: u32 = 1600;

/// Maximum length of a peer info line without its newline.
///
/// An OpenVPN 2.6 server reads each line into a 256-byte buffer, NUL included, so it cuts
/// a longer line (`misc.c` `output_peer_info_env`).
pub const PEER_INFO_LINE_MAX_LEN: usize = 255;

/// Peer info variables that this module sets from what ferrovpn implements, which a
/// caller may not set or replace.
const RESERVED_VARIABLES: [&str; 13] = [
    "IV_VER",
    "IV_PLAT",
    "IV_TCPNL",
    "IV_MTU",
    "IV_NCP",
    "IV_CIPHERS",
    "IV_PROTO",
    "IV_LZO_STUB",
    "IV_COMP_STUB",
    "IV_COMP_STUBv2",
    "IV_LZO",
    "IV_LZ4",
    "IV_LZ4v2",
];

/// The `IV_PROTO` bit field: protocol features the client implements.
///
/// Bit values from OpenVPN 2.6 `ssl.h`, and 2.7 for `DATA_EPOCH`, `DNS_OPTION_V2` and
/// `PUSH_UPDATE`. The server acts on every bit, so announce only what is implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IvProto(u32);

impl IvProto {
    /// `P_DATA_V2` packets with a `peer-id`. Servers before 2.5 test `IV_PROTO >= 2`, so
    /// any value with other bits must include this one.
    pub const DATA_V2: IvProto = IvProto(1 << 1);
    /// The server may send `PUSH_REPLY` without waiting for `PUSH_REQUEST`.
    pub const REQUEST_PUSH: IvProto = IvProto(1 << 2);
    /// Data channel keys may come from the TLS keying material exporter.
    pub const TLS_KEY_EXPORT: IvProto = IvProto(1 << 3);
    /// `AUTH_PENDING` may carry keywords such as `timeout`.
    pub const AUTH_PENDING_KW: IvProto = IvProto(1 << 4);
    /// Peer-to-peer cipher negotiation. A client that pulls its options must not set it.
    pub const NCP_P2P: IvProto = IvProto(1 << 5);
    /// The pushed `dns` option of OpenVPN 2.6.
    pub const DNS_OPTION: IvProto = IvProto(1 << 6);
    /// The `EXIT` control message and `protocol-flags cc-exit`.
    pub const CC_EXIT_NOTIFY: IvProto = IvProto(1 << 7);
    /// `AUTH_FAILED,TEMP`.
    pub const AUTH_FAIL_TEMP: IvProto = IvProto(1 << 8);
    /// Renegotiations use a tls-crypt key derived from the session.
    pub const DYN_TLS_CRYPT: IvProto = IvProto(1 << 9);
    /// The epoch data channel format of OpenVPN 2.7.
    pub const DATA_EPOCH: IvProto = IvProto(1 << 10);
    /// The second `dns` option format of OpenVPN 2.7.
    pub const DNS_OPTION_V2: IvProto = IvProto(1 << 11);
    /// `PUSH_UPDATE` messages of OpenVPN 2.7.
    pub const PUSH_UPDATE: IvProto = IvProto(1 << 12);

    /// The features ferrovpn implements: `DATA_V2 | REQUEST_PUSH | TLS_KEY_EXPORT | AUTH_PENDING_KW |
    /// CC_EXIT_NOTIFY | AUTH_FAIL_TEMP`, which is 414.
    pub const DEFAULT: IvProto = IvProto::DATA_V2
        .union(IvProto::REQUEST_PUSH)
        .union(IvProto::TLS_KEY_EXPORT)
        .union(IvProto::AUTH_PENDING_KW)
        .union(IvProto::CC_EXIT_NOTIFY)
        .union(IvProto::AUTH_FAIL_TEMP);

    /// Returns a value with no bit set.
    pub const fn empty() -> IvProto {
        IvProto(0)
    }

    /// Returns the bits of both values.
    pub const fn union(self, other: IvProto) -> IvProto {
        IvProto(self.0 | other.0)
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: IvProto) -> bool {
        self.0 & other.0 == other.0
    }

    /// Returns the decimal value sent as `IV_PROTO`.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

impl Default for IvProto {
    fn default() -> IvProto {
        IvProto::DEFAULT
    }
}

impl BitOr for IvProto {
    type Output = IvProto;

    fn bitor(self, other: IvProto) -> IvProto {
        self.union(other)
    }
}

impl BitOrAssign for IvProto {
    fn bitor_assign(&mut self, other: IvProto) {
        *self = self.union(other);
    }
}

/// A peer info block that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerInfoError {
    /// No data cipher is configured, so `IV_CIPHERS` would be empty.
    #[error("data-ciphers is empty; configure at least one data cipher")]
    NoDataCiphers,
    /// A variable name is not `IV_` or `UV_` followed by letters, digits or underscores.
    #[error(
        "peer info variable {name:?} is invalid: names start with IV_ or UV_ and contain only \
         letters, digits and underscores"
    )]
    InvalidName {
        /// The name as given.
        name: String,
    },
    /// A caller tried to set a variable that ferrovpn sets from what it implements.
    #[error(
        "peer info variable {name} is set by ferrovpn from what it implements; remove \
         `setenv {name}` from the profile"
    )]
    ReservedName {
        /// The name as given.
        name: String,
    },
    /// A value contains a control character such as a newline.
    #[error("peer info variable {name} has a control character in its value; remove it")]
    ControlCharacter {
        /// The variable name.
        name: String,
    },
    /// A line is longer than a server accepts.
    #[error(
        "peer info line {name}=... is {len} bytes, but servers read at most \
         {PEER_INFO_LINE_MAX_LEN}; shorten the value"
    )]
    LineTooLong {
        /// The variable name.
        name: String,
        /// Length of `name=value` in bytes.
        len: usize,
    },
}

/// Client settings described by the options string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionsStringSettings {
    /// UDP or TCP.
    pub transport: Transport,
    /// `tun-mtu`.
    pub tun_mtu: u32,
    /// The cipher to announce as `cipher`, normally `data-ciphers-fallback`.
    ///
    /// An OpenVPN 2.6 server uses it only for a client that sends no `IV_CIPHERS`. `None`
    /// describes a client without `cipher`, like a 2.6 client whose `cipher` is the
    /// default BF-CBC, and yields the same `auth SHA1,keysize 128` as a default 2.6 server.
    pub cipher: Option<DataCipher>,
    /// `tls-auth` protects the control channel. `tls-crypt` does not appear in the string.
    pub tls_auth: bool,
    /// `key-direction` of `tls-auth`, announced as `keydir`.
    pub key_direction: Option<u8>,
}

/// Builds the options string in the field order of OpenVPN 2.6 `options.c`
/// `options_string`, such as
/// `V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,auth [null-digest],keysize 256,key-method 2,tls-client`.
pub fn options_string(settings: &OptionsStringSettings) -> String {
    let proto = match settings.transport {
        Transport::Udp => "UDPv4",
        Transport::Tcp => "TCPv4_CLIENT",
    };

    let mut fields = vec![
        "V4".to_owned(),
        "dev-type tun".to_owned(),
        format!("link-mtu {}", link_mtu(settings)),
        format!("tun-mtu {}", settings.tun_mtu),
        format!("proto {proto}"),
    ];

    if let Some(direction) = settings.key_direction {
        fields.push(format!("keydir {direction}"));
    }

    match settings.cipher {
        Some(cipher) => {
            fields.push(format!("cipher {}", cipher.name()));
            // AEAD ciphers use no HMAC, so OpenVPN announces the null digest.
            fields.push("auth [null-digest]".to_owned());
            fields.push(format!("keysize {}", cipher.key_len() * 8));
        }
        None => {
            fields.push("auth SHA1".to_owned());
            fields.push("keysize 128".to_owned());
        }
    }

    if settings.tls_auth {
        fields.push("tls-auth".to_owned());
    }
    fields.push("key-method 2".to_owned());
    fields.push("tls-client".to_owned());
    fields.join(",")
}

/// Computes `link-mtu` as OpenVPN 2.6 `mtu.c` `calc_options_string_link_mtu` does for a
/// client that has no `peer-id` yet and no compression.
///
/// The sum is `tun-mtu`, the TCP length prefix, 1 opcode byte, a 4-byte packet id and the
/// cipher overhead. For an AEAD cipher that overhead is tag, IV and block size, the block
/// size of the matching CBC cipher for AES-GCM. For the BF-CBC default it is 16 bytes of
/// block and IV plus the 20-byte SHA1 HMAC.
fn link_mtu(settings: &OptionsStringSettings) -> u32 {
    let tcp_length_prefix = match settings.transport {
        Transport::Udp => 0,
        Transport::Tcp => 2,
    };
    let cipher_overhead = match settings.cipher {
        Some(DataCipher::Aes128Gcm | DataCipher::Aes256Gcm) => 16 + 12 + 16,
        Some(DataCipher::Chacha20Poly1305) => 16 + 12 + 1,
        None => 16 + 20,
    };
    settings.tun_mtu + tcp_length_prefix + 1 + 4 + cipher_overhead
}

/// Client features announced by the peer info block.
///
/// The default has no data cipher, [`DEFAULT_TUN_MAX_MTU`] and [`IvProto::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerInfoSettings<'a> {
    /// `data-ciphers`, sent as `IV_CIPHERS`.
    pub data_ciphers: &'a [DataCipher],
    /// The largest tunnel MTU the client accepts, sent as `IV_MTU`.
    /// [`DEFAULT_TUN_MAX_MTU`] is OpenVPN 2.6's default.
    pub tun_max_mtu: u32,
    /// `IV_PROTO`, normally [`IvProto::DEFAULT`].
    pub iv_proto: IvProto,
    /// Pending-auth methods sent as `IV_SSO`, such as `crtext`, left out when empty.
    pub sso_methods: &'a [String],
    /// `IV_*` and `UV_*` variables from `setenv` in the profile.
    ///
    /// `IV_GUI_VER` and `IV_SSO` replace the values built here. Variables that announce
    /// protocol features, such as `IV_PROTO`, are rejected.
    pub extra: &'a [(String, String)],
}

impl Default for PeerInfoSettings<'_> {
    fn default() -> Self {
        PeerInfoSettings {
            data_ciphers: &[],
            tun_max_mtu: DEFAULT_TUN_MAX_MTU,
            iv_proto: IvProto::DEFAULT,
            sso_methods: &[],
            extra: &[],
        }
    }
}

/// Builds the peer info block: one `NAME=value` line per variable, each ending in a newline.
pub fn peer_info(settings: &PeerInfoSettings<'_>) -> Result<String, PeerInfoError> {
    if settings.data_ciphers.is_empty() {
        return Err(PeerInfoError::NoDataCiphers);
    }
    for (name, _) in settings.extra {
        validate_extra_name(name)?;
    }
    let extra_value = |wanted: &str| {
        settings
            .extra
            .iter()
            .rev()
            .find(|(name, _)| name == wanted)
            .map(|(_, value)| value.clone())
    };

    let mut variables: Vec<(String, String)> = vec![
        ("IV_VER".to_owned(), IV_VER.to_owned()),
        ("IV_PLAT".to_owned(), "linux".to_owned()),
        ("IV_TCPNL".to_owned(), "1".to_owned()),
        ("IV_MTU".to_owned(), settings.tun_max_mtu.to_string()),
    ];

    // OpenVPN 2.6 sends IV_NCP=2 only when both GCM ciphers are allowed, because a server
    // that reads only IV_NCP picks one of them.
    let has_gcm = |cipher| settings.data_ciphers.contains(&cipher);
    if has_gcm(DataCipher::Aes128Gcm) && has_gcm(DataCipher::Aes256Gcm) {
        variables.push(("IV_NCP".to_owned(), "2".to_owned()));
    }

    variables.extend([
        (
            "IV_CIPHERS".to_owned(),
            DataCipher::join_names(settings.data_ciphers),
        ),
        ("IV_PROTO".to_owned(), settings.iv_proto.bits().to_string()),
        // Compression framing without compression, implemented by `compression.rs`.
        ("IV_LZO_STUB".to_owned(), "1".to_owned()),
        ("IV_COMP_STUB".to_owned(), "1".to_owned()),
        ("IV_COMP_STUBv2".to_owned(), "1".to_owned()),
    ]);

    let sso = extra_value("IV_SSO").unwrap_or_else(|| settings.sso_methods.join(","));
    if !sso.is_empty() {
        variables.push(("IV_SSO".to_owned(), sso));
    }
    let gui_version = extra_value("IV_GUI_VER").unwrap_or_else(|| DEFAULT_IV_GUI_VER.to_owned());
    variables.push(("IV_GUI_VER".to_owned(), gui_version));

    for (name, value) in settings.extra {
        let already_sent = variables.iter().any(|(sent, _)| sent == name);
        if !already_sent {
            variables.push((name.clone(), value.clone()));
        }
    }

    let mut block = String::new();
    for (name, value) in &variables {
        validate_line(name, value)?;
        block.push_str(name);
        block.push('=');
        block.push_str(value);
        block.push('\n');
    }
    Ok(block)
}

fn validate_extra_name(name: &str) -> Result<(), PeerInfoError> {
    let has_prefix = name.starts_with("IV_") || name.starts_with("UV_");
    let has_valid_characters = name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
    if !has_prefix || !has_valid_characters || name.len() <= 3 {
        return Err(PeerInfoError::InvalidName {
            name: name.to_owned(),
        });
    }

    if RESERVED_VARIABLES.contains(&name) {
        return Err(PeerInfoError::ReservedName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn validate_line(name: &str, value: &str) -> Result<(), PeerInfoError> {
    if value.chars().any(char::is_control) {
        return Err(PeerInfoError::ControlCharacter {
            name: name.to_owned(),
        });
    }

    let len = name.len() + 1 + value.len();
    if len > PEER_INFO_LINE_MAX_LEN {
        return Err(PeerInfoError::LineTooLong {
            name: name.to_owned(),
            len,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_CIPHERS: [DataCipher; 3] = DataCipher::ALL;

    fn settings<'a>(
        sso_methods: &'a [String],
        extra: &'a [(String, String)],
    ) -> PeerInfoSettings<'a> {
        PeerInfoSettings {
            data_ciphers: &ALL_CIPHERS,
            tun_max_mtu: DEFAULT_TUN_MAX_MTU,
            iv_proto: IvProto::DEFAULT,
            sso_methods,
            extra,
        }
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn iv_proto_default_is_414() {
        assert_eq!(IvProto::DEFAULT.bits(), 414);
    }

    #[test]
    fn iv_proto_default_bits() {
        let expected = IvProto::DATA_V2
            | IvProto::REQUEST_PUSH
            | IvProto::TLS_KEY_EXPORT
            | IvProto::AUTH_PENDING_KW
            | IvProto::CC_EXIT_NOTIFY
            | IvProto::AUTH_FAIL_TEMP;
        assert_eq!(IvProto::DEFAULT, expected);
    }

    #[test]
    fn iv_proto_default_omits_unimplemented() {
        for bit in [
            IvProto::NCP_P2P,
            IvProto::DNS_OPTION,
            IvProto::DYN_TLS_CRYPT,
            IvProto::DATA_EPOCH,
        ] {
            assert!(!IvProto::DEFAULT.contains(bit), "bit {} set", bit.bits());
        }
    }

    #[test]
    fn iv_proto_stock_client_value() {
        let stock = IvProto::DEFAULT | IvProto::DNS_OPTION | IvProto::DYN_TLS_CRYPT;
        assert_eq!(stock.bits(), 990, "value of a stock 2.6 Linux client");
    }

    #[test]
    fn options_string_udp_aes256() {
        let text = options_string(&OptionsStringSettings {
            transport: Transport::Udp,
            tun_mtu: 1500,
            cipher: Some(DataCipher::Aes256Gcm),
            tls_auth: false,
            key_direction: None,
        });
        assert_eq!(
            text,
            "V4,dev-type tun,link-mtu 1549,tun-mtu 1500,proto UDPv4,cipher AES-256-GCM,\
             auth [null-digest],keysize 256,key-method 2,tls-client"
        );
    }

    #[test]
    fn options_string_tcp_tls_auth() {
        let text = options_string(&OptionsStringSettings {
            transport: Transport::Tcp,
            tun_mtu: 1500,
            cipher: Some(DataCipher::Chacha20Poly1305),
            tls_auth: true,
            key_direction: Some(1),
        });
        assert_eq!(
            text,
            "V4,dev-type tun,link-mtu 1536,tun-mtu 1500,proto TCPv4_CLIENT,keydir 1,\
             cipher CHACHA20-POLY1305,auth [null-digest],keysize 256,tls-auth,key-method 2,\
             tls-client"
        );
    }

    #[test]
    fn options_string_without_cipher_matches_server() {
        let text = options_string(&OptionsStringSettings {
            transport: Transport::Udp,
            tun_mtu: 1500,
            cipher: None,
            tls_auth: false,
            key_direction: None,
        });
        // The string of a default 2.6 server, with tls-client in place of tls-server.
        assert_eq!(
            text,
            "V4,dev-type tun,link-mtu 1541,tun-mtu 1500,proto UDPv4,auth SHA1,keysize 128,\
             key-method 2,tls-client"
        );
    }

    #[test]
    fn options_string_aes128_keysize() {
        let text = options_string(&OptionsStringSettings {
            transport: Transport::Udp,
            tun_mtu: 1400,
            cipher: Some(DataCipher::Aes128Gcm),
            tls_auth: false,
            key_direction: None,
        });
        assert!(text.contains(",keysize 128,"), "options string: {text}");
        assert!(text.contains(",link-mtu 1449,"), "options string: {text}");
    }

    #[test]
    fn peer_info_default_block() {
        let sso = vec!["crtext".to_owned(), "openurl".to_owned()];
        let block = peer_info(&settings(&sso, &[])).expect("peer info");

        let expected = format!(
            "IV_VER=2.6.0\nIV_PLAT=linux\nIV_TCPNL=1\nIV_MTU=1600\nIV_NCP=2\n\
             IV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\nIV_PROTO=414\n\
             IV_LZO_STUB=1\nIV_COMP_STUB=1\nIV_COMP_STUBv2=1\nIV_SSO=crtext,openurl\n\
             IV_GUI_VER={DEFAULT_IV_GUI_VER}\n"
        );
        assert_eq!(block, expected);
    }

    #[test]
    fn peer_info_omits_empty_sso() {
        let block = peer_info(&settings(&[], &[])).expect("peer info");
        assert!(!block.contains("IV_SSO"), "block: {block}");
    }

    #[test]
    fn peer_info_omits_ncp_without_both_gcm() {
        let ciphers = [DataCipher::Chacha20Poly1305, DataCipher::Aes256Gcm];
        let block = peer_info(&PeerInfoSettings {
            data_ciphers: &ciphers,
            ..settings(&[], &[])
        })
        .expect("peer info");
        assert!(!block.contains("IV_NCP"), "block: {block}");
        assert!(
            block.contains("IV_CIPHERS=CHACHA20-POLY1305:AES-256-GCM\n"),
            "block: {block}"
        );
    }

    #[test]
    fn peer_info_extra_variables() {
        let extra = vec![
            pair("IV_GUI_VER", "desktop_2.0"),
            pair("UV_DEPARTMENT", "lab"),
            pair("IV_PLAT_VER", "6.1"),
        ];
        let block = peer_info(&settings(&[], &extra)).expect("peer info");

        assert!(block.contains("IV_GUI_VER=desktop_2.0\n"), "block: {block}");
        assert_eq!(block.matches("IV_GUI_VER=").count(), 1, "block: {block}");
        assert!(
            block.ends_with("UV_DEPARTMENT=lab\nIV_PLAT_VER=6.1\n"),
            "block: {block}"
        );
    }

    #[test]
    fn peer_info_extra_sso_replaces_methods() {
        let sso = vec!["crtext".to_owned()];
        let extra = vec![pair("IV_SSO", "webauth")];
        let block = peer_info(&settings(&sso, &extra)).expect("peer info");
        assert!(block.contains("IV_SSO=webauth\n"), "block: {block}");
        assert_eq!(block.matches("IV_SSO=").count(), 1, "block: {block}");
    }

    #[test]
    fn peer_info_errors_table() {
        let long_value = "x".repeat(250);
        let cases: Vec<((String, String), PeerInfoError)> = vec![
            (
                pair("IV_PROTO", "990"),
                PeerInfoError::ReservedName {
                    name: "IV_PROTO".to_owned(),
                },
            ),
            (
                pair("IV_LZ4v2", "1"),
                PeerInfoError::ReservedName {
                    name: "IV_LZ4v2".to_owned(),
                },
            ),
            (
                pair("HOME", "/root"),
                PeerInfoError::InvalidName {
                    name: "HOME".to_owned(),
                },
            ),
            (
                pair("UV_A-B", "1"),
                PeerInfoError::InvalidName {
                    name: "UV_A-B".to_owned(),
                },
            ),
            (
                pair("UV_", "1"),
                PeerInfoError::InvalidName {
                    name: "UV_".to_owned(),
                },
            ),
            (
                pair("UV_NOTE", "a\nIV_PROTO=990"),
                PeerInfoError::ControlCharacter {
                    name: "UV_NOTE".to_owned(),
                },
            ),
            (
                pair("UV_LONG", &long_value),
                PeerInfoError::LineTooLong {
                    name: "UV_LONG".to_owned(),
                    len: 258,
                },
            ),
        ];

        for (variable, expected) in cases {
            let extra = [variable.clone()];
            let result = peer_info(&settings(&[], &extra));
            assert_eq!(result, Err(expected), "variable {variable:?}");
        }
    }

    #[test]
    fn peer_info_rejects_empty_ciphers() {
        let result = peer_info(&PeerInfoSettings {
            data_ciphers: &[],
            ..settings(&[], &[])
        });
        assert_eq!(result, Err(PeerInfoError::NoDataCiphers));
    }
}
