//! The JSON request of every KMS operation, read and validated as the
//! server does before dispatch (`trent_wire::parse_request`), and the
//! error messages the server would answer with.
//!
//! Input: `[operation][body]`, the first byte an index into
//! `Operation::ALL` (see `trent_fuzz::kms_request`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_fuzz::kms_request;
use trent_wire::RequestError;

fuzz_target!(|data: &[u8]| {
    let Some((op, body)) = kms_request(data) else {
        return;
    };
    match op.parse_and_validate(body) {
        Ok(()) => {}
        Err(RequestError::Json(e)) => {
            let _ = (e.classify(), e.line(), e.column());
        }
        Err(RequestError::Invalid(e)) => {
            let _ = e.message();
        }
    }
});
