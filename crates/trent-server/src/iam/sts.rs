//! STS actions: GetCallerIdentity and AssumeRole.

use super::QueryError;
use super::params::Params;
use super::xml::{Xml, iso8601};
use trent_core::{Caller, Identities};

/// The STS actions served here (also used to pick the service of a request
/// whose signature names neither `iam` nor `sts`).
pub(super) const ACTIONS: &[&str] = &["GetCallerIdentity", "AssumeRole"];

/// Runs `action`, writing the contents of its `…Result` element into `x`.
/// `Ok(false)`: not an STS action.
pub(super) async fn dispatch(
    ids: &Identities,
    caller: &Caller,
    action: &str,
    p: &Params,
    x: &mut Xml,
) -> Result<bool, QueryError> {
    match action {
        "GetCallerIdentity" => {
            p.allow(&[])?;
            x.text("Arn", caller.principal_arn());
            x.text("UserId", &caller.identity.user_id);
            x.text("Account", caller.account());
        }
        "AssumeRole" => {
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
        _ => return Ok(false),
    }
    Ok(true)
}
