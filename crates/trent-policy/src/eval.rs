//! Compiled statements and request evaluation.

use crate::condition::Condition;
use crate::pattern::Pattern;
use crate::{ConditionContext, Outcome, Policy, Principal, Request, ResourceOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    #[allow(dead_code)] // kept for debugging output
    pub sid: Option<Box<str>>,
    pub effect: Effect,
    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    pub principal: Option<PrincipalSpec>,
    /// `Action` (lowercased patterns) or `NotAction`.
    pub actions: Matcher,
    /// `Resource` or `NotResource`; `None` (trust policies) matches any.
    pub resources: Option<Matcher>,
    /// All AND-ed.
    pub conditions: Box<[Condition]>,
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`).
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub negated: bool,
    pub patterns: Box<[Pattern]>,
}

impl Matcher {
    fn matches(&self, s: &str, ci: bool, ctx: &dyn ConditionContext) -> bool {
        self.patterns.iter().any(|p| p.matches(s, ci, ctx)) != self.negated
    }
}

/// `Principal` or `NotPrincipal`, normalised.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrincipalSpec {
    pub negated: bool,
    /// `"*"` or `{"AWS": "*"}`.
    pub any: bool,
    /// Accounts, from `"ACCOUNT"` or `arn:PARTITION:iam::ACCOUNT:root`.
    pub accounts: Box<[Box<str>]>,
    /// Other AWS principal ARNs (users, roles, sessions).
    pub arns: Box<[Box<str>]>,
    /// `Service`, `Federated` and `CanonicalUser` principals: kept, but no
    /// request of this engine's callers comes from one.
    #[allow(dead_code)]
    pub others: Box<[Box<str>]>,
}

/// How a statement's principal matches the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    No,
    Account,
    Direct,
}

impl PrincipalSpec {
    pub(crate) fn matches(&self, caller: &Principal<'_>) -> PrincipalMatch {
        if self.negated {
            return if self.excludes(caller) {
                PrincipalMatch::No
            } else {
                PrincipalMatch::Direct
            };
        }
        if self.any || self.arns.iter().any(|a| names(a, caller)) {
            PrincipalMatch::Direct
        } else if self.lists_account(caller.account) {
            PrincipalMatch::Account
        } else {
            PrincipalMatch::No
        }
    }

    fn lists_account(&self, account: &str) -> bool {
        self.accounts.iter().any(|a| **a == *account)
    }

    /// `NotPrincipal` excludes a caller only when every identity AWS
    /// evaluates for it is listed: its own ARN, the role of an assumed-role
    /// session, and its account.
    fn excludes(&self, caller: &Principal<'_>) -> bool {
        if self.any {
            return true;
        }
        let account = self.lists_account(caller.account);
        let own =
            self.arns.iter().any(|a| **a == *caller.arn) || (is_root_arn(caller.arn) && account);
        let role = match session_role(caller.arn) {
            Some(session) => self.arns.iter().any(|a| session.is_role(a)),
            None => true,
        };
        own && role && account
    }
}

/// Whether the principal ARN `entry` names the caller itself (or the role
/// of its assumed-role session).
fn names(entry: &str, caller: &Principal<'_>) -> bool {
    entry == caller.arn || session_role(caller.arn).is_some_and(|s| s.is_role(entry))
}

/// `arn:PARTITION:iam::ACCOUNT:root`
pub(crate) fn root_account(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:")?;
    let (_partition, rest) = rest.split_once(':')?;
    let account = rest.strip_prefix("iam::")?.strip_suffix(":root")?;
    is_account_id(account).then_some(account)
}

fn is_root_arn(arn: &str) -> bool {
    root_account(arn).is_some()
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The parts of `arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
struct SessionRole<'a> {
    partition: &'a str,
    account: &'a str,
    role: &'a str,
}

fn session_role(arn: &str) -> Option<SessionRole<'_>> {
    let rest = arn.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(':')?;
    let rest = rest.strip_prefix("sts::")?;
    let (account, rest) = rest.split_once(':')?;
    let (role, _session) = rest.strip_prefix("assumed-role/")?.split_once('/')?;
    Some(SessionRole {
        partition,
        account,
        role,
    })
}

impl SessionRole<'_> {
    /// Whether `entry` is `arn:PARTITION:iam::ACCOUNT:role/[PATH/]ROLE`.
    fn is_role(&self, entry: &str) -> bool {
        let Some(rest) = entry
            .strip_prefix("arn:")
            .and_then(|r| r.strip_prefix(self.partition))
        else {
            return false;
        };
        let Some(rest) = rest
            .strip_prefix(":iam::")
            .and_then(|r| r.strip_prefix(self.account))
        else {
            return false;
        };
        let Some(path_and_name) = rest.strip_prefix(":role/") else {
            return false;
        };
        path_and_name.rsplit('/').next() == Some(self.role)
    }
}

impl Statement {
    /// Whether the action, resource and conditions match (not the principal).
    fn applies(&self, req: &Request<'_>) -> bool {
        self.actions.matches(req.action, true, req.context)
            && self
                .resources
                .as_ref()
                .is_none_or(|r| r.matches(req.resource, false, req.context))
            && self.conditions.iter().all(|c| c.eval(req.context))
    }
}

impl Policy {
    /// Evaluates an identity-based policy: principals are not considered.
    /// Any matching Deny gives [`Outcome::ExplicitDeny`]; otherwise any
    /// matching Allow gives [`Outcome::Allow`].
    pub fn evaluate_identity(&self, req: &Request<'_>) -> Outcome {
        let mut outcome = Outcome::NotApplicable;
        for st in &self.statements {
            if outcome == Outcome::Allow && st.effect == Effect::Allow {
                continue;
            }
            if st.applies(req) {
                match st.effect {
                    Effect::Deny => return Outcome::ExplicitDeny,
                    Effect::Allow => outcome = Outcome::Allow,
                }
            }
        }
        outcome
    }

    /// Evaluates a resource-based (key or trust) policy for the caller in
    /// `req.principal`. A statement without a principal (an identity policy)
    /// never matches.
    pub fn evaluate_resource(&self, req: &Request<'_>) -> ResourceOutcome {
        let mut best = PrincipalMatch::No;
        for st in &self.statements {
            let Some(spec) = &st.principal else { continue };
            let how = spec.matches(req.principal);
            let wanted = match st.effect {
                Effect::Deny => how != PrincipalMatch::No,
                Effect::Allow => how > best,
            };
            if wanted && st.applies(req) {
                match st.effect {
                    Effect::Deny => return ResourceOutcome::ExplicitDeny,
                    Effect::Allow => best = how,
                }
            }
        }
        match best {
            PrincipalMatch::Direct => ResourceOutcome::AllowPrincipal,
            PrincipalMatch::Account => ResourceOutcome::AllowAccount,
            PrincipalMatch::No => ResourceOutcome::NotApplicable,
        }
    }
}
