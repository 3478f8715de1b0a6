//! CloudTrail `LookupEvents` on the caller's account's audit trail.

use super::*;
use crate::audit::AuditRecord;
use crate::audit::lookup::{AuditLookup, LOOKUP_BUDGET, LookupAttribute};

/// What a `LookupEvents` call asks for (validated by the caller).
#[derive(Debug, Clone, Default)]
pub struct LookupEvents {
    pub attribute: Option<(LookupAttribute, String)>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    pub limit: usize,
    pub next_token: Option<String>,
}

impl Kms {
    /// One page of the caller's account's events, newest first. Root may;
    /// others need `cloudtrail:LookupEvents` in their IAM policies. The
    /// token is bound to the account and the query: reused with other
    /// parameters it is refused.
    pub async fn lookup_events(
        &self,
        caller: &Caller,
        request: &LookupEvents,
    ) -> Result<Page<AuditRecord>, KmsError> {
        self.authorize_account(caller, Action::LookupEvents, &RequestFacts::default())?;
        let (name, value) = match &request.attribute {
            Some((a, v)) => (a.name(), v.as_str()),
            None => ("", ""),
        };
        // The value last: it is the only part that may hold a slash.
        let list = format!(
            "LookupEvents/{}/{name}/{:?}/{:?}/{value}",
            caller.account(),
            request.start_ms,
            request.end_ms
        );
        let before_seq = match &request.next_token {
            None => None,
            Some(token) => Some(
                self.markers
                    .open(&list, token)?
                    .parse::<i64>()
                    .map_err(|_| KmsError::InvalidMarker("Invalid NextToken".into()))?,
            ),
        };
        let page = crate::audit::read::lookup(
            self.store.as_ref(),
            &AuditLookup {
                account: caller.account().to_owned(),
                attribute: request.attribute.clone(),
                start_ms: request.start_ms,
                end_ms: request.end_ms,
                before_seq,
                limit: request.limit + 1,
                budget: LOOKUP_BUDGET,
            },
        )
        .await?;
        let mut items = page.records;
        // A full page resumes after its last event; a page the budget cut
        // short (as CloudTrail's can be) where the search stopped.
        let resume = if items.len() > request.limit {
            items.truncate(request.limit);
            items.last().map(|e| e.seq)
        } else {
            page.resume_before
        };
        let next_marker = resume.map(|seq| self.markers.issue(&list, &seq.to_string()));
        Ok(Page { items, next_marker })
    }
}
