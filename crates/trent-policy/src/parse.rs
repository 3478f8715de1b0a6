//! JSON policy documents into compiled [`Policy`] values.

use crate::condition::{self, Condition};
use crate::eval::{Effect, Matcher, PrincipalSpec, Statement, is_account_id, root_account};
use crate::pattern::{Pattern, Syntax};
use crate::{Policy, PolicyError, PolicyKind};
use serde_json::{Map, Value};

const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

impl Policy {
    /// Parses and compiles a policy document of the given kind.
    ///
    /// Top level: `Version` (`2012-10-17` or `2008-10-17`, optional; policy
    /// variables need `2012-10-17`), `Id`, `Statement` (an object or a
    /// non-empty array). A statement: `Sid`, `Effect` (`Allow` | `Deny`),
    /// `Principal` / `NotPrincipal` (required for key and trust policies,
    /// refused in identity policies), exactly one of `Action` / `NotAction`,
    /// exactly one of `Resource` / `NotResource` (optional in trust
    /// policies), `Condition`.
    ///
    /// Condition operators (names case-insensitive, each also with
    /// `ForAllValues:` / `ForAnyValue:` and, except `Null`, `IfExists`):
    /// `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`,
    /// `StringNotEqualsIgnoreCase`, `StringLike`, `StringNotLike`,
    /// `NumericEquals`, `NumericNotEquals`, `NumericLessThan`,
    /// `NumericLessThanEquals`, `NumericGreaterThan`,
    /// `NumericGreaterThanEquals`, `DateEquals`, `DateNotEquals`,
    /// `DateLessThan`, `DateLessThanEquals`, `DateGreaterThan`,
    /// `DateGreaterThanEquals`, `Bool`, `BinaryEquals`, `IpAddress`,
    /// `NotIpAddress`, `ArnEquals`, `ArnNotEquals`, `ArnLike`, `ArnNotLike`,
    /// `Null`.
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        let value: Value = serde_json::from_str(json).map_err(|e| {
            PolicyError::Malformed(format!("Policy document is not valid JSON: {e}"))
        })?;
        Policy::from_value(&value, kind)
    }

    /// Compiles an already-parsed JSON policy document of the given kind.
    pub fn from_value(value: &Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        compile_policy(value, kind).map_err(PolicyError::Malformed)
    }
}

fn compile_policy(value: &Value, kind: PolicyKind) -> Result<Policy, String> {
    let Value::Object(top) = value else {
        return Err("Policy document must be a JSON object".into());
    };
    let mut version = None;
    let mut id = None;
    let mut statement = None;
    for (name, v) in top {
        match name.as_str() {
            "Version" => {
                let s = v
                    .as_str()
                    .ok_or("Policy element Version must be a string")?;
                if s != VERSION_2012 && s != VERSION_2008 {
                    return Err(format!(
                        "Policy element Version {s:?} is not supported: use \"{VERSION_2012}\" or \"{VERSION_2008}\""
                    ));
                }
                version = Some(s);
            }
            "Id" => id = Some(v.as_str().ok_or("Policy element Id must be a string")?),
            "Statement" => statement = Some(v),
            other => return Err(format!("Policy document has an unknown element {other:?}")),
        }
    }
    let variables = version == Some(VERSION_2012);
    let statements: Vec<&Value> = match statement {
        None => return Err("Policy document has no Statement element".into()),
        Some(Value::Array(items)) if items.is_empty() => {
            return Err("Policy element Statement must not be empty".into());
        }
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        Some(_) => {
            return Err("Policy element Statement must be an object or an array of objects".into());
        }
    };
    let statements = statements
        .into_iter()
        .enumerate()
        .map(|(i, st)| {
            compile_statement(st, kind, variables)
                .map_err(|e| format!("{}: {e}", statement_label(i, st)))
        })
        .collect::<Result<Box<[_]>, _>>()?;
    Ok(Policy {
        kind,
        version: version.map(Into::into),
        id: id.map(Into::into),
        statements,
    })
}

fn statement_label(index: usize, st: &Value) -> String {
    match st.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("Statement {index} (Sid {sid:?})"),
        None => format!("Statement {index}"),
    }
}

fn compile_statement(
    value: &Value,
    kind: PolicyKind,
    variables: bool,
) -> Result<Statement, String> {
    let Value::Object(st) = value else {
        return Err("a statement must be a JSON object".into());
    };
    let mut sid = None;
    let mut effect = None;
    let (mut principal, mut not_principal) = (None, None);
    let (mut action, mut not_action) = (None, None);
    let (mut resource, mut not_resource) = (None, None);
    let mut condition = None;
    for (name, v) in st {
        match name.as_str() {
            "Sid" => sid = Some(v.as_str().ok_or("Sid must be a string")?),
            "Effect" => effect = Some(v),
            "Principal" => principal = Some(v),
            "NotPrincipal" => not_principal = Some(v),
            "Action" => action = Some(v),
            "NotAction" => not_action = Some(v),
            "Resource" => resource = Some(v),
            "NotResource" => not_resource = Some(v),
            "Condition" => condition = Some(v),
            other => return Err(format!("unknown element {other:?}")),
        }
    }

    let effect = match effect {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(Value::String(s)) => {
            return Err(format!(
                "Effect {s:?} is invalid: use \"Allow\" or \"Deny\""
            ));
        }
        Some(_) => return Err("Effect must be the string \"Allow\" or \"Deny\"".into()),
        None => return Err("missing Effect".into()),
    };

    let principal = match (principal, not_principal, kind) {
        (Some(_), Some(_), _) => {
            return Err("Principal and NotPrincipal cannot both be present".into());
        }
        (Some(_), None, PolicyKind::Identity) | (None, Some(_), PolicyKind::Identity) => {
            return Err("Policy document should not specify a principal (identity policies cannot have Principal or NotPrincipal)".into());
        }
        (None, None, PolicyKind::Identity) => None,
        (None, None, _) => {
            return Err("missing Principal or NotPrincipal: every statement of a resource-based policy needs one".into());
        }
        (Some(v), None, _) => Some(compile_principal(v, false, "Principal")?),
        (None, Some(v), _) => Some(compile_principal(v, true, "NotPrincipal")?),
    };

    let actions = match (action, not_action) {
        (Some(_), Some(_)) => return Err("Action and NotAction cannot both be present".into()),
        (None, None) => return Err("missing Action or NotAction".into()),
        (Some(v), None) => compile_actions(v, false, "Action")?,
        (None, Some(v)) => compile_actions(v, true, "NotAction")?,
    };

    let resources = match (resource, not_resource) {
        (Some(_), Some(_)) => return Err("Resource and NotResource cannot both be present".into()),
        (None, None) if kind == PolicyKind::Trust => None,
        (None, None) => return Err("missing Resource or NotResource".into()),
        (Some(v), None) => Some(compile_resources(v, false, "Resource", variables)?),
        (None, Some(v)) => Some(compile_resources(v, true, "NotResource", variables)?),
    };

    let conditions = match condition {
        None => Box::default(),
        Some(v) => compile_conditions(v, variables)?,
    };

    Ok(Statement {
        sid: sid.map(Into::into),
        effect,
        principal,
        actions,
        resources,
        conditions,
    })
}

/// A string or a non-empty array of strings.
fn strings<'v>(value: &'v Value, what: &str) -> Result<Vec<&'v str>, String> {
    match value {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) if items.is_empty() => {
            Err(format!("{what} must not be an empty array"))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .ok_or_else(|| format!("{what} must contain only strings"))
            })
            .collect(),
        _ => Err(format!("{what} must be a string or an array of strings")),
    }
}

fn compile_principal(value: &Value, negated: bool, what: &str) -> Result<PrincipalSpec, String> {
    let mut spec = PrincipalSpec {
        negated,
        ..PrincipalSpec::default()
    };
    let map: &Map<String, Value> = match value {
        Value::String(s) if s == "*" => {
            spec.any = true;
            return Ok(spec);
        }
        Value::String(s) => {
            return Err(format!(
                "{what} {s:?} is invalid: use \"*\" or an object such as {{\"AWS\": \"arn:...\"}}"
            ));
        }
        Value::Object(map) if map.is_empty() => {
            return Err(format!("{what} must not be an empty object"));
        }
        Value::Object(map) => map,
        _ => return Err(format!("{what} must be \"*\" or an object")),
    };
    let (mut accounts, mut arns, mut others) = (Vec::new(), Vec::new(), Vec::new());
    for (kind, v) in map {
        let label = format!("{what}.{kind}");
        let values = strings(v, &label)?;
        match kind.as_str() {
            "AWS" => {
                for p in values {
                    if p == "*" {
                        spec.any = true;
                    } else if is_account_id(p) {
                        accounts.push(p.into());
                    } else if let Some(account) = root_account(p) {
                        accounts.push(account.into());
                    } else if is_principal_arn(p) {
                        arns.push(p.into());
                    } else {
                        return Err(format!(
                            "{label} contains an invalid principal {p:?}: use \"*\", a 12-digit account id or a principal ARN"
                        ));
                    }
                }
            }
            "Service" | "Federated" | "CanonicalUser" => {
                for p in values {
                    if p.is_empty() {
                        return Err(format!("{label} contains an empty principal"));
                    }
                    others.push(p.into());
                }
            }
            other => {
                return Err(format!(
                    "{what} has an unknown principal type {other:?}: use AWS, Service, Federated or CanonicalUser"
                ));
            }
        }
    }
    spec.accounts = accounts.into();
    spec.arns = arns.into();
    spec.others = others.into();
    Ok(spec)
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` with a non-empty
/// partition, service and resource.
fn is_principal_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && !parts[2].is_empty()
        && !parts[5].is_empty()
}

fn compile_actions(value: &Value, negated: bool, what: &str) -> Result<Matcher, String> {
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    let patterns = strings(value, what)?
        .into_iter()
        .map(|a| {
            let valid = a == "*"
                || a.split_once(':').is_some_and(|(service, name)| {
                    !service.is_empty()
                        && !name.is_empty()
                        && service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*' || b == b'?')
                        && !name.contains(':')
                        && !name.chars().any(char::is_whitespace)
                });
            if valid {
                Ok(Pattern::compile(&a.to_ascii_lowercase(), syntax))
            } else {
                Err(format!("{what} {a:?} is invalid: use \"*\" or the form \"service:Action\" (e.g. \"kms:Encrypt\")"))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Matcher { negated, patterns })
}

fn compile_resources(
    value: &Value,
    negated: bool,
    what: &str,
    variables: bool,
) -> Result<Matcher, String> {
    let syntax = Syntax {
        wildcards: true,
        variables,
    };
    let patterns = strings(value, what)?
        .into_iter()
        .map(|r| {
            if r == "*" || (r.starts_with("arn:") && r.len() > 4) {
                Ok(Pattern::compile(r, syntax))
            } else {
                Err(format!("{what} {r:?} is invalid: use \"*\" or an ARN"))
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(Matcher { negated, patterns })
}

fn compile_conditions(value: &Value, variables: bool) -> Result<Box<[Condition]>, String> {
    let Value::Object(ops) = value else {
        return Err("Condition must be an object of condition operators".into());
    };
    let mut conditions = Vec::new();
    for (operator, keys) in ops {
        let Value::Object(keys) = keys else {
            return Err(format!(
                "Condition operator {operator} must map condition keys to values"
            ));
        };
        if keys.is_empty() {
            return Err(format!(
                "Condition operator {operator} has no condition keys"
            ));
        }
        for (key, values) in keys {
            let values = condition_values(values)
                .map_err(|e| format!("Condition {operator} for key {key}: {e}"))?;
            conditions.push(condition::compile(operator, key, values, variables)?);
        }
    }
    Ok(conditions.into())
}

/// A scalar (string, boolean, number) or a non-empty array of scalars.
fn condition_values(value: &Value) -> Result<Vec<String>, String> {
    fn scalar(v: &Value) -> Result<String, String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err("values must be strings, booleans or numbers".into()),
        }
    }
    match value {
        Value::Array(items) if items.is_empty() => Err("values must not be an empty array".into()),
        Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}
