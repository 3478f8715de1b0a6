//! Policy documents parsed as each kind (key, identity, trust), and each one
//! that parses evaluated as an identity and as a resource policy for a
//! request and condition context from the input.
//!
//! Input: `document NUL request lines` (see `trent_fuzz::policy_input`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use trent_fuzz::policy_input;
use trent_policy::{Policy, PolicyKind, Principal, Request};

fuzz_target!(|data: &[u8]| {
    let input = policy_input(data);
    let principal = Principal {
        arn: &input.principal_arn,
        account: &input.account,
    };
    let request = Request {
        action: &input.action,
        resource: &input.resource,
        principal: &principal,
        context: &input.context,
    };
    for kind in [PolicyKind::Key, PolicyKind::Identity, PolicyKind::Trust] {
        match Policy::parse(&input.document, kind) {
            Ok(policy) => {
                let _ = policy.evaluate_identity(&request);
                let _ = policy.evaluate_resource(&request);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
