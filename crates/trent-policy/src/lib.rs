//! A pure IAM / AWS KMS policy engine: parses JSON policy documents into a
//! compiled form once, then evaluates requests against them without I/O, async
//! or (in the common case) allocation.
//!
//! # Documents
//!
//! [`Policy::parse`] accepts the IAM policy grammar: `Version`
//! (`2012-10-17` or `2008-10-17`), `Id` and `Statement` (one object or a
//! non-empty array); each statement has `Sid`, `Effect`, `Principal` /
//! `NotPrincipal`, `Action` / `NotAction`, `Resource` / `NotResource` and
//! `Condition`. The [`PolicyKind`] decides which elements are required:
//! key and trust policies are resource-based and need a principal in every
//! statement, identity policies must not name one. Anything else is a
//! [`PolicyError::Malformed`] whose message says what is wrong and where.
//!
//! # Evaluation
//!
//! - [`Policy::evaluate_identity`] (identity policies): [`Outcome`] —
//!   explicit Deny, Allow, or not applicable.
//! - [`Policy::evaluate_resource`] (key and trust policies):
//!   [`ResourceOutcome`] — explicit Deny; an Allow naming the caller itself
//!   (or `*`, or the role of an assumed-role session); an Allow naming only
//!   the caller's account (`ACCOUNT` or `arn:aws:iam::ACCOUNT:root`), which in
//!   KMS delegates to the account's IAM policies; or not applicable.
//!
//! A statement applies when its principal, action, resource and all its
//! conditions match. Actions match case-insensitively, resources and ARNs
//! case-sensitively, both with `*` and `?` wildcards. Condition keys are
//! case-insensitive and looked up through a [`ConditionContext`]; all the
//! AWS condition operators are supported, with the `ForAllValues:` /
//! `ForAnyValue:` set prefixes and the `IfExists` suffix (see
//! [`Policy::parse`] for the list). Policy variables (`${aws:username}`,
//! `${aws:PrincipalTag/team, 'none'}`, escapes `${*}`, `${?}`, `${$}`) are
//! substituted in `Resource` and string / ARN condition values of
//! `2012-10-17` policies.

mod condition;
mod error;
mod eval;
mod parse;
mod pattern;
mod time;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

pub use error::PolicyError;

/// Which kind of document a policy is; decides the required elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A KMS key policy (resource-based: every statement names a principal;
    /// `Resource` / `NotResource` required).
    Key,
    /// An IAM user, group or role policy (no principal; `Resource` /
    /// `NotResource` required).
    Identity,
    /// A role trust policy (resource-based; `Resource` optional).
    Trust,
}

/// A compiled policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    kind: PolicyKind,
    version: Option<Box<str>>,
    id: Option<Box<str>>,
    statements: Box<[eval::Statement]>,
}

impl Policy {
    /// The kind the policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }
}

/// The outcome of identity-based policies for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A matching Deny statement: wins over any Allow.
    ExplicitDeny,
    /// A matching Allow statement and no matching Deny.
    Allow,
    /// No statement matches (an implicit deny).
    NotApplicable,
}

/// The outcome of a resource-based (key or trust) policy for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceOutcome {
    /// A matching Deny statement whose principal matches the caller, directly
    /// or through its account.
    ExplicitDeny,
    /// A matching Allow statement names the caller directly: `*`,
    /// `{"AWS": "*"}`, the caller's ARN, the role of an assumed-role session,
    /// or a `NotPrincipal` that does not exclude the caller.
    AllowPrincipal,
    /// Matching Allow statements name the caller only through its account
    /// (`"ACCOUNT"` or `arn:aws:iam::ACCOUNT:root`): the account's IAM
    /// policies decide.
    AllowAccount,
    /// No statement matches the caller and request.
    NotApplicable,
}

/// A request to authorize.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// The action, e.g. `kms:Encrypt` (matched case-insensitively).
    pub action: &'a str,
    /// The resource ARN, e.g. `arn:aws:kms:us-east-1:111122223333:key/...`.
    pub resource: &'a str,
    pub principal: &'a Principal<'a>,
    pub context: &'a dyn ConditionContext,
}

/// The authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The caller's ARN: `arn:aws:iam::ACCOUNT:user/NAME`,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
    /// `arn:aws:iam::ACCOUNT:root`, ...
    pub arn: &'a str,
    /// The caller's 12-digit account id.
    pub account: &'a str,
}

/// The condition keys of a request.
pub trait ConditionContext {
    /// The values of a condition key. `key` arrives lowercased (e.g.
    /// `kms:encryptioncontext:purpose`, `aws:principalarn`); implementations
    /// should look it up case-insensitively. `None` (or an empty
    /// [`Values::Many`]) means the key is absent.
    fn get(&self, key: &str) -> Option<Values<'_>>;
}

/// A context without any condition key.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyContext;

impl ConditionContext for EmptyContext {
    fn get(&self, _key: &str) -> Option<Values<'_>> {
        None
    }
}

impl<C: ConditionContext + ?Sized> ConditionContext for &C {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        (**self).get(key)
    }
}

/// The values of one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Values<'a> {
    /// A single borrowed value (the common case; no allocation).
    One(&'a str),
    /// Several values (multivalued keys such as `aws:TagKeys`), or computed
    /// ones.
    Many(Vec<Cow<'a, str>>),
}

impl<'a> Values<'a> {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::One(_) => 1,
            Values::Many(v) => v.len(),
        }
    }

    /// Whether there is no value (an empty [`Values::Many`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values in order.
    pub fn iter(&self) -> ValuesIter<'_> {
        match self {
            Values::One(s) => ValuesIter::One(Some(s)),
            Values::Many(v) => ValuesIter::Many(v.iter()),
        }
    }

    /// The value if there is exactly one.
    pub fn single(&self) -> Option<&str> {
        match self {
            Values::One(s) => Some(s),
            Values::Many(v) if v.len() == 1 => Some(&v[0]),
            Values::Many(_) => None,
        }
    }
}

impl<'a> From<&'a str> for Values<'a> {
    fn from(s: &'a str) -> Self {
        Values::One(s)
    }
}

/// Iterator over [`Values`].
#[derive(Debug, Clone)]
pub enum ValuesIter<'v> {
    #[doc(hidden)]
    One(Option<&'v str>),
    #[doc(hidden)]
    Many(std::slice::Iter<'v, Cow<'v, str>>),
}

impl<'v> Iterator for ValuesIter<'v> {
    type Item = &'v str;

    fn next(&mut self) -> Option<&'v str> {
        match self {
            ValuesIter::One(s) => s.take(),
            ValuesIter::Many(it) => it.next().map(|c| &**c),
        }
    }
}

impl<'v> IntoIterator for &'v Values<'_> {
    type Item = &'v str;
    type IntoIter = ValuesIter<'v>;

    fn into_iter(self) -> ValuesIter<'v> {
        self.iter()
    }
}
