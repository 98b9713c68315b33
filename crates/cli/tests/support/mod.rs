//! Shared pieces of the `ferrovpn` integration tests.

#![allow(dead_code)]

pub mod client;
pub mod relay;
