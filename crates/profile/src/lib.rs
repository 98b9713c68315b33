//! Parser for OpenVPN `.ovpn` client profiles into a typed configuration.
