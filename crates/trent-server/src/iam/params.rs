//! The parameters of a Query-protocol request: the form-encoded body
//! (`Action=CreateUser&Version=2010-05-08&UserName=alice`).

use super::QueryError;

pub(super) struct Params {
    pairs: Vec<(String, String)>,
}

/// Parameters every request carries besides the action's own.
const COMMON: &[&str] = &["Action", "Version"];

impl Params {
    pub(super) fn parse(body: &[u8]) -> Self {
        Self {
            pairs: form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// Every (name, value), in order.
    pub(super) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter, with AWS's message when it is absent.
    pub(super) fn required(&self, name: &str) -> Result<&str, QueryError> {
        self.get(name).ok_or_else(|| {
            QueryError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(name)
            ))
        })
    }

    /// An optional integer parameter.
    pub(super) fn int(&self, name: &str) -> Result<Option<i32>, QueryError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i32>().map_err(|_| {
                    QueryError::validation(format!(
                        "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be an integer",
                        lower_camel(name)
                    ))
                })
            })
            .transpose()
    }

    /// Refuses parameters the action does not take here, so that nothing a
    /// caller asked for (tags, permissions boundaries, session policies) is
    /// silently dropped. A list parameter is named by its prefix
    /// (`Tags` covers `Tags.member.1.Key`).
    pub(super) fn allow(&self, allowed: &[&str]) -> Result<(), QueryError> {
        for (key, _) in &self.pairs {
            let base = key.split('.').next().unwrap_or(key);
            if !COMMON.contains(&base) && !allowed.contains(&base) {
                return Err(QueryError::validation(format!(
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
        let p = Params::parse(
            b"Action=CreateUser&Version=2010-05-08&UserName=al%2Bice+x&Tags.member.1.Key=k",
        );
        assert_eq!(p.get("UserName"), Some("al+ice x"));
        assert!(p.required("Path").is_err());
        assert!(p.allow(&["UserName", "Tags"]).is_ok());
        let err = p.allow(&["UserName"]).err().map(|e| e.message);
        assert_eq!(
            err.as_deref(),
            Some("The parameter Tags is not supported by this server.")
        );
        assert_eq!(lower_camel("RoleSessionName"), "roleSessionName");
    }
}
