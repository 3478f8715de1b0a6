//! The SigV4 `Authorization` header parser on any text, and what the server
//! does with its result and its errors.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    match trent_sigv4::parse_authorization(value) {
        Ok(auth) => {
            let _ = auth.check_region("us-east-1");
            let _ = auth.signed_headers.iter().count();
            let _ = auth.signed_headers.contains("host");
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
