//! `ferrovpn-authd`: second-factor decisions for an OpenVPN 2.6 server.

fn main() {}
