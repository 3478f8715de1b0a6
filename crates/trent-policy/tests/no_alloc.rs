//! Evaluation allocates nothing in the common case: literal and wildcard
//! actions/resources, principals, and conditions without policy variables
//! over single-valued keys. (Alone in its test binary, so that the global
//! allocation counter sees only this test.)

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use trent_policy::{
    ConditionContext, Outcome, Policy, PolicyKind, Principal, Request, ResourceOutcome, Values,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

struct Ctx;

impl ConditionContext for Ctx {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        match key {
            "kms:encryptioncontext:purpose" => Some(Values::One("backup")),
            "aws:sourceip" => Some(Values::One("10.1.2.3")),
            "aws:currenttime" => Some(Values::One("2024-06-01T12:00:00Z")),
            "kms:calleraccount" => Some(Values::One("111122223333")),
            "aws:principalarn" => Some(Values::One("arn:aws:iam::111122223333:role/Admin")),
            _ => None,
        }
    }
}

const KEY_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/Admin", "arn:aws:iam::111122223333:user/alice"]},
     "Action": ["kms:Encrypt*", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
     "Condition": {
       "StringEquals": {"kms:EncryptionContext:Purpose": ["backup", "test"], "kms:CallerAccount": "111122223333"},
       "StringLike": {"kms:EncryptionContext:Purpose": "b*"},
       "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
       "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
       "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"},
       "StringNotEquals": {"kms:EncryptionContext:Missing": "x"},
       "Null": {"aws:username": "true"}
     }},
    {"Sid": "NoDelete", "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion",
     "NotResource": "arn:aws:kms:*:111122223333:key/keep-*"}
  ]
}"#;

#[test]
fn evaluation_does_not_allocate() {
    let policy = Policy::parse(KEY_POLICY, PolicyKind::Key).unwrap();
    let session = Principal {
        arn: "arn:aws:sts::111122223333:assumed-role/Admin/s",
        account: "111122223333",
    };
    let user = Principal {
        arn: "arn:aws:iam::111122223333:user/bob",
        account: "111122223333",
    };
    let key = "arn:aws:kms:us-east-1:111122223333:key/1234abcd";
    let encrypt = Request {
        action: "kms:Encrypt",
        resource: key,
        principal: &session,
        context: &Ctx,
    };
    let delete = Request {
        action: "kms:ScheduleKeyDeletion",
        resource: key,
        principal: &user,
        context: &Ctx,
    };
    let sign = Request {
        action: "kms:Sign",
        resource: key,
        principal: &user,
        context: &Ctx,
    };

    let region = Region::new(GLOBAL);
    let outcomes = (
        policy.evaluate_resource(&encrypt),
        policy.evaluate_resource(&delete),
        policy.evaluate_resource(&sign),
        policy.evaluate_identity(&encrypt),
        policy.evaluate_identity(&delete),
    );
    let change = region.change();
    assert_eq!(
        outcomes,
        (
            ResourceOutcome::AllowPrincipal,
            ResourceOutcome::ExplicitDeny,
            ResourceOutcome::AllowAccount,
            Outcome::Allow,
            Outcome::ExplicitDeny
        )
    );
    assert_eq!(change.allocations, 0, "{change:?}");
    assert_eq!(change.reallocations, 0, "{change:?}");
}
