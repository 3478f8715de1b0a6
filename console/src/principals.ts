// The IAM users and roles of the signed-in account, for the pickers of the
// create-key wizard, the key policy view and the grants form.

import { useApi, useAsync } from './components';
import { byName, createdInSession, entityOf, isMissingAction, listAll } from './iam';

export interface Principal {
  arn: string;
  name: string;
  kind: 'User' | 'Role';
}

export function usePrincipals() {
  const { aws } = useApi();
  const users = useAsync(async () => {
    const list = (await listAll(aws, 'ListUsers', 'Users')).map((m) => entityOf('User', m));
    return list.sort(byName).map((u): Principal => ({ arn: u.arn, name: u.name, kind: 'User' }));
  }, [aws]);
  const listed = useAsync(async () => {
    let list;
    let unlisted = false;
    try {
      list = (await listAll(aws, 'ListRoles', 'Roles')).map((m) => entityOf('Role', m));
    } catch (e) {
      // A server without ListRoles: the roles created in this page.
      if (!isMissingAction(e)) throw e;
      list = createdInSession('Role');
      unlisted = true;
    }
    return { roles: list.sort(byName).map((r): Principal => ({ arn: r.arn, name: r.name, kind: 'Role' })), unlisted };
  }, [aws]);
  const roles = { data: listed.data?.roles, error: listed.error, loading: listed.loading, reload: listed.reload };
  /** True when the server does not list roles (no ListRoles): only those created in this page are known. */
  const rolesUnlisted = listed.data?.unlisted ?? false;
  return { users, roles, rolesUnlisted };
}

export type Principals = ReturnType<typeof usePrincipals>;
