use crate::*;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const USER: &str = "arn:aws:iam::111122223333:user/alice";
const SESSION: &str = "arn:aws:sts::111122223333:assumed-role/Admin/alice-session";
const ROLE: &str = "arn:aws:iam::111122223333:role/Admin";
const ROOT: &str = "arn:aws:iam::111122223333:root";

/// A condition context from (key, values) pairs; one value gives
/// `Values::One`, zero or several `Values::Many`.
#[derive(Debug, Default, Clone)]
struct Ctx(Vec<(String, Vec<String>)>);

impl Ctx {
    fn new(pairs: &[(&str, &[&str])]) -> Ctx {
        Ctx(pairs
            .iter()
            .map(|(k, vs)| (k.to_string(), vs.iter().map(|v| v.to_string()).collect()))
            .collect())
    }
}

impl ConditionContext for Ctx {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        assert_eq!(key, key.to_ascii_lowercase(), "keys arrive lowercased");
        let (_, vs) = self.0.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?;
        Some(match vs.as_slice() {
            [one] => Values::One(one),
            many => Values::Many(
                many.iter()
                    .map(|v| std::borrow::Cow::Borrowed(v.as_str()))
                    .collect(),
            ),
        })
    }
}

fn parse(doc: Value, kind: PolicyKind) -> Policy {
    Policy::parse(&doc.to_string(), kind).unwrap_or_else(|e| panic!("{e}\n{doc:#}"))
}

fn malformed(doc: &str, kind: PolicyKind) -> String {
    match Policy::parse(doc, kind) {
        Err(PolicyError::Malformed(m)) => m,
        Ok(_) => panic!("accepted: {doc}"),
    }
}

fn identity(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Identity,
    )
}

fn key_policy(statements: Value) -> Policy {
    parse(
        json!({"Version": "2012-10-17", "Statement": statements}),
        PolicyKind::Key,
    )
}

fn eval_identity(p: &Policy, action: &str, resource: &str, ctx: &dyn ConditionContext) -> Outcome {
    let principal = Principal {
        arn: USER,
        account: ACCOUNT,
    };
    p.evaluate_identity(&Request {
        action,
        resource,
        principal: &principal,
        context: ctx,
    })
}

fn eval_resource(
    p: &Policy,
    arn: &str,
    account: &str,
    action: &str,
    ctx: &dyn ConditionContext,
) -> ResourceOutcome {
    let principal = Principal { arn, account };
    p.evaluate_resource(&Request {
        action,
        resource: KEY,
        principal: &principal,
        context: ctx,
    })
}

/// Whether an Allow-all statement with `condition` applies for `ctx`.
fn cond_in(condition: Value, version: &str, ctx: &Ctx) -> bool {
    let doc = json!({"Version": version, "Statement": {
        "Effect": "Allow", "Action": "kms:*", "Resource": "*", "Condition": condition}});
    let p = parse(doc, PolicyKind::Identity);
    eval_identity(&p, "kms:Encrypt", KEY, ctx) == Outcome::Allow
}

fn cond(condition: Value, ctx: &[(&str, &[&str])]) -> bool {
    cond_in(condition, "2012-10-17", &Ctx::new(ctx))
}

/// `op` on `key` with policy `values`, for a request where `key` has `request` values.
fn op(op: &str, values: Value, request: &[&str]) -> bool {
    cond(
        json!({ op: { "test:Key": values } }),
        &[("test:key", request)],
    )
}

/// `op` when the key is absent.
fn op_absent(op: &str, values: Value) -> bool {
    cond(json!({ op: { "test:Key": values } }), &[])
}

// ---------------------------------------------------------------- strings

#[test]
fn string_equals() {
    assert!(op("StringEquals", json!("abc"), &["abc"]));
    assert!(!op("StringEquals", json!("abc"), &["ABC"]));
    assert!(op("StringEquals", json!(["x", "abc"]), &["abc"]));
    assert!(
        !op("StringEquals", json!("a*"), &["abc"]),
        "no wildcards in StringEquals"
    );
    assert!(op("StringEquals", json!("a*"), &["a*"]));
    assert!(
        op("StringEquals", json!(42), &["42"]),
        "numbers are compared as text"
    );
    assert!(op("StringEquals", json!(true), &["true"]));
    assert!(!op_absent("StringEquals", json!("abc")));

    assert!(!op("StringNotEquals", json!("abc"), &["abc"]));
    assert!(op("StringNotEquals", json!("abc"), &["abd"]));
    assert!(!op("StringNotEquals", json!(["x", "abc"]), &["abc"]));
    assert!(
        op_absent("StringNotEquals", json!("abc")),
        "a negated operator on a missing key is true"
    );
}

#[test]
fn string_equals_ignore_case() {
    assert!(op("StringEqualsIgnoreCase", json!("ABC"), &["abc"]));
    assert!(op("StringEqualsIgnoreCase", json!("ÄBC"), &["äbc"]));
    assert!(!op("StringEqualsIgnoreCase", json!("ABC"), &["abd"]));
    assert!(!op_absent("StringEqualsIgnoreCase", json!("abc")));
    assert!(!op("StringNotEqualsIgnoreCase", json!("ABC"), &["abc"]));
    assert!(op("StringNotEqualsIgnoreCase", json!("ABC"), &["abd"]));
    assert!(op_absent("StringNotEqualsIgnoreCase", json!("abc")));
}

#[test]
fn string_like() {
    assert!(op("StringLike", json!("ab*"), &["abcdef"]));
    assert!(op("StringLike", json!("*"), &[""]));
    assert!(op("StringLike", json!("a?c"), &["abc"]));
    assert!(
        op("StringLike", json!("a?c"), &["aéc"]),
        "? is one character, not one byte"
    );
    assert!(!op("StringLike", json!("a?c"), &["abbc"]));
    assert!(op("StringLike", json!("*b*d*"), &["abcdef"]));
    assert!(!op("StringLike", json!("*b*d"), &["abcdef"]));
    assert!(
        !op("StringLike", json!("AB*"), &["abc"]),
        "StringLike is case-sensitive"
    );
    assert!(op("StringLike", json!(["x*", "*f"]), &["abcdef"]));
    assert!(!op_absent("StringLike", json!("*")));

    assert!(!op("StringNotLike", json!("ab*"), &["abc"]));
    assert!(op("StringNotLike", json!("ab*"), &["xbc"]));
    assert!(op_absent("StringNotLike", json!("*")));
}

#[test]
fn glob_backtracking_is_correct() {
    use crate::pattern::{Pattern, Syntax};
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    let cases = [
        ("*a*a*a", "aaaa", true),
        ("*a*a*a", "aab", false),
        ("a*b*c", "abbbbcc", true),
        ("a*b?c", "axbxc", true),
        ("a*b?c", "axbc", false),
        ("*?", "", false),
        ("*?", "x", true),
        ("", "", true),
        ("", "x", false),
        ("**", "anything", true),
        ("*:*", "a:b", true),
        ("*:*", "ab", false),
    ];
    for (pattern, input, expected) in cases {
        let p = Pattern::compile(pattern, syntax);
        assert_eq!(
            p.matches(input, false, &EmptyContext),
            expected,
            "{pattern} vs {input}"
        );
    }
}

// ---------------------------------------------------------------- numbers, dates, bool, binary

#[test]
fn numeric_operators() {
    let cases: &[(&str, &str, bool)] = &[
        ("NumericEquals", "10", true),
        ("NumericEquals", "10.0", true),
        ("NumericEquals", "11", false),
        ("NumericNotEquals", "11", true),
        ("NumericNotEquals", "10", false),
        ("NumericLessThan", "9", true),
        ("NumericLessThan", "10", false),
        ("NumericLessThanEquals", "10", true),
        ("NumericLessThanEquals", "11", false),
        ("NumericGreaterThan", "11", true),
        ("NumericGreaterThan", "10", false),
        ("NumericGreaterThanEquals", "10", true),
        ("NumericGreaterThanEquals", "9.5", false),
        ("NumericEquals", "ten", false),
    ];
    for &(operator, request, expected) in cases {
        assert_eq!(
            op(operator, json!("10"), &[request]),
            expected,
            "{operator} 10 vs {request}"
        );
        assert_eq!(
            op(operator, json!(10), &[request]),
            expected,
            "{operator} JSON 10 vs {request}"
        );
    }
    assert!(!op_absent("NumericEquals", json!(1)));
    assert!(op_absent("NumericNotEquals", json!(1)));
    assert!(!op_absent("NumericLessThan", json!(1)));
    assert!(
        op("NumericLessThan", json!([1, 100]), &["50"]),
        "values are OR-ed"
    );
}

#[test]
fn date_operators() {
    let t = "2024-06-01T12:00:00Z";
    let cases: &[(&str, &str, bool)] = &[
        ("DateEquals", "2024-06-01T12:00:00Z", true),
        ("DateEquals", "2024-06-01T14:00:00+02:00", true),
        ("DateEquals", "1717243200", true),
        ("DateEquals", "2024-06-01T12:00:01Z", false),
        ("DateNotEquals", "2024-06-01T12:00:01Z", true),
        ("DateNotEquals", "1717243200", false),
        ("DateLessThan", "2024-06-01", true),
        ("DateLessThan", t, false),
        ("DateLessThanEquals", t, true),
        ("DateLessThanEquals", "2024-06-02", false),
        ("DateGreaterThan", "2024-06-02", true),
        ("DateGreaterThan", t, false),
        ("DateGreaterThanEquals", t, true),
        ("DateGreaterThanEquals", "1717243199", false),
        ("DateEquals", "not a date", false),
    ];
    for &(operator, request, expected) in cases {
        assert_eq!(
            op(operator, json!(t), &[request]),
            expected,
            "{operator} {t} vs {request}"
        );
        assert_eq!(
            op(operator, json!(1_717_243_200), &[request]),
            expected,
            "{operator} epoch vs {request}"
        );
    }
    assert!(!op_absent("DateLessThan", json!(t)));
    assert!(op_absent("DateNotEquals", json!(t)));
}

#[test]
fn bool_operator() {
    assert!(op("Bool", json!(true), &["true"]));
    assert!(op("Bool", json!("true"), &["TRUE"]));
    assert!(!op("Bool", json!(true), &["false"]));
    assert!(op("Bool", json!("false"), &["false"]));
    assert!(!op("Bool", json!(true), &["yes"]));
    assert!(!op_absent("Bool", json!(false)));
    assert!(op_absent("BoolIfExists", json!(false)));
}

#[test]
fn binary_equals() {
    assert!(op("BinaryEquals", json!("aGVsbG8="), &["aGVsbG8="]));
    assert!(
        op("BinaryEquals", json!("aGVsbG8="), &["aGVsbG8"]),
        "padding is optional"
    );
    assert!(!op("BinaryEquals", json!("aGVsbG8="), &["aGVsbG9="]));
    assert!(!op("BinaryEquals", json!("aGVsbG8="), &["not base64!"]));
    assert!(!op_absent("BinaryEquals", json!("aGVsbG8=")));
}

// ---------------------------------------------------------------- IP addresses

#[test]
fn ip_address_v4() {
    assert!(op("IpAddress", json!("203.0.113.0/24"), &["203.0.113.7"]));
    assert!(!op("IpAddress", json!("203.0.113.0/24"), &["203.0.114.7"]));
    assert!(
        op("IpAddress", json!("203.0.113.9/24"), &["203.0.113.200"]),
        "host bits are ignored"
    );
    assert!(
        op("IpAddress", json!("203.0.113.5"), &["203.0.113.5"]),
        "a bare address is a /32"
    );
    assert!(!op("IpAddress", json!("203.0.113.5"), &["203.0.113.6"]));
    assert!(op("IpAddress", json!("0.0.0.0/0"), &["198.51.100.1"]));
    assert!(op(
        "IpAddress",
        json!(["10.0.0.0/8", "192.168.0.0/16"]),
        &["192.168.4.4"]
    ));
    assert!(
        op("IpAddress", json!("10.0.0.0/8"), &["::ffff:10.1.2.3"]),
        "IPv4-mapped IPv6"
    );
    assert!(!op("IpAddress", json!("10.0.0.0/8"), &["not-an-ip"]));
    assert!(!op_absent("IpAddress", json!("10.0.0.0/8")));

    assert!(op("NotIpAddress", json!("10.0.0.0/8"), &["11.0.0.1"]));
    assert!(!op("NotIpAddress", json!("10.0.0.0/8"), &["10.0.0.1"]));
    assert!(op_absent("NotIpAddress", json!("10.0.0.0/8")));
}

#[test]
fn ip_address_v6() {
    assert!(op(
        "IpAddress",
        json!("2001:db8::/32"),
        &["2001:db8:1234::1"]
    ));
    assert!(!op("IpAddress", json!("2001:db8::/32"), &["2001:db9::1"]));
    assert!(op("IpAddress", json!("2001:db8::1"), &["2001:DB8:0:0::1"]));
    assert!(op("IpAddress", json!("::/0"), &["fe80::1"]));
    assert!(
        !op("IpAddress", json!("::/0"), &["10.0.0.1"]),
        "families do not mix"
    );
    assert!(!op("IpAddress", json!("10.0.0.0/8"), &["2001:db8::1"]));
    assert!(op(
        "IpAddress",
        json!("2001:db8:abcd:12::/64"),
        &["2001:db8:abcd:12:ffff::"]
    ));
    assert!(op("NotIpAddress", json!("2001:db8::/32"), &["2001:db9::1"]));
}

// ---------------------------------------------------------------- ARNs

#[test]
fn arn_operators() {
    let role = "arn:aws:iam::111122223333:role/path/Admin";
    assert!(op("ArnEquals", json!(role), &[role]));
    assert!(op("ArnLike", json!(role), &[role]));
    assert!(op("ArnLike", json!("arn:aws:iam::*:role/*"), &[role]));
    assert!(
        op("ArnEquals", json!("arn:aws:iam::*:role/*"), &[role]),
        "ArnEquals also takes wildcards"
    );
    assert!(op(
        "ArnLike",
        json!("arn:aws:iam::1111222233?3:role/path/Admin"),
        &[role]
    ));
    assert!(!op("ArnLike", json!("arn:aws:iam::*:user/*"), &[role]));
    assert!(
        !op("ArnLike", json!("arn:aws:IAM::*:role/*"), &[role]),
        "case-sensitive"
    );
    assert!(op(
        "ArnLike",
        json!("arn:aws:kms:*:111122223333:key/*"),
        &[KEY]
    ));
    assert!(!op(
        "ArnLike",
        json!("arn:aws:kms:eu-*:111122223333:key/*"),
        &[KEY]
    ));
    // A wildcard matches inside one part only: it cannot swallow a colon.
    assert!(!op(
        "ArnLike",
        json!("arn:aws:iam::*:root"),
        &["arn:aws:iam::1:2:root"]
    ));
    assert!(op(
        "ArnLike",
        json!("arn:aws:iam::*:root"),
        &["arn:aws:iam::111122223333:root"]
    ));
    // ... except in the resource part, which may contain colons.
    assert!(op(
        "ArnLike",
        json!("arn:aws:logs:*:*:log-group:*"),
        &["arn:aws:logs:us-east-1:1:log-group:g:*"]
    ));
    assert!(!op(
        "ArnLike",
        json!("arn:aws:iam::*:role/*"),
        &["not-an-arn"]
    ));
    assert!(
        op("ArnLike", json!("*"), &["anything"]),
        "a value with fewer than six parts matches as a whole"
    );
    assert!(!op_absent("ArnLike", json!("*")));

    assert!(!op("ArnNotEquals", json!(role), &[role]));
    assert!(op(
        "ArnNotEquals",
        json!(role),
        &["arn:aws:iam::111122223333:role/Other"]
    ));
    assert!(!op("ArnNotLike", json!("arn:aws:iam::*:role/*"), &[role]));
    assert!(op("ArnNotLike", json!("arn:aws:iam::*:user/*"), &[role]));
    assert!(op_absent("ArnNotLike", json!("arn:aws:iam::*:user/*")));
    assert!(op_absent("ArnNotEquals", json!(role)));
}

// ---------------------------------------------------------------- Null, IfExists, set operators

#[test]
fn null_operator() {
    assert!(op_absent("Null", json!("true")));
    assert!(!op_absent("Null", json!(false)));
    assert!(!op("Null", json!(true), &["x"]));
    assert!(op("Null", json!("false"), &["x"]));
    assert!(
        op("Null", json!(true), &[]),
        "an empty multivalued key counts as absent"
    );
}

#[test]
fn if_exists() {
    assert!(op_absent("StringEqualsIfExists", json!("abc")));
    assert!(op("StringEqualsIfExists", json!("abc"), &["abc"]));
    assert!(!op("StringEqualsIfExists", json!("abc"), &["abd"]));
    assert!(op_absent("NumericLessThanIfExists", json!(5)));
    assert!(!op("NumericLessThanIfExists", json!(5), &["6"]));
    assert!(op_absent("StringNotEqualsIfExists", json!("abc")));
    assert!(!op("StringNotEqualsIfExists", json!("abc"), &["abc"]));
    assert!(op_absent("ArnLikeIfExists", json!("arn:aws:iam::*:root")));
    assert!(op_absent("IpAddressIfExists", json!("10.0.0.0/8")));
    assert!(op_absent("DateGreaterThanIfExists", json!("2020-01-01")));
    assert!(op_absent("ForAnyValue:StringLikeIfExists", json!("a*")));
}

#[test]
fn set_operators() {
    let allowed = json!(["Purpose", "Team"]);
    // ForAllValues: every request value is among the policy values.
    assert!(op(
        "ForAllValues:StringEquals",
        allowed.clone(),
        &["Purpose"]
    ));
    assert!(op(
        "ForAllValues:StringEquals",
        allowed.clone(),
        &["Purpose", "Team"]
    ));
    assert!(!op(
        "ForAllValues:StringEquals",
        allowed.clone(),
        &["Purpose", "Other"]
    ));
    assert!(
        op_absent("ForAllValues:StringEquals", allowed.clone()),
        "true when the key is absent"
    );
    assert!(
        op("ForAllValues:StringEquals", allowed.clone(), &[]),
        "true when the key is empty"
    );
    // ForAnyValue: at least one request value is among the policy values.
    assert!(op(
        "ForAnyValue:StringEquals",
        allowed.clone(),
        &["Other", "Team"]
    ));
    assert!(!op(
        "ForAnyValue:StringEquals",
        allowed.clone(),
        &["Other", "More"]
    ));
    assert!(
        !op_absent("ForAnyValue:StringEquals", allowed.clone()),
        "false when the key is absent"
    );
    assert!(!op("ForAnyValue:StringEquals", allowed.clone(), &[]));
    // Negated operators under a set prefix apply per request value.
    assert!(op(
        "ForAllValues:StringNotEquals",
        allowed.clone(),
        &["Other", "More"]
    ));
    assert!(!op(
        "ForAllValues:StringNotEquals",
        allowed.clone(),
        &["Other", "Team"]
    ));
    assert!(op(
        "ForAnyValue:StringNotEquals",
        allowed.clone(),
        &["Other", "Team"]
    ));
    assert!(!op(
        "ForAnyValue:StringNotEquals",
        allowed.clone(),
        &["Team", "Purpose"]
    ));
    assert!(op("ForAnyValue:StringLike", json!("Te*"), &["x", "Team"]));
    assert!(op(
        "ForAllValues:StringLike",
        json!(["P*", "T*"]),
        &["Purpose", "Team"]
    ));
    assert!(op(
        "ForAnyValue:NumericGreaterThan",
        json!(10),
        &["1", "20"]
    ));
    assert!(!op(
        "ForAllValues:NumericGreaterThan",
        json!(10),
        &["1", "20"]
    ));
    // Without a prefix, a positive operator needs any value to match and a
    // negated one needs every value not to match.
    assert!(op("StringEquals", allowed.clone(), &["Other", "Team"]));
    assert!(!op("StringNotEquals", allowed.clone(), &["Other", "Team"]));
    assert!(op("StringNotEquals", allowed, &["Other", "More"]));
    // Prefixes and names are case-insensitive.
    assert!(op("forallvalues:stringequals", json!("a"), &["a"]));
}

#[test]
fn conditions_combine() {
    let condition = json!({
        "StringEquals": {"kms:EncryptionContext:Purpose": ["backup", "test"], "kms:CallerAccount": ACCOUNT},
        "Bool": {"aws:SecureTransport": "true"},
    });
    let all: &[(&str, &[&str])] = &[
        ("kms:encryptioncontext:purpose", &["test"]),
        ("kms:calleraccount", &[ACCOUNT]),
        ("aws:securetransport", &["true"]),
    ];
    assert!(
        cond(condition.clone(), all),
        "operators AND-ed, keys AND-ed, values OR-ed"
    );
    let mut one_off = all.to_vec();
    one_off[1] = ("kms:calleraccount", &[OTHER]);
    assert!(
        !cond(condition.clone(), &one_off),
        "every key of an operator must match"
    );
    let mut other_op = all.to_vec();
    other_op[2] = ("aws:securetransport", &["false"]);
    assert!(
        !cond(condition.clone(), &other_op),
        "every operator must match"
    );
    // Condition keys are case-insensitive.
    assert!(cond(
        json!({"StringEquals": {"AWS:PrincipalArn": USER}}),
        &[("aws:principalarn", &[USER])]
    ));
}

// ---------------------------------------------------------------- policy variables

#[test]
fn policy_variables_in_resource_and_conditions() {
    let p = identity(json!([{
        "Effect": "Allow", "Action": "kms:*",
        "Resource": "arn:aws:kms:*:${aws:PrincipalAccount}:alias/${aws:username}-*",
    }]));
    let alice = Ctx::new(&[
        ("aws:username", &["alice"]),
        ("aws:principalaccount", &[ACCOUNT]),
    ]);
    let alias = "arn:aws:kms:us-east-1:111122223333:alias/alice-data";
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", alias, &alice),
        Outcome::Allow
    );
    assert_eq!(
        eval_identity(
            &p,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:111122223333:alias/bob-data",
            &alice
        ),
        Outcome::NotApplicable
    );
    let bob = Ctx::new(&[
        ("aws:username", &["bob"]),
        ("aws:principalaccount", &[ACCOUNT]),
    ]);
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", alias, &bob),
        Outcome::NotApplicable
    );
    // An unresolvable variable matches nothing.
    let no_name = Ctx::new(&[("aws:principalaccount", &[ACCOUNT])]);
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", alias, &no_name),
        Outcome::NotApplicable
    );
    // So does a multivalued one.
    let two = Ctx::new(&[
        ("aws:username", &["alice", "bob"]),
        ("aws:principalaccount", &[ACCOUNT]),
    ]);
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", alias, &two),
        Outcome::NotApplicable
    );

    // In condition values.
    let c = json!({"StringEquals": {"kms:EncryptionContext:owner": "${aws:username}"}});
    assert!(cond(
        c.clone(),
        &[
            ("aws:username", &["alice"]),
            ("kms:encryptioncontext:owner", &["alice"])
        ]
    ));
    assert!(!cond(
        c.clone(),
        &[
            ("aws:username", &["alice"]),
            ("kms:encryptioncontext:owner", &["bob"])
        ]
    ));
    assert!(!cond(c, &[("kms:encryptioncontext:owner", &["alice"])]));
    let like = json!({"StringLike": {"kms:EncryptionContext:path": "home/${aws:userid}/*"}});
    assert!(cond(
        like,
        &[
            ("aws:userid", &["AIDA123"]),
            ("kms:encryptioncontext:path", &["home/AIDA123/x"])
        ]
    ));
    let arn = json!({"ArnLike": {"aws:SourceArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}});
    assert!(cond(
        arn,
        &[
            ("aws:principalaccount", &[ACCOUNT]),
            ("aws:sourcearn", &[ROLE])
        ]
    ));
    // A substituted value is literal text, never a wildcard.
    let star = json!({"StringLike": {"test:key": "${test:v}"}});
    assert!(!cond(
        star.clone(),
        &[("test:v", &["*"]), ("test:key", &["abc"])]
    ));
    assert!(cond(star, &[("test:v", &["*"]), ("test:key", &["*"])]));
}

#[test]
fn policy_variable_defaults_and_escapes() {
    let c = json!({"StringEquals": {"test:key": "${aws:PrincipalTag/team, 'none'}"}});
    assert!(cond(c.clone(), &[("test:key", &["none"])]));
    assert!(cond(
        c.clone(),
        &[("aws:principaltag/team", &["red"]), ("test:key", &["red"])]
    ));
    assert!(!cond(
        c,
        &[("aws:principaltag/team", &["red"]), ("test:key", &["none"])]
    ));
    // ${*}, ${?} and ${$} are literal characters in StringLike.
    let esc = json!({"StringLike": {"test:key": "a${*}b${?}c${$}*"}});
    assert!(cond(esc.clone(), &[("test:key", &["a*b?c$zzz"])]));
    assert!(!cond(esc, &[("test:key", &["aXbYc$zzz"])]));
}

#[test]
fn policy_variables_need_version_2012() {
    let c = json!({"StringEquals": {"test:key": "${aws:username}"}});
    let ctx = Ctx::new(&[("aws:username", &["alice"]), ("test:key", &["alice"])]);
    assert!(cond_in(c.clone(), "2012-10-17", &ctx));
    assert!(!cond_in(c.clone(), "2008-10-17", &ctx));
    let literal = Ctx::new(&[
        ("aws:username", &["alice"]),
        ("test:key", &["${aws:username}"]),
    ]);
    assert!(cond_in(c, "2008-10-17", &literal));
    // Without a Version, the 2008 language applies.
    let p = parse(
        json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:kms:*:*:alias/${aws:username}"}}),
        PolicyKind::Identity,
    );
    let alias = "arn:aws:kms:us-east-1:111122223333:alias/alice";
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", alias, &ctx),
        Outcome::NotApplicable
    );
    assert_eq!(
        eval_identity(
            &p,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:111122223333:alias/${aws:username}",
            &ctx
        ),
        Outcome::Allow
    );
}

// ---------------------------------------------------------------- actions and resources

#[test]
fn action_wildcards() {
    let allowed = |action_pattern: &str, action: &str| {
        let p = identity(json!({"Effect": "Allow", "Action": action_pattern, "Resource": "*"}));
        eval_identity(&p, action, KEY, &EmptyContext) == Outcome::Allow
    };
    assert!(allowed("*", "kms:Encrypt"));
    assert!(allowed("kms:*", "kms:Encrypt"));
    assert!(!allowed("kms:*", "iam:CreateUser"));
    assert!(allowed("kms:Encrypt", "kms:Encrypt"));
    assert!(
        allowed("KMS:encrypt", "kms:Encrypt"),
        "actions are case-insensitive"
    );
    assert!(allowed("kms:Encrypt", "KMS:ENCRYPT"));
    assert!(allowed("kms:Encrypt*", "kms:Encrypt"));
    assert!(allowed("kms:encrypt*", "kms:EncryptSomething"));
    assert!(!allowed("kms:Encrypt*", "kms:ReEncryptFrom"));
    assert!(allowed("kms:*Encrypt*", "kms:ReEncryptFrom"));
    assert!(allowed("kms:?ecrypt", "kms:Decrypt"));
    assert!(!allowed("kms:?ecrypt", "kms:Encrypt"));
    assert!(allowed(
        "kms:Generate*Pair*",
        "kms:GenerateDataKeyPairWithoutPlaintext"
    ));

    let p = identity(
        json!({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}),
    );
    assert_eq!(
        eval_identity(&p, "kms:Decrypt", KEY, &EmptyContext),
        Outcome::Allow
    );
    assert_eq!(
        eval_identity(&p, "kms:Sign", KEY, &EmptyContext),
        Outcome::NotApplicable
    );
}

#[test]
fn not_action() {
    let p = identity(
        json!({"Effect": "Allow", "NotAction": ["kms:ScheduleKeyDeletion", "kms:Put*"], "Resource": "*"}),
    );
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", KEY, &EmptyContext),
        Outcome::Allow
    );
    assert_eq!(
        eval_identity(&p, "kms:ScheduleKeyDeletion", KEY, &EmptyContext),
        Outcome::NotApplicable
    );
    assert_eq!(
        eval_identity(&p, "kms:putkeypolicy", KEY, &EmptyContext),
        Outcome::NotApplicable
    );
    let deny = identity(json!([
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "kms:Decrypt", "Resource": "*"},
    ]));
    assert_eq!(
        eval_identity(&deny, "kms:Decrypt", KEY, &EmptyContext),
        Outcome::Allow
    );
    assert_eq!(
        eval_identity(&deny, "kms:Encrypt", KEY, &EmptyContext),
        Outcome::ExplicitDeny
    );
}

#[test]
fn resource_wildcards_and_not_resource() {
    let allowed = |resource: Value, arn: &str| {
        let p = identity(json!({"Effect": "Allow", "Action": "kms:*", "Resource": resource}));
        eval_identity(&p, "kms:Encrypt", arn, &EmptyContext) == Outcome::Allow
    };
    assert!(allowed(json!("*"), KEY));
    assert!(allowed(json!(KEY), KEY));
    assert!(allowed(json!("arn:aws:kms:*:111122223333:key/*"), KEY));
    assert!(allowed(
        json!("arn:aws:kms:us-east-?:111122223333:key/*"),
        KEY
    ));
    assert!(!allowed(json!("arn:aws:kms:*:444455556666:key/*"), KEY));
    assert!(!allowed(json!("arn:aws:kms:*:111122223333:alias/*"), KEY));
    assert!(
        !allowed(json!("arn:aws:KMS:*:111122223333:key/*"), KEY),
        "resources are case-sensitive"
    );
    assert!(!allowed(
        json!(KEY.replace("key/1234abcd", "key/1234ABCD")),
        KEY
    ));
    assert!(allowed(
        json!(["arn:aws:kms:*:1:key/x", "arn:aws:kms:*:*:key/1234*"]),
        KEY
    ));

    let p = identity(
        json!({"Effect": "Deny", "Action": "kms:*", "NotResource": "arn:aws:kms:*:111122223333:key/*"}),
    );
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", KEY, &EmptyContext),
        Outcome::NotApplicable
    );
    assert_eq!(
        eval_identity(
            &p,
            "kms:Encrypt",
            "arn:aws:kms:us-east-1:444455556666:key/x",
            &EmptyContext
        ),
        Outcome::ExplicitDeny
    );
}

#[test]
fn identity_deny_wins_regardless_of_order() {
    for statements in [
        json!([{"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}, {"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "kms:Encrypt", "Resource": "*"}]),
    ] {
        let p = identity(statements);
        assert_eq!(
            eval_identity(&p, "kms:Encrypt", KEY, &EmptyContext),
            Outcome::ExplicitDeny
        );
        assert_eq!(
            eval_identity(&p, "kms:Decrypt", KEY, &EmptyContext),
            Outcome::Allow
        );
    }
    let p = identity(json!({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}));
    assert_eq!(
        eval_identity(&p, "kms:Encrypt", KEY, &EmptyContext),
        Outcome::NotApplicable
    );
}

// ---------------------------------------------------------------- principals

const DEFAULT_KEY_POLICY: &str = r#"{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : { "AWS" : "arn:aws:iam::111122223333:root" },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"#;

#[test]
fn default_key_policy_delegates_to_the_account() {
    let p = Policy::parse(DEFAULT_KEY_POLICY, PolicyKind::Key).unwrap();
    assert_eq!(p.kind(), PolicyKind::Key);
    assert_eq!(p.version(), Some("2012-10-17"));
    assert_eq!(p.id(), Some("key-default-1"));
    assert_eq!(p.statement_count(), 1);
    for arn in [USER, SESSION, ROOT] {
        assert_eq!(
            eval_resource(&p, arn, ACCOUNT, "kms:Encrypt", &EmptyContext),
            ResourceOutcome::AllowAccount,
            "{arn}"
        );
    }
    let stranger = "arn:aws:iam::444455556666:user/mallory";
    assert_eq!(
        eval_resource(&p, stranger, OTHER, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
    assert_eq!(
        eval_resource(
            &p,
            "arn:aws:iam::444455556666:root",
            OTHER,
            "kms:Encrypt",
            &EmptyContext
        ),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn account_id_principal_is_the_account() {
    let p = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowAccount
    );
    assert_eq!(
        eval_resource(
            &p,
            "arn:aws:iam::444455556666:user/x",
            OTHER,
            "kms:Encrypt",
            &EmptyContext
        ),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn user_arn_principal_is_direct() {
    let p = key_policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": [USER]}, "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
    ]));
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Sign", &EmptyContext),
        ResourceOutcome::AllowAccount,
        "only the account statement applies to Sign"
    );
    let bob = "arn:aws:iam::111122223333:user/bob";
    assert_eq!(
        eval_resource(&p, bob, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowAccount
    );
    // A cross-account user named directly.
    let cross = "arn:aws:iam::444455556666:user/carol";
    let p = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": cross}, "Action": "kms:Decrypt", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, cross, OTHER, "kms:Decrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Decrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn assumed_role_sessions_match_their_role() {
    for role in [ROLE, "arn:aws:iam::111122223333:role/some/path/Admin"] {
        let p = key_policy(
            json!({"Effect": "Allow", "Principal": {"AWS": role}, "Action": "kms:*", "Resource": "*"}),
        );
        assert_eq!(
            eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
            ResourceOutcome::AllowPrincipal
        );
        // Another role, another account's role of the same name: no.
        let other_role = "arn:aws:sts::111122223333:assumed-role/Reader/s";
        assert_eq!(
            eval_resource(&p, other_role, ACCOUNT, "kms:Encrypt", &EmptyContext),
            ResourceOutcome::NotApplicable
        );
        let other_account = "arn:aws:sts::444455556666:assumed-role/Admin/s";
        assert_eq!(
            eval_resource(&p, other_account, OTHER, "kms:Encrypt", &EmptyContext),
            ResourceOutcome::NotApplicable
        );
    }
    // Naming the session ARN itself works too.
    let p = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": SESSION}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    let p = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/Admi"}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn wildcard_principals_are_direct() {
    for principal in [
        json!("*"),
        json!({"AWS": "*"}),
        json!({"AWS": ["arn:aws:iam::1:user/x", "*"]}),
    ] {
        let p = key_policy(
            json!({"Effect": "Allow", "Principal": principal, "Action": "kms:*", "Resource": "*"}),
        );
        for (arn, account) in [
            (USER, ACCOUNT),
            ("arn:aws:iam::444455556666:user/x", OTHER),
            (SESSION, ACCOUNT),
        ] {
            assert_eq!(
                eval_resource(&p, arn, account, "kms:Encrypt", &EmptyContext),
                ResourceOutcome::AllowPrincipal
            );
        }
    }
}

#[test]
fn direct_allow_beats_account_allow_and_deny_beats_both() {
    let allow_both = json!([
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"},
    ]);
    let p = key_policy(allow_both.clone());
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    // A Deny naming the account applies to every principal of the account.
    let mut with_deny = allow_both.as_array().unwrap().clone();
    with_deny.push(json!({"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "kms:Encrypt", "Resource": "*"}));
    let p = key_policy(Value::Array(with_deny));
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Decrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    // A Deny for another principal does not apply.
    let p = key_policy(json!([
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/bob"}, "Action": "*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"},
    ]));
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowAccount
    );
    // Conditions gate the key policy statements too.
    let p = key_policy(
        json!({"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": false}}}),
    );
    let insecure = Ctx::new(&[("aws:securetransport", &["false"])]);
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &insecure),
        ResourceOutcome::ExplicitDeny
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn not_principal() {
    // Deny everyone except the principal and its account, as AWS documents it.
    let p = key_policy(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [USER, ROOT]}, "Action": "kms:*", "Resource": "*"},
    ]));
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    assert_eq!(
        eval_resource(&p, ROOT, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    let bob = "arn:aws:iam::111122223333:user/bob";
    assert_eq!(
        eval_resource(&p, bob, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    // Without the account, the user is not excluded (AWS evaluates the account too).
    let p = key_policy(
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": USER}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    // A session is excluded when its session ARN, role and account are all listed.
    let p = key_policy(
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": [SESSION, ROLE, ACCOUNT]}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
    let p = key_policy(
        json!({"Effect": "Deny", "NotPrincipal": {"AWS": [ROLE, ACCOUNT]}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, SESSION, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::ExplicitDeny
    );
    // NotPrincipal with Allow: everyone but the listed principals.
    let p = key_policy(
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": [USER, ROOT]}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
    assert_eq!(
        eval_resource(&p, bob, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::AllowPrincipal
    );
    // NotPrincipal "*" excludes everyone.
    let p = key_policy(
        json!({"Effect": "Deny", "NotPrincipal": "*", "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, bob, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn service_principals_never_match_callers() {
    let p = key_policy(
        json!({"Effect": "Allow", "Principal": {"Service": ["logs.amazonaws.com"]}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
}

#[test]
fn trust_policy_without_resource() {
    let p = parse(
        json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}}),
        PolicyKind::Trust,
    );
    let principal = Principal {
        arn: USER,
        account: ACCOUNT,
    };
    let req = Request {
        action: "sts:AssumeRole",
        resource: ROLE,
        principal: &principal,
        context: &EmptyContext,
    };
    assert_eq!(p.evaluate_resource(&req), ResourceOutcome::AllowPrincipal);
    let req = Request {
        action: "sts:TagSession",
        ..req
    };
    assert_eq!(p.evaluate_resource(&req), ResourceOutcome::NotApplicable);
}

#[test]
fn identity_policies_ignore_principals_and_resource_evaluation_needs_them() {
    let p = identity(json!({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}));
    assert_eq!(
        eval_resource(&p, USER, ACCOUNT, "kms:Encrypt", &EmptyContext),
        ResourceOutcome::NotApplicable
    );
    let k = key_policy(
        json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:user/x"}, "Action": "kms:*", "Resource": "*"}),
    );
    assert_eq!(
        eval_identity(&k, "kms:Encrypt", KEY, &EmptyContext),
        Outcome::Allow
    );
}

// ---------------------------------------------------------------- malformed documents

#[test]
fn malformed_documents() {
    use PolicyKind::*;
    let st = |extra: &str| format!(r#"{{"Version":"2012-10-17","Statement":{{{extra}}}}}"#);
    let ok_key = r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#;
    assert!(Policy::parse(&st(ok_key), Key).is_ok());
    let cases: &[(String, PolicyKind, &str)] = &[
        ("not json".into(), Key, "not valid JSON"),
        ("[]".into(), Key, "must be a JSON object"),
        (r#"{"Version":"2012-10-17"}"#.into(), Key, "no Statement"),
        (r#"{"Statement":[]}"#.into(), Key, "must not be empty"),
        (r#"{"Statement":"x"}"#.into(), Key, "object or an array"),
        (
            r#"{"Statement":["x"]}"#.into(),
            Key,
            "Statement 0: a statement must be a JSON object",
        ),
        (
            r#"{"Version":"2020-01-01","Statement":{}}"#.into(),
            Key,
            "Version \"2020-01-01\"",
        ),
        (
            r#"{"Version":1,"Statement":{}}"#.into(),
            Key,
            "Version must be a string",
        ),
        (
            r#"{"Id":[],"Statement":{}}"#.into(),
            Key,
            "Id must be a string",
        ),
        (
            r#"{"Statment":{}}"#.into(),
            Key,
            "unknown element \"Statment\"",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1"#),
            Key,
            "unknown element \"Extra\"",
        ),
        (
            st(r#""Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*""#),
            Key,
            "Effect \"Permit\"",
        ),
        (
            st(r#""Effect":"allow","Principal":"*","Action":"kms:*","Resource":"*""#),
            Key,
            "Effect \"allow\"",
        ),
        (
            st(r#""Effect":true,"Principal":"*","Action":"kms:*","Resource":"*""#),
            Key,
            "Effect must be",
        ),
        (
            st(r#""Principal":"*","Action":"kms:*","Resource":"*""#),
            Key,
            "missing Effect",
        ),
        (
            st(r#""Effect":"Allow","Action":"kms:*","Resource":"*""#),
            Key,
            "missing Principal",
        ),
        (
            st(r#""Effect":"Allow","Action":"sts:AssumeRole""#),
            Trust,
            "missing Principal",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#),
            Identity,
            "should not specify a principal",
        ),
        (
            st(r#""Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"kms:*","Resource":"*""#),
            Identity,
            "should not specify a principal",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"kms:*","Resource":"*""#,
            ),
            Key,
            "cannot both",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"arn:aws:iam::1:root","Action":"kms:*","Resource":"*""#,
            ),
            Key,
            "Principal \"arn:aws:iam::1:root\" is invalid",
        ),
        (
            st(r#""Effect":"Allow","Principal":{},"Action":"kms:*","Resource":"*""#),
            Key,
            "empty object",
        ),
        (
            st(r#""Effect":"Allow","Principal":{"Aws":"*"},"Action":"kms:*","Resource":"*""#),
            Key,
            "unknown principal type \"Aws\"",
        ),
        (
            st(r#""Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*""#),
            Key,
            "invalid principal \"bob\"",
        ),
        (
            st(r#""Effect":"Allow","Principal":{"AWS":[]},"Action":"kms:*","Resource":"*""#),
            Key,
            "Principal.AWS must not be an empty array",
        ),
        (
            st(r#""Effect":"Allow","Principal":{"AWS":[1]},"Action":"kms:*","Resource":"*""#),
            Key,
            "Principal.AWS must contain only strings",
        ),
        (
            st(r#""Effect":"Allow","Principal":[],"Action":"kms:*","Resource":"*""#),
            Key,
            "Principal must be",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Resource":"*""#),
            Key,
            "missing Action",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Sign","Resource":"*""#,
            ),
            Key,
            "Action and NotAction",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":"encrypt","Resource":"*""#),
            Key,
            "Action \"encrypt\" is invalid",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":{"a":1},"Resource":"*""#),
            Key,
            "Action must be a string or an array",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":"kms:*""#),
            Key,
            "missing Resource",
        ),
        (
            st(r#""Effect":"Allow","Action":"kms:*""#),
            Identity,
            "missing Resource",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","NotResource":"*""#,
            ),
            Key,
            "Resource and NotResource",
        ),
        (
            st(r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"key/1""#),
            Key,
            "Resource \"key/1\" is invalid",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":[]"#,
            ),
            Key,
            "Condition must be an object",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"a:b":"c"}}"#,
            ),
            Key,
            "StringEqualz is not a known condition operator",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}"#,
            ),
            Key,
            "Null cannot be combined with IfExists",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":"x"}"#,
            ),
            Key,
            "must map condition keys",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{}}"#,
            ),
            Key,
            "no condition keys",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":{"x":1}}}"#,
            ),
            Key,
            "values must be strings",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":null}}"#,
            ),
            Key,
            "values must be strings",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"a:b":[]}}"#,
            ),
            Key,
            "must not be an empty array",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"NumericEquals":{"a:b":"ten"}}"#,
            ),
            Key,
            "\"ten\" is not a valid number",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"a:b":"tomorrow"}}"#,
            ),
            Key,
            "not a valid date",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Bool":{"a:b":"yes"}}"#,
            ),
            Key,
            "not a valid boolean",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"a:b":"10.0.0.0/33"}}"#,
            ),
            Key,
            "not a valid IP address",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"a:b":"300.0.0.1"}}"#,
            ),
            Key,
            "not a valid IP address",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"BinaryEquals":{"a:b":"!!"}}"#,
            ),
            Key,
            "not a valid base64",
        ),
        (
            st(
                r#""Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"":"x"}}"#,
            ),
            Key,
            "empty condition key",
        ),
        (
            st(r#""Sid":1,"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*""#),
            Key,
            "Sid must be a string",
        ),
    ];
    for (doc, kind, expected) in cases {
        let message = malformed(doc, *kind);
        assert!(
            message.contains(expected),
            "{doc}\n  gave {message:?}\n  wanted {expected:?}"
        );
    }
}

#[test]
fn malformed_messages_name_the_statement() {
    let doc = r#"{"Statement":[
        {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
        {"Sid":"Second","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"Foo":{"a:b":"c"}}}]}"#;
    let message = malformed(doc, PolicyKind::Key);
    assert!(
        message.starts_with("Statement 1 (Sid \"Second\"): "),
        "{message}"
    );
    let PolicyError::Malformed(m) = Policy::parse("{}", PolicyKind::Key).unwrap_err();
    assert_eq!(
        PolicyError::Malformed(m.clone()).to_string(),
        m,
        "Display is the message"
    );
}

#[test]
fn accepted_shapes() {
    // Statement as a single object, Version 2008, no Version, scalar and array values, all principal types.
    let doc = json!({"Version": "2008-10-17", "Id": "x", "Statement": {
        "Sid": "", "Effect": "Deny",
        "Principal": {"AWS": ["*", ACCOUNT, ROOT, USER], "Service": "kms.amazonaws.com", "Federated": ["cognito-identity.amazonaws.com"], "CanonicalUser": "abc"},
        "NotAction": ["kms:*"], "NotResource": ["arn:aws:kms:*:*:key/*"],
        "Condition": {"ForAnyValue:StringLikeIfExists": {"a:b": ["x", 1, true]}, "Null": {"c:d": false}}}});
    let p = parse(doc, PolicyKind::Key);
    assert_eq!(p.version(), Some("2008-10-17"));
    assert!(
        Policy::parse(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
            PolicyKind::Identity
        )
        .is_ok()
    );
    assert!(
        Policy::from_value(
            &json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}),
            PolicyKind::Identity
        )
        .is_ok()
    );
    // Every operator name parses, with and without prefixes and suffix.
    for base in [
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "ArnEquals",
        "ArnNotEquals",
        "ArnLike",
        "ArnNotLike",
    ] {
        for name in [
            base.to_string(),
            format!("{base}IfExists"),
            format!("ForAllValues:{base}"),
            format!("ForAnyValue:{base}IfExists"),
        ] {
            cond(json!({ name: {"a:b": "arn:aws:iam::1:root"} }), &[]);
        }
    }
    for (base, value) in [
        ("NumericEquals", "1"),
        ("NumericNotEquals", "1"),
        ("NumericLessThan", "1"),
        ("NumericLessThanEquals", "1"),
        ("NumericGreaterThan", "1"),
        ("NumericGreaterThanEquals", "1"),
        ("DateEquals", "2020-01-01"),
        ("DateNotEquals", "2020-01-01"),
        ("DateLessThan", "2020-01-01"),
        ("DateLessThanEquals", "2020-01-01"),
        ("DateGreaterThan", "2020-01-01"),
        ("DateGreaterThanEquals", "2020-01-01"),
        ("Bool", "true"),
        ("BinaryEquals", "AA=="),
        ("IpAddress", "10.0.0.0/8"),
        ("NotIpAddress", "::1"),
    ] {
        for name in [
            base.to_string(),
            format!("{base}IfExists"),
            format!("ForAnyValue:{base}"),
        ] {
            cond(json!({ name: {"a:b": value} }), &[]);
        }
    }
    cond(json!({"ForAllValues:Null": {"a:b": "true"}}), &[]);
}

#[test]
fn values_helpers() {
    let one = Values::One("a");
    assert_eq!(one.len(), 1);
    assert_eq!(one.single(), Some("a"));
    assert_eq!(one.iter().collect::<Vec<_>>(), ["a"]);
    let many = Values::Many(vec!["x".into(), String::from("y").into()]);
    assert_eq!(many.len(), 2);
    assert_eq!(many.single(), None);
    assert_eq!((&many).into_iter().collect::<Vec<_>>(), ["x", "y"]);
    assert!(Values::Many(vec![]).is_empty());
    assert_eq!(Values::from("z"), Values::One("z"));
}

#[test]
fn policies_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<Policy>();
    check::<PolicyError>();
}

// ---------------------------------------------------------------- property tests

mod props {
    use super::*;
    use proptest::prelude::*;

    const ACTIONS: &[&str] = &[
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:PutKeyPolicy",
        "iam:GetUser",
    ];
    const KEYS: &[&str] = &[
        "arn:aws:kms:us-east-1:111122223333:key/k1",
        "arn:aws:kms:us-east-1:111122223333:key/k2",
        "arn:aws:kms:eu-west-1:444455556666:key/k3",
    ];
    const CALLERS: &[(&str, &str)] = &[
        ("arn:aws:iam::111122223333:user/alice", ACCOUNT),
        ("arn:aws:sts::111122223333:assumed-role/Admin/s1", ACCOUNT),
        ("arn:aws:iam::111122223333:root", ACCOUNT),
        ("arn:aws:iam::444455556666:user/mallory", OTHER),
    ];

    fn action_pattern() -> impl Strategy<Value = Value> {
        prop::collection::vec(
            prop::sample::select(vec![
                "*",
                "kms:*",
                "kms:Encrypt",
                "kms:*crypt",
                "kms:Gen*",
                "KMS:DECRYPT",
                "iam:*",
                "kms:?ecrypt",
            ]),
            1..3,
        )
        .prop_map(|v| json!(v))
    }

    fn resource_pattern() -> impl Strategy<Value = Value> {
        prop::collection::vec(
            prop::sample::select(vec![
                "*",
                "arn:aws:kms:*:111122223333:key/*",
                "arn:aws:kms:us-east-1:111122223333:key/k1",
                "arn:aws:kms:eu-*:*:key/*",
                "arn:aws:kms:*:*:key/k?",
            ]),
            1..3,
        )
        .prop_map(|v| json!(v))
    }

    fn principal() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(json!("*")),
            Just(json!({"AWS": "111122223333"})),
            Just(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            Just(json!({"AWS": "arn:aws:iam::111122223333:user/alice"})),
            Just(json!({"AWS": "arn:aws:iam::111122223333:role/Admin"})),
            Just(
                json!({"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::111122223333:user/bob"]})
            ),
            Just(json!({"Service": "logs.amazonaws.com"})),
        ]
    }

    fn condition() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(json!({"StringEquals": {"kms:EncryptionContext:purpose": "test"}}))),
            1 => Just(Some(json!({"StringNotEquals": {"kms:EncryptionContext:purpose": "prod"}}))),
            1 => Just(Some(json!({"ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["p*", "t*"]}}))),
            1 => Just(Some(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))),
            1 => Just(Some(json!({"NumericLessThan": {"test:n": 5}}))),
            1 => Just(Some(json!({"Null": {"aws:username": "false"}}))),
        ]
    }

    fn statement(effect: &'static str, with_principal: bool) -> impl Strategy<Value = Value> {
        (
            action_pattern(),
            resource_pattern(),
            principal(),
            condition(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                move |(action, resource, principal, condition, not_action, not_resource)| {
                    let mut st = serde_json::Map::new();
                    st.insert("Effect".into(), json!(effect));
                    st.insert(
                        if not_action { "NotAction" } else { "Action" }.into(),
                        action,
                    );
                    st.insert(
                        if not_resource {
                            "NotResource"
                        } else {
                            "Resource"
                        }
                        .into(),
                        resource,
                    );
                    if with_principal {
                        st.insert("Principal".into(), principal);
                    }
                    if let Some(c) = condition {
                        st.insert("Condition".into(), c);
                    }
                    Value::Object(st)
                },
            )
    }

    fn context() -> impl Strategy<Value = Ctx> {
        (
            prop::option::of(prop::sample::select(vec!["test", "prod", "other"])),
            prop::option::of(prop::sample::select(vec![
                "10.1.2.3",
                "192.168.0.1",
                "2001:db8::1",
            ])),
            prop::option::of(0u8..10),
            prop::sample::subsequence(vec!["purpose", "team", "owner"], 0..3),
            any::<bool>(),
        )
            .prop_map(|(purpose, ip, n, keys, named)| {
                let mut ctx = Ctx::default();
                if let Some(p) = purpose {
                    ctx.0
                        .push(("kms:encryptioncontext:purpose".into(), vec![p.into()]));
                }
                if let Some(ip) = ip {
                    ctx.0.push(("aws:sourceip".into(), vec![ip.into()]));
                }
                if let Some(n) = n {
                    ctx.0.push(("test:n".into(), vec![n.to_string()]));
                }
                ctx.0.push((
                    "kms:encryptioncontextkeys".into(),
                    keys.into_iter().map(String::from).collect(),
                ));
                if named {
                    ctx.0.push(("aws:username".into(), vec!["alice".into()]));
                }
                ctx
            })
    }

    fn request_parts()
    -> impl Strategy<Value = (&'static str, &'static str, (&'static str, &'static str))> {
        (
            prop::sample::select(ACTIONS.to_vec()),
            prop::sample::select(KEYS.to_vec()),
            prop::sample::select(CALLERS.to_vec()),
        )
    }

    fn doc(statements: Vec<Value>) -> String {
        json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    }

    /// A statement that certainly applies to the request.
    fn matching_deny(action: &str, resource: &str, caller: &str, with_principal: bool) -> Value {
        let mut st =
            json!({"Effect": "Deny", "Action": action.to_uppercase(), "Resource": resource});
        if with_principal {
            st["Principal"] = json!({"AWS": caller});
        }
        st
    }

    /// Arbitrary JSON, biased towards policy element names.
    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            any::<i64>().prop_map(|i| json!(i)),
            prop::sample::select(vec![
                "*",
                "Allow",
                "Deny",
                "kms:*",
                "arn:aws:iam::111122223333:root",
                "111122223333",
                "2012-10-17",
                "${aws:username}",
                "${",
                "10.0.0.0/8",
                "::/0",
                "2020-01-01",
                "true",
                "",
                "a*?b",
                "arn:",
                ":::::",
            ])
            .prop_map(|s| json!(s)),
            ".{0,12}".prop_map(Value::String),
        ];
        let key = prop_oneof![
            prop::sample::select(vec![
                "Version",
                "Id",
                "Statement",
                "Sid",
                "Effect",
                "Principal",
                "NotPrincipal",
                "Action",
                "NotAction",
                "Resource",
                "NotResource",
                "Condition",
                "AWS",
                "Service",
                "StringEquals",
                "ForAllValues:StringLike",
                "NumericLessThanIfExists",
                "IpAddress",
                "DateGreaterThan",
                "Null",
                "Bool",
                "ArnLike",
                "BinaryEquals",
                "kms:EncryptionContext:x",
            ])
            .prop_map(String::from),
            "[a-zA-Z:]{0,8}",
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn explicit_deny_always_wins_identity(
            allows in prop::collection::vec(statement("Allow", false), 0..6),
            position in 0usize..7,
            (action, resource, (caller, account)) in request_parts(),
            ctx in context(),
        ) {
            let mut statements = allows;
            let at = position.min(statements.len());
            statements.insert(at, matching_deny(action, resource, caller, false));
            let policy = Policy::parse(&doc(statements), PolicyKind::Identity).unwrap();
            let principal = Principal { arn: caller, account };
            let req = Request { action, resource, principal: &principal, context: &ctx };
            prop_assert_eq!(policy.evaluate_identity(&req), Outcome::ExplicitDeny);
        }

        #[test]
        fn explicit_deny_always_wins_resource(
            allows in prop::collection::vec(statement("Allow", true), 0..6),
            position in 0usize..7,
            via_account in any::<bool>(),
            (action, resource, (caller, account)) in request_parts(),
            ctx in context(),
        ) {
            let mut statements = allows;
            let at = position.min(statements.len());
            let named = if via_account { account } else { caller };
            statements.insert(at, matching_deny(action, resource, named, true));
            let policy = Policy::parse(&doc(statements), PolicyKind::Key).unwrap();
            let principal = Principal { arn: caller, account };
            let req = Request { action, resource, principal: &principal, context: &ctx };
            prop_assert_eq!(policy.evaluate_resource(&req), ResourceOutcome::ExplicitDeny);
        }

        #[test]
        fn adding_an_allow_never_removes_an_allow_identity(
            statements in prop::collection::vec(prop_oneof![3 => statement("Allow", false), 1 => statement("Deny", false)], 1..6),
            extra in statement("Allow", false),
            (action, resource, (caller, account)) in request_parts(),
            ctx in context(),
        ) {
            let principal = Principal { arn: caller, account };
            let req = Request { action, resource, principal: &principal, context: &ctx };
            let before = Policy::parse(&doc(statements.clone()), PolicyKind::Identity).unwrap().evaluate_identity(&req);
            let mut more = statements;
            more.push(extra);
            let after = Policy::parse(&doc(more), PolicyKind::Identity).unwrap().evaluate_identity(&req);
            if before == Outcome::Allow {
                prop_assert_eq!(after, Outcome::Allow);
            }
            if before == Outcome::ExplicitDeny {
                prop_assert_eq!(after, Outcome::ExplicitDeny);
            }
        }

        #[test]
        fn adding_an_allow_never_removes_an_allow_resource(
            statements in prop::collection::vec(prop_oneof![3 => statement("Allow", true), 1 => statement("Deny", true)], 1..6),
            extra in statement("Allow", true),
            (action, resource, (caller, account)) in request_parts(),
            ctx in context(),
        ) {
            let principal = Principal { arn: caller, account };
            let req = Request { action, resource, principal: &principal, context: &ctx };
            let before = Policy::parse(&doc(statements.clone()), PolicyKind::Key).unwrap().evaluate_resource(&req);
            let mut more = statements;
            more.push(extra);
            let after = Policy::parse(&doc(more), PolicyKind::Key).unwrap().evaluate_resource(&req);
            match before {
                ResourceOutcome::AllowPrincipal => prop_assert_eq!(after, ResourceOutcome::AllowPrincipal),
                ResourceOutcome::AllowAccount => prop_assert!(matches!(after, ResourceOutcome::AllowAccount | ResourceOutcome::AllowPrincipal)),
                ResourceOutcome::ExplicitDeny => prop_assert_eq!(after, ResourceOutcome::ExplicitDeny),
                ResourceOutcome::NotApplicable => {}
            }
        }

        #[test]
        fn parse_never_panics(value in arbitrary_json(), (action, resource, (caller, account)) in request_parts(), ctx in context()) {
            let text = value.to_string();
            for kind in [PolicyKind::Key, PolicyKind::Identity, PolicyKind::Trust] {
                if let Ok(policy) = Policy::parse(&text, kind) {
                    // Whatever parses also evaluates without panicking.
                    let principal = Principal { arn: caller, account };
                    let req = Request { action, resource, principal: &principal, context: &ctx };
                    let _ = policy.evaluate_identity(&req);
                    let _ = policy.evaluate_resource(&req);
                }
            }
        }

        #[test]
        fn parse_never_panics_on_arbitrary_text(text in ".{0,200}") {
            let _ = Policy::parse(&text, PolicyKind::Key);
        }

        #[test]
        fn glob_agrees_with_a_reference_matcher(pattern in "[ab*?]{0,12}", input in "[abé]{0,16}") {
            use crate::pattern::{Pattern, Syntax};
            let compiled = Pattern::compile(&pattern, Syntax { wildcards: true, variables: false });
            prop_assert_eq!(compiled.matches(&input, false, &EmptyContext), reference_glob(pattern.as_bytes(), input.as_bytes()));
        }
    }

    /// Exponential but obviously correct wildcard matching (by character).
    fn reference_glob(p: &[u8], s: &[u8]) -> bool {
        let p: Vec<char> = String::from_utf8_lossy(p).chars().collect();
        let s: Vec<char> = String::from_utf8_lossy(s).chars().collect();
        fn go(p: &[char], s: &[char]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some(('*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
                Some(('?', rest)) => !s.is_empty() && go(rest, &s[1..]),
                Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
            }
        }
        go(&p, &s)
    }
}

/// Fuzzing found `StringLike` quadratic (each request seconds of CPU): a
/// policy variable put a 30,000-character request value into the pattern,
/// matched against another. Matching is linear in both lengths now.
#[test]
fn a_request_value_in_a_wildcard_pattern_costs_linear_time() {
    let policy = key_policy(json!({
        "Effect": "Allow", "Principal": "*", "Action": "kms:Encrypt", "Resource": "*",
        "Condition": {"StringLike": {"kms:EncryptionContext:a": "*${kms:EncryptionContext:b}b*${kms:EncryptionContext:b}c"}}
    }));
    // The value ends as the last segment does, so the middle one is
    // searched for: a run of `a`s and a `b` that is nowhere.
    let b = "a".repeat(250_000);
    let a = format!("{}c", "a".repeat(500_000));
    let ctx = Ctx::new(&[
        ("kms:encryptioncontext:a", &[a.as_str()]),
        ("kms:encryptioncontext:b", &[b.as_str()]),
    ]);
    let started = std::time::Instant::now();
    assert_eq!(
        eval_resource(&policy, USER, ACCOUNT, "kms:Encrypt", &ctx),
        ResourceOutcome::NotApplicable
    );
    // Quadratic would be ~10^11 steps; linear is a few milliseconds.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
