//! End-to-end tests: the real `trent` binary on a free port, driven by the
//! real `aws-sdk-kms` client.

mod access;
mod asymmetric;
mod audit;
mod backup;
mod bench;
mod common;
mod console;
mod crypto;
mod custody;
mod envelope;
mod grants;
mod hardening;
mod import;
mod kem;
mod keys;
mod lifecycle;
mod multi_region;
mod postgres;
mod protocol;
mod rotation;
mod transport;
