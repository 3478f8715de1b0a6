//! IAM actions: parameters → typed [`Identities`] calls → result XML, with
//! AWS's element names and nesting.

use super::xml::{Xml, iso8601, url_encode};
use super::{IamAction, QueryError};
use trent_core::{
    AccessKeyInfo, AccessKeyStatus, Caller, GroupInfo, Identities, PolicyOwner, RoleInfo, UserInfo,
};
use trent_wire::query::QueryParams as Params;

/// Runs `action`, writing the contents of its `…Result` element into `x`
/// (nothing for actions without output).
pub(super) async fn dispatch(
    ids: &Identities,
    caller: &Caller,
    action: IamAction,
    p: &Params,
    x: &mut Xml,
) -> Result<(), QueryError> {
    match action {
        // ----- users
        IamAction::CreateUser => {
            p.allow(&["UserName", "Path"])?;
            let user = ids
                .create_user(caller, p.required("UserName")?, p.get("Path"))
                .await?;
            x.element("User", |x| user_xml(x, &user));
        }
        IamAction::GetUser => {
            p.allow(&["UserName"])?;
            let user = ids.get_user(caller, p.get("UserName")).await?;
            x.element("User", |x| user_xml(x, &user));
        }
        IamAction::ListUsers => {
            let users = ids.list_users(caller).await?;
            list_xml(p, x, "Users", &users, |u| &u.path, user_xml)?;
        }
        IamAction::DeleteUser => {
            p.allow(&["UserName"])?;
            ids.delete_user(caller, p.required("UserName")?).await?;
        }

        // ----- access keys
        IamAction::CreateAccessKey => {
            p.allow(&["UserName"])?;
            let key = ids.create_access_key(caller, p.get("UserName")).await?;
            x.element("AccessKey", |x| {
                x.opt_text("UserName", key.info.user_name.as_deref());
                x.text("AccessKeyId", &key.info.access_key_id);
                x.text("Status", key.info.status.as_str());
                x.text("SecretAccessKey", &key.secret);
                x.text("CreateDate", &iso8601(key.info.created_ms));
            });
        }
        IamAction::ListAccessKeys => {
            p.allow(&["UserName", "Marker", "MaxItems"])?;
            let keys = ids.list_access_keys(caller, p.get("UserName")).await?;
            Page::of(&keys, p)?.write(x, "AccessKeyMetadata", access_key_xml);
        }
        IamAction::UpdateAccessKey => {
            p.allow(&["UserName", "AccessKeyId", "Status"])?;
            let key_id = p.required("AccessKeyId")?;
            let status = p.required("Status")?;
            let status = AccessKeyStatus::parse(status).ok_or_else(|| {
                QueryError::validation(format!(
                    "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                ))
            })?;
            ids.update_access_key(caller, p.get("UserName"), key_id, status)
                .await?;
        }
        IamAction::DeleteAccessKey => {
            p.allow(&["UserName", "AccessKeyId"])?;
            ids.delete_access_key(caller, p.get("UserName"), p.required("AccessKeyId")?)
                .await?;
        }

        // ----- roles
        IamAction::CreateRole => {
            p.allow(&[
                "RoleName",
                "Path",
                "AssumeRolePolicyDocument",
                "Description",
                "MaxSessionDuration",
            ])?;
            let role = ids
                .create_role(
                    caller,
                    p.required("RoleName")?,
                    p.get("Path"),
                    p.required("AssumeRolePolicyDocument")?,
                    p.get("Description"),
                    p.int("MaxSessionDuration")?,
                )
                .await?;
            x.element("Role", |x| role_xml(x, &role));
        }
        IamAction::GetRole => {
            p.allow(&["RoleName"])?;
            let role = ids.get_role(caller, p.required("RoleName")?).await?;
            x.element("Role", |x| role_xml(x, &role));
        }
        IamAction::ListRoles => {
            let roles = ids.list_roles(caller).await?;
            list_xml(p, x, "Roles", &roles, |r| &r.path, role_xml)?;
        }
        IamAction::DeleteRole => {
            p.allow(&["RoleName"])?;
            ids.delete_role(caller, p.required("RoleName")?).await?;
        }

        // ----- groups
        IamAction::CreateGroup => {
            p.allow(&["GroupName", "Path"])?;
            let group = ids
                .create_group(caller, p.required("GroupName")?, p.get("Path"))
                .await?;
            x.element("Group", |x| group_xml(x, &group));
        }
        IamAction::GetGroup => {
            p.allow(&["GroupName", "Marker", "MaxItems"])?;
            let (group, users) = ids.get_group(caller, p.required("GroupName")?).await?;
            let page = Page::of(&users, p)?;
            x.element("Group", |x| group_xml(x, &group));
            page.write(x, "Users", user_xml);
        }
        IamAction::ListGroups => {
            let groups = ids.list_groups(caller).await?;
            list_xml(p, x, "Groups", &groups, |g| &g.path, group_xml)?;
        }
        IamAction::ListGroupsForUser => {
            p.allow(&["UserName", "Marker", "MaxItems"])?;
            let groups = ids
                .list_groups_for_user(caller, p.required("UserName")?)
                .await?;
            Page::of(&groups, p)?.write(x, "Groups", group_xml);
        }
        IamAction::AddUserToGroup => {
            p.allow(&["GroupName", "UserName"])?;
            ids.add_user_to_group(caller, p.required("GroupName")?, p.required("UserName")?)
                .await?;
        }
        IamAction::RemoveUserFromGroup => {
            p.allow(&["GroupName", "UserName"])?;
            ids.remove_user_from_group(caller, p.required("GroupName")?, p.required("UserName")?)
                .await?;
        }
        IamAction::DeleteGroup => {
            p.allow(&["GroupName"])?;
            ids.delete_group(caller, p.required("GroupName")?).await?;
        }

        // ----- inline policies
        IamAction::PutUserPolicy => put_policy(ids, caller, Owner::User, p).await?,
        IamAction::PutRolePolicy => put_policy(ids, caller, Owner::Role, p).await?,
        IamAction::PutGroupPolicy => put_policy(ids, caller, Owner::Group, p).await?,
        IamAction::GetUserPolicy => get_policy(ids, caller, Owner::User, p, x).await?,
        IamAction::GetRolePolicy => get_policy(ids, caller, Owner::Role, p, x).await?,
        IamAction::GetGroupPolicy => get_policy(ids, caller, Owner::Group, p, x).await?,
        IamAction::DeleteUserPolicy => delete_policy(ids, caller, Owner::User, p).await?,
        IamAction::DeleteRolePolicy => delete_policy(ids, caller, Owner::Role, p).await?,
        IamAction::DeleteGroupPolicy => delete_policy(ids, caller, Owner::Group, p).await?,
        IamAction::ListUserPolicies => list_policies(ids, caller, Owner::User, p, x).await?,
        IamAction::ListRolePolicies => list_policies(ids, caller, Owner::Role, p, x).await?,
        IamAction::ListGroupPolicies => list_policies(ids, caller, Owner::Group, p, x).await?,
    }
    Ok(())
}

/// ListUsers, ListRoles, ListGroups: the entities under `PathPrefix`
/// (default `/`), a page of them as `<WRAPPER><member>…`.
fn list_xml<T>(
    p: &Params,
    x: &mut Xml,
    wrapper: &str,
    all: &[T],
    path: fn(&T) -> &String,
    xml: fn(&mut Xml, &T),
) -> Result<(), QueryError> {
    p.allow(&["PathPrefix", "Marker", "MaxItems"])?;
    let prefix = p.get("PathPrefix").unwrap_or("/");
    let under: Vec<&T> = all.iter().filter(|e| path(e).starts_with(prefix)).collect();
    Page::of(&under, p)?.write(x, wrapper, |x, entity| xml(x, entity));
    Ok(())
}

fn user_xml(x: &mut Xml, user: &UserInfo) {
    // The root's own "user" (GetUser without a name) has no name or path.
    if !user.name.is_empty() {
        x.text("Path", &user.path);
        x.text("UserName", &user.name);
    }
    x.text("UserId", &user.user_id);
    x.text("Arn", &user.arn);
    x.text("CreateDate", &iso8601(user.created_ms));
}

fn access_key_xml(x: &mut Xml, key: &AccessKeyInfo) {
    x.opt_text("UserName", key.user_name.as_deref());
    x.text("AccessKeyId", &key.access_key_id);
    x.text("Status", key.status.as_str());
    x.text("CreateDate", &iso8601(key.created_ms));
}

fn role_xml(x: &mut Xml, role: &RoleInfo) {
    x.text("Path", &role.path);
    x.text("RoleName", &role.name);
    x.text("RoleId", &role.role_id);
    x.text("Arn", &role.arn);
    x.text("CreateDate", &iso8601(role.created_ms));
    x.text("AssumeRolePolicyDocument", &url_encode(&role.trust_policy));
    x.opt_text("Description", role.description.as_deref());
    x.text("MaxSessionDuration", &role.max_session_duration.to_string());
}

fn group_xml(x: &mut Xml, group: &GroupInfo) {
    x.text("Path", &group.path);
    x.text("GroupName", &group.name);
    x.text("GroupId", &group.group_id);
    x.text("Arn", &group.arn);
    x.text("CreateDate", &iso8601(group.created_ms));
}

/// Which kind of entity an inline-policy action is about.
#[derive(Clone, Copy)]
enum Owner {
    User,
    Role,
    Group,
}

impl Owner {
    /// The request and response member naming the entity.
    fn member(self) -> &'static str {
        match self {
            Owner::User => "UserName",
            Owner::Role => "RoleName",
            Owner::Group => "GroupName",
        }
    }

    fn with(self, name: &str) -> PolicyOwner<'_> {
        match self {
            Owner::User => PolicyOwner::User(name),
            Owner::Role => PolicyOwner::Role(name),
            Owner::Group => PolicyOwner::Group(name),
        }
    }
}

async fn put_policy(
    ids: &Identities,
    caller: &Caller,
    owner: Owner,
    p: &Params,
) -> Result<(), QueryError> {
    p.allow(&[owner.member(), "PolicyName", "PolicyDocument"])?;
    let name = p.required(owner.member())?;
    let policy_name = p.required("PolicyName")?;
    let document = p.required("PolicyDocument")?;
    ids.put_policy(caller, owner.with(name), policy_name, document)
        .await?;
    Ok(())
}

async fn get_policy(
    ids: &Identities,
    caller: &Caller,
    owner: Owner,
    p: &Params,
    x: &mut Xml,
) -> Result<(), QueryError> {
    p.allow(&[owner.member(), "PolicyName"])?;
    let name = p.required(owner.member())?;
    let policy_name = p.required("PolicyName")?;
    let document = ids
        .get_policy(caller, owner.with(name), policy_name)
        .await?;
    x.text(owner.member(), name);
    x.text("PolicyName", policy_name);
    x.text("PolicyDocument", &url_encode(&document));
    Ok(())
}

async fn delete_policy(
    ids: &Identities,
    caller: &Caller,
    owner: Owner,
    p: &Params,
) -> Result<(), QueryError> {
    p.allow(&[owner.member(), "PolicyName"])?;
    let name = p.required(owner.member())?;
    ids.delete_policy(caller, owner.with(name), p.required("PolicyName")?)
        .await?;
    Ok(())
}

async fn list_policies(
    ids: &Identities,
    caller: &Caller,
    owner: Owner,
    p: &Params,
    x: &mut Xml,
) -> Result<(), QueryError> {
    p.allow(&[owner.member(), "Marker", "MaxItems"])?;
    let names = ids
        .list_policies(caller, owner.with(p.required(owner.member())?))
        .await?;
    let page = Page::of(&names, p)?;
    x.element("PolicyNames", |x| {
        for name in page.items {
            x.text("member", name);
        }
    });
    page.write_end(x);
    Ok(())
}

/// One page of a listing, by `Marker` and `MaxItems`. Markers are offsets
/// into the (name-ordered) listing.
struct Page<'a, T> {
    items: &'a [T],
    next: Option<usize>,
}

const DEFAULT_MAX_ITEMS: usize = 100;

impl<'a, T> Page<'a, T> {
    fn of(all: &'a [T], p: &Params) -> Result<Self, QueryError> {
        let start = match p.get("Marker") {
            None => 0,
            Some(marker) => marker
                .parse::<usize>()
                .ok()
                .filter(|&s| s <= all.len())
                .ok_or_else(|| QueryError::validation("Invalid Marker."))?,
        };
        let max = match p.int("MaxItems")? {
            None => DEFAULT_MAX_ITEMS,
            Some(n @ 1..=1000) => n as usize,
            Some(n) => {
                return Err(QueryError::validation(format!(
                    "1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value {}",
                    if n < 1 {
                        "greater than or equal to 1"
                    } else {
                        "less than or equal to 1000"
                    }
                )));
            }
        };
        let end = start.saturating_add(max).min(all.len());
        Ok(Self {
            items: all.get(start..end).unwrap_or_default(),
            next: (end < all.len()).then_some(end),
        })
    }

    /// The page as `<WRAPPER><member>…</member>…</WRAPPER>`, then its end.
    fn write(&self, x: &mut Xml, wrapper: &str, member: impl Fn(&mut Xml, &T)) {
        x.element(wrapper, |x| {
            for item in self.items {
                x.element("member", |x| member(x, item));
            }
        });
        self.write_end(x);
    }

    /// `<IsTruncated>` and, when there is more, `<Marker>`.
    fn write_end(&self, x: &mut Xml) {
        x.text(
            "IsTruncated",
            if self.next.is_some() { "true" } else { "false" },
        );
        if let Some(next) = self.next {
            x.text("Marker", &next.to_string());
        }
    }
}
