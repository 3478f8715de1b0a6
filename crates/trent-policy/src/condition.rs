//! The `Condition` element: operators compiled with their typed values.

use crate::ConditionContext;
use crate::pattern::{ArnPattern, Pattern, Syntax};
use crate::time::parse_date;
use base64::Engine as _;
use std::net::IpAddr;

/// A set prefix for multivalued keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    /// No prefix: a positive operator needs one request value to match; a
    /// negated one needs every request value not to match.
    Plain,
    /// `ForAllValues:` every request value must match (true if there is none).
    ForAll,
    /// `ForAnyValue:` some request value must match (false if there is none).
    ForAny,
}

/// A numeric or date comparison, request value on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Cmp::Eq => request == policy,
            Cmp::Lt => request < policy,
            Cmp::Le => request <= policy,
            Cmp::Gt => request > policy,
            Cmp::Ge => request >= policy,
        }
    }
}

/// An operator family with its compiled policy values (any one matching is
/// enough: the values of a key are OR-ed).
#[derive(Debug, Clone)]
pub(crate) enum Test {
    /// `StringEquals` / `StringEqualsIgnoreCase` (values may hold variables).
    Str {
        ci: bool,
        values: Box<[Pattern]>,
    },
    /// `StringLike`: `*` and `?` wildcards, case-sensitive.
    Like(Box<[Pattern]>),
    Num {
        cmp: Cmp,
        values: Box<[f64]>,
    },
    /// Nanoseconds since the epoch.
    Date {
        cmp: Cmp,
        values: Box<[i128]>,
    },
    Bool(Box<[bool]>),
    Binary(Box<[Box<[u8]>]>),
    Ip(Box<[Cidr]>),
    /// `ArnEquals` / `ArnLike` (identical in AWS: per-part wildcards).
    Arn(Box<[ArnPattern]>),
    /// `Null`: `true` = the key must be absent, `false` = present.
    Null(Box<[bool]>),
}

/// One key of one operator: `"StringEquals": {"kms:CallerAccount": [...]}`.
#[derive(Debug, Clone)]
pub(crate) struct Condition {
    /// Lowercased condition key.
    pub key: Box<str>,
    pub test: Test,
    /// `...Not...` operators: a request value matches when no policy value does.
    pub negated: bool,
    pub set: SetOp,
    /// `...IfExists`: true when the key is absent.
    pub if_exists: bool,
}

impl Condition {
    pub(crate) fn eval(&self, ctx: &dyn ConditionContext) -> bool {
        let got = ctx.get(&self.key).filter(|v| !v.is_empty());
        if let Test::Null(expected) = &self.test {
            let absent = got.is_none();
            return expected.contains(&absent);
        }
        let Some(values) = got else {
            return self.if_exists
                || match self.set {
                    SetOp::ForAll => true,
                    SetOp::ForAny => false,
                    SetOp::Plain => self.negated,
                };
        };
        match self.set {
            SetOp::ForAll => values.iter().all(|v| self.one(v, ctx)),
            SetOp::ForAny => values.iter().any(|v| self.one(v, ctx)),
            SetOp::Plain if self.negated => values.iter().all(|v| self.one(v, ctx)),
            SetOp::Plain => values.iter().any(|v| self.one(v, ctx)),
        }
    }

    /// Whether one request value satisfies the operator.
    fn one(&self, value: &str, ctx: &dyn ConditionContext) -> bool {
        self.test.any_policy_value_matches(value, ctx) != self.negated
    }
}

impl Test {
    fn any_policy_value_matches(&self, value: &str, ctx: &dyn ConditionContext) -> bool {
        match self {
            Test::Str { ci, values } => values.iter().any(|p| p.matches(value, *ci, ctx)),
            Test::Like(values) => values.iter().any(|p| p.matches(value, false, ctx)),
            Test::Num { cmp, values } => {
                parse_number(value).is_some_and(|n| values.iter().any(|&v| cmp.holds(n, v)))
            }
            Test::Date { cmp, values } => {
                parse_date(value).is_some_and(|d| values.iter().any(|&v| cmp.holds(d, v)))
            }
            Test::Bool(values) => parse_bool(value).is_some_and(|b| values.contains(&b)),
            Test::Binary(values) => {
                decode_base64(value).is_some_and(|bytes| values.iter().any(|v| **v == *bytes))
            }
            Test::Ip(values) => {
                parse_ip(value).is_some_and(|ip| values.iter().any(|c| c.contains(ip)))
            }
            Test::Arn(values) => values.iter().any(|p| p.matches(value, ctx)),
            Test::Null(_) => false,
        }
    }
}

/// An operator name, parsed.
struct Operator {
    family: Family,
    negated: bool,
    set: SetOp,
    if_exists: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    StrEquals { ci: bool },
    StrLike,
    Num(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

/// Base operator names (lowercase) with their family and negation.
const OPERATORS: &[(&str, Family, bool)] = &[
    ("stringequals", Family::StrEquals { ci: false }, false),
    ("stringnotequals", Family::StrEquals { ci: false }, true),
    (
        "stringequalsignorecase",
        Family::StrEquals { ci: true },
        false,
    ),
    (
        "stringnotequalsignorecase",
        Family::StrEquals { ci: true },
        true,
    ),
    ("stringlike", Family::StrLike, false),
    ("stringnotlike", Family::StrLike, true),
    ("numericequals", Family::Num(Cmp::Eq), false),
    ("numericnotequals", Family::Num(Cmp::Eq), true),
    ("numericlessthan", Family::Num(Cmp::Lt), false),
    ("numericlessthanequals", Family::Num(Cmp::Le), false),
    ("numericgreaterthan", Family::Num(Cmp::Gt), false),
    ("numericgreaterthanequals", Family::Num(Cmp::Ge), false),
    ("dateequals", Family::Date(Cmp::Eq), false),
    ("datenotequals", Family::Date(Cmp::Eq), true),
    ("datelessthan", Family::Date(Cmp::Lt), false),
    ("datelessthanequals", Family::Date(Cmp::Le), false),
    ("dategreaterthan", Family::Date(Cmp::Gt), false),
    ("dategreaterthanequals", Family::Date(Cmp::Ge), false),
    ("bool", Family::Bool, false),
    ("binaryequals", Family::Binary, false),
    ("ipaddress", Family::Ip, false),
    ("notipaddress", Family::Ip, true),
    ("arnequals", Family::Arn, false),
    ("arnnotequals", Family::Arn, true),
    ("arnlike", Family::Arn, false),
    ("arnnotlike", Family::Arn, true),
    ("null", Family::Null, false),
];

fn parse_operator(name: &str) -> Result<Operator, String> {
    let lower = name.to_ascii_lowercase();
    let (set, rest) = if let Some(rest) = lower.strip_prefix("forallvalues:") {
        (SetOp::ForAll, rest)
    } else if let Some(rest) = lower.strip_prefix("foranyvalue:") {
        (SetOp::ForAny, rest)
    } else {
        (SetOp::Plain, lower.as_str())
    };
    let lookup = |base: &str| {
        OPERATORS
            .iter()
            .find(|(n, ..)| *n == base)
            .map(|&(_, family, negated)| (family, negated))
    };
    let (family, negated, if_exists) = match lookup(rest) {
        Some((family, negated)) => (family, negated, false),
        None => match rest.strip_suffix("ifexists").and_then(lookup) {
            Some((Family::Null, _)) => {
                return Err(format!(
                    "Condition operator {name} is invalid: Null cannot be combined with IfExists"
                ));
            }
            Some((family, negated)) => (family, negated, true),
            None => {
                return Err(format!(
                    "Condition operator {name} is not a known condition operator"
                ));
            }
        },
    };
    Ok(Operator {
        family,
        negated,
        set,
        if_exists,
    })
}

/// Compiles one `operator: {key: values}` entry. `values` are the policy's
/// scalars as strings; `variables` enables policy variables in string and
/// ARN values.
pub(crate) fn compile(
    operator: &str,
    key: &str,
    values: Vec<String>,
    variables: bool,
) -> Result<Condition, String> {
    let op = parse_operator(operator)?;
    if key.is_empty() {
        return Err(format!(
            "Condition operator {operator} has an empty condition key"
        ));
    }
    if values.is_empty() {
        return Err(format!("Condition {operator} for key {key} has no values"));
    }
    let bad = |what: &str, v: &str| {
        format!("Condition {operator} for key {key}: {v:?} is not a valid {what}")
    };
    let eq_syntax = Syntax {
        wildcards: false,
        variables,
    };
    let like_syntax = Syntax {
        wildcards: true,
        variables,
    };
    let test = match op.family {
        Family::StrEquals { ci } => Test::Str {
            ci,
            values: values
                .iter()
                .map(|v| Pattern::compile(v, eq_syntax))
                .collect(),
        },
        Family::StrLike => Test::Like(
            values
                .iter()
                .map(|v| Pattern::compile(v, like_syntax))
                .collect(),
        ),
        Family::Num(cmp) => Test::Num {
            cmp,
            values: values
                .iter()
                .map(|v| parse_number(v).ok_or_else(|| bad("number", v)))
                .collect::<Result<_, _>>()?,
        },
        Family::Date(cmp) => Test::Date {
            cmp,
            values: values
                .iter()
                .map(|v| parse_date(v).ok_or_else(|| bad("date (ISO 8601 or epoch seconds)", v)))
                .collect::<Result<_, _>>()?,
        },
        Family::Bool => Test::Bool(
            values
                .iter()
                .map(|v| parse_bool(v).ok_or_else(|| bad("boolean", v)))
                .collect::<Result<_, _>>()?,
        ),
        Family::Null => Test::Null(
            values
                .iter()
                .map(|v| parse_bool(v).ok_or_else(|| bad("boolean", v)))
                .collect::<Result<_, _>>()?,
        ),
        Family::Binary => Test::Binary(
            values
                .iter()
                .map(|v| {
                    decode_base64(v)
                        .map(Vec::into_boxed_slice)
                        .ok_or_else(|| bad("base64 value", v))
                })
                .collect::<Result<_, _>>()?,
        ),
        Family::Ip => Test::Ip(
            values
                .iter()
                .map(|v| Cidr::parse(v).ok_or_else(|| bad("IP address or CIDR block", v)))
                .collect::<Result<_, _>>()?,
        ),
        Family::Arn => Test::Arn(
            values
                .iter()
                .map(|v| ArnPattern::compile(v, variables))
                .collect(),
        ),
    };
    Ok(Condition {
        key: key.to_ascii_lowercase().into(),
        test,
        negated: op.negated,
        set: op.set,
        if_exists: op.if_exists,
    })
}

fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(s.trim()).ok()
}

/// An IP address of the request: IPv4-mapped IPv6 addresses count as IPv4.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let ip: IpAddr = s.trim().parse().ok()?;
    Some(canonical(ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A CIDR block (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => {
                if prefix.is_empty()
                    || prefix.len() > 3
                    || !prefix.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                (addr, Some(prefix.parse::<u8>().ok()?))
            }
            None => (s, None),
        };
        let mut network: IpAddr = addr.parse().ok()?;
        let mut prefix = prefix.unwrap_or(if network.is_ipv4() { 32 } else { 128 });
        if let IpAddr::V6(v6) = network
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            network = IpAddr::V4(v4);
            prefix -= 96;
        }
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then(|| Cidr {
            network: mask(network, prefix),
            prefix,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}
