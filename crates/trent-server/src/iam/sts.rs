//! STS actions: GetCallerIdentity and AssumeRole.

use super::xml::{Xml, iso8601};
use super::{QueryError, StsAction};
use trent_core::{Caller, Identities};
use trent_wire::query::QueryParams as Params;

/// Runs `action`, writing the contents of its `…Result` element into `x`.
pub(super) async fn dispatch(
    ids: &Identities,
    caller: &Caller,
    action: StsAction,
    p: &Params,
    x: &mut Xml,
) -> Result<(), QueryError> {
    match action {
        StsAction::GetCallerIdentity => {
            p.allow(&[])?;
            x.text("Arn", caller.principal_arn());
            x.text("UserId", &caller.identity.user_id);
            x.text("Account", caller.account());
        }
        StsAction::AssumeRole => {
            // Session policies, session tags, external ids and MFA are not
            // supported: refused rather than ignored (see `Params::allow`).
            p.allow(&["RoleArn", "RoleSessionName", "DurationSeconds"])?;
            let role_arn = p.required("RoleArn")?;
            let session_name = p.required("RoleSessionName")?;
            let duration = p.int("DurationSeconds")?;
            let creds = ids
                .assume_role(caller, role_arn, session_name, duration)
                .await?;
            x.element("Credentials", |x| {
                x.text("AccessKeyId", &creds.access_key_id);
                x.text("SecretAccessKey", &creds.secret);
                x.text("SessionToken", &creds.session_token);
                x.text("Expiration", &iso8601(creds.expires_ms));
            });
            x.element("AssumedRoleUser", |x| {
                x.text("AssumedRoleId", &creds.assumed_role_id);
                x.text("Arn", &creds.assumed_role_arn);
            });
        }
    }
    Ok(())
}
