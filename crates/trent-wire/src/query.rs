//! The AWS Query protocol's request parameters (IAM and STS): a
//! form-encoded body such as `Action=CreateUser&Version=2010-05-08&UserName=alice`.
//! Parsed only once the request is authenticated; before that,
//! [`action`] reads the one parameter routing needs without decoding the
//! rest.

use std::borrow::Cow;

/// A request's parameters, in order.
#[derive(Debug, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

/// A parameter that fails its constraint: AWS's `ValidationError` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError(pub String);

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parameters every request carries besides the action's own.
const COMMON: &[&str] = &["Action", "Version"];

/// The first `Action` of a form body; the other pairs are skipped, and
/// only a percent-encoded name or value is decoded into a new string.
pub fn action(body: &[u8]) -> Option<Cow<'_, str>> {
    form_urlencoded::parse(body)
        .find(|(name, _)| name == "Action")
        .map(|(_, value)| value)
}

impl QueryParams {
    pub fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// Every (name, value), in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter, with AWS's message when it is absent.
    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        self.get(name).ok_or_else(|| {
            ParamError(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(name)
            ))
        })
    }

    /// An optional integer parameter.
    pub fn int(&self, name: &str) -> Result<Option<i32>, ParamError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i32>().map_err(|_| {
                    ParamError(format!(
                        "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be an integer",
                        lower_camel(name)
                    ))
                })
            })
            .transpose()
    }

    /// Refuses parameters the action does not take, so that nothing a
    /// caller asked for (tags, permissions boundaries, session policies) is
    /// silently dropped. A list parameter is named by its prefix
    /// (`Tags` covers `Tags.member.1.Key`).
    pub fn allow(&self, allowed: &[&str]) -> Result<(), ParamError> {
        for (key, _) in &self.pairs {
            let base = key.split('.').next().unwrap_or(key);
            if !COMMON.contains(&base) && !allowed.contains(&base) {
                return Err(ParamError(format!(
                    "The parameter {base} is not supported by this server."
                )));
            }
        }
        Ok(())
    }
}

/// `UserName` → `userName`, as AWS names members in validation messages.
fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let body = b"Action=CreateUser&Version=2010-05-08&UserName=al%2Bice+x&Tags.member.1.Key=k";
        let p = QueryParams::parse(body);
        assert_eq!(p.get("UserName"), Some("al+ice x"));
        assert!(p.required("Path").is_err());
        assert!(p.allow(&["UserName", "Tags"]).is_ok());
        assert_eq!(
            p.allow(&["UserName"]),
            Err(ParamError(
                "The parameter Tags is not supported by this server.".into()
            ))
        );
        assert_eq!(lower_camel("RoleSessionName"), "roleSessionName");
        assert_eq!(action(body).as_deref(), Some("CreateUser"));
        assert!(matches!(action(body), Some(Cow::Borrowed(_))));
        assert_eq!(action(b"A=1&Act%69on=GetUser").as_deref(), Some("GetUser"));
        assert_eq!(action(b"UserName=x"), None);
    }
}
