//! Model-constraint validation with AWS's `ValidationException` wording.

use std::fmt;

/// Checks a request against the constraints of the service model.
///
/// Implemented for every generated structure. Valid input takes no
/// allocation; each violation is rendered as one AWS-style sentence.
pub trait Validate {
    fn validate(&self) -> Result<(), ValidationError>;
}

/// The violations found in one request, rendered like AWS:
/// `1 validation error detected: <v>` / `2 validation errors detected: <v1>; <v2>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// One sentence each, e.g. `Value '2000' at 'numberOfBytes' failed to
    /// satisfy constraint: Member must have value less than or equal to 1024`.
    pub violations: Vec<String>,
}

impl ValidationError {
    /// The `message` of the `ValidationException` body.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.violations.len();
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "{n} validation error{plural} detected: ")?;
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(v)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Where a value sits in the request, built on the stack while walking it and
/// only rendered (`tags.1.member.tagKey`) when a violation is reported.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Field(&'a Path<'a>, &'static str),
    /// Zero-based index into a list; rendered one-based as `<list>.N.member`.
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(parent, name) => {
                if !matches!(parent, Path::Root) {
                    write!(f, "{parent}.")?;
                }
                f.write_str(name)
            }
            Path::Index(parent, i) => write!(f, "{parent}.{}.member", i + 1),
        }
    }
}

/// Runs a validation walk and turns its findings into a result.
pub(crate) fn run(walk: impl FnOnce(&mut Vec<String>)) -> Result<(), ValidationError> {
    let mut violations = Vec::new();
    walk(&mut violations);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { violations })
    }
}

enum Shown<'v> {
    Str(&'v str),
    Int(i64),
    Hidden,
    Null,
}

impl<'v> Shown<'v> {
    fn str(v: &'v str, show: bool) -> Self {
        if show { Shown::Str(v) } else { Shown::Hidden }
    }
}

#[cold]
#[inline(never)]
fn push(out: &mut Vec<String>, path: &Path<'_>, value: Shown<'_>, constraint: fmt::Arguments<'_>) {
    let msg = match value {
        Shown::Str(v) => {
            format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}")
        }
        Shown::Int(v) => {
            format!("Value '{v}' at '{path}' failed to satisfy constraint: {constraint}")
        }
        Shown::Hidden => format!("Value at '{path}' failed to satisfy constraint: {constraint}"),
        Shown::Null => format!("Value null at '{path}' failed to satisfy constraint: {constraint}"),
    };
    out.push(msg);
}

/// Number of characters, counted only when the byte length cannot decide.
fn char_count(v: &str) -> usize {
    v.chars().count()
}

/// String shorter than `min` characters.
pub(crate) fn str_min(out: &mut Vec<String>, path: &Path<'_>, v: &str, min: usize, show: bool) {
    // chars <= bytes, so `bytes < min` settles it; `bytes >= 4 * min` too.
    if v.len() < min || (v.len() < min.saturating_mul(4) && char_count(v) < min) {
        push(
            out,
            path,
            Shown::str(v, show),
            format_args!("Member must have length greater than or equal to {min}"),
        );
    }
}

/// String longer than `max` characters.
pub(crate) fn str_max(out: &mut Vec<String>, path: &Path<'_>, v: &str, max: usize, show: bool) {
    if v.len() > max && char_count(v) > max {
        push(
            out,
            path,
            Shown::str(v, show),
            format_args!("Member must have length less than or equal to {max}"),
        );
    }
}

/// String not matching the model pattern (`re` is the anchored compile).
pub(crate) fn pattern(out: &mut Vec<String>, path: &Path<'_>, v: &str, show: bool, pattern: &str) {
    push(
        out,
        path,
        Shown::str(v, show),
        format_args!("Member must satisfy regular expression pattern: {pattern}"),
    );
}

/// Blob (bytes), list (items) or map (entries) below `min`; value not shown.
pub(crate) fn len_min(out: &mut Vec<String>, path: &Path<'_>, len: usize, min: usize) {
    if len < min {
        push(
            out,
            path,
            Shown::Hidden,
            format_args!("Member must have length greater than or equal to {min}"),
        );
    }
}

/// Blob (bytes), list (items) or map (entries) above `max`; value not shown.
pub(crate) fn len_max(out: &mut Vec<String>, path: &Path<'_>, len: usize, max: usize) {
    if len > max {
        push(
            out,
            path,
            Shown::Hidden,
            format_args!("Member must have length less than or equal to {max}"),
        );
    }
}

pub(crate) fn int_min(out: &mut Vec<String>, path: &Path<'_>, v: i64, min: i64) {
    if v < min {
        push(
            out,
            path,
            Shown::Int(v),
            format_args!("Member must have value greater than or equal to {min}"),
        );
    }
}

pub(crate) fn int_max(out: &mut Vec<String>, path: &Path<'_>, v: i64, max: i64) {
    if v > max {
        push(
            out,
            path,
            Shown::Int(v),
            format_args!("Member must have value less than or equal to {max}"),
        );
    }
}

/// An enum member whose value is outside the model's set.
pub(crate) fn enum_value(out: &mut Vec<String>, path: &Path<'_>, v: &str, values: &[&str]) {
    push(
        out,
        path,
        Shown::Str(v),
        format_args!(
            "Member must satisfy enum value set: [{}]",
            values.join(", ")
        ),
    );
}

/// A required member that is absent.
pub(crate) fn null(out: &mut Vec<String>, path: &Path<'_>) {
    push(
        out,
        path,
        Shown::Null,
        format_args!("Member must not be null"),
    );
}
