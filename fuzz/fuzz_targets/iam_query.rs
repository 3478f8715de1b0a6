//! The IAM/STS Query protocol's form body: the action read before
//! authentication, then the parameters parsed and checked as the handlers
//! in `trent-server/src/iam/` check them.
//!
//! Input: a form body (`Action=CreateUser&Version=2010-05-08&UserName=alice`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_wire::query::{QueryParams, action};

/// Parameter lists as the handlers allow them.
const ALLOWED: &[&[&str]] = &[
    &[],
    &["UserName", "Path"],
    &["RoleArn", "RoleSessionName", "DurationSeconds"],
    &[
        "RoleName",
        "AssumeRolePolicyDocument",
        "Path",
        "Description",
        "MaxSessionDuration",
        "Tags",
    ],
];

fuzz_target!(|data: &[u8]| {
    let _ = action(data);
    let params = QueryParams::parse(data);
    for allowed in ALLOWED {
        let _ = params.allow(allowed).map_err(|e| e.to_string());
    }
    for name in ["Action", "UserName", "RoleSessionName", "PolicyDocument"] {
        let _ = params.required(name).map_err(|e| e.to_string());
    }
    for name in ["DurationSeconds", "MaxItems", "MaxSessionDuration"] {
        let _ = params.int(name).map_err(|e| e.to_string());
    }
    // Names the caller chose, in the messages (a few: each lookup is a scan).
    for (name, _) in params.pairs().take(8) {
        let _ = params.required(name);
        let _ = params.int(name).map_err(|e| e.to_string());
    }
});
