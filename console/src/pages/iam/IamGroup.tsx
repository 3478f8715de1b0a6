import { useState, type FormEvent } from 'react';
import { child, childText, describeError, members } from '../../aws';
import { ErrorAlert, Outcome, PageHeading, useAction, useApi, useAsync } from '../../components';
import { byName, entityOf, forgetCreated, listAll, rememberCreated, type Entity } from '../../iam';
import { formatDate } from '../../format';
import { iamHref } from '../../router';
import { InlinePolicies } from './InlinePolicies';

/** One IAM group: GetGroup (its users), AddUserToGroup, RemoveUserFromGroup, inline policies. */
export function IamGroup({ name }: { name: string }) {
  const { aws } = useApi();
  const group = useAsync(async () => {
    const users: Entity[] = [];
    let group: Entity | undefined;
    let marker: string | undefined;
    try {
      do {
        const r = await aws.iam('GetGroup', { GroupName: name, MaxItems: 1000, Marker: marker });
        const el = child(r, 'Group');
        if (el && !group) group = entityOf('Group', el);
        users.push(...members(r, 'Users').map((m) => entityOf('User', m)));
        marker = childText(r, 'IsTruncated') === 'true' ? childText(r, 'Marker') : undefined;
      } while (marker);
    } catch (e) {
      forgetCreated('Group', name);
      throw e;
    }
    if (group) rememberCreated(group);
    return { group, users: users.sort(byName) };
  }, [aws, name]);
  const allUsers = useAsync(async () => (await listAll(aws, 'ListUsers', 'Users')).map((m) => entityOf('User', m)).sort(byName), [aws]);

  const [adding, setAdding] = useState('');
  const change = useAction();

  const add = (e: FormEvent) => {
    e.preventDefault();
    const userName = adding.trim();
    void change.run(async () => {
      if (!userName) throw new Error('Enter or choose a user name.');
      await aws.iam('AddUserToGroup', { GroupName: name, UserName: userName });
      setAdding('');
      group.reload();
      return `${userName} added to ${name}.`;
    });
  };
  const remove = (userName: string) =>
    change.run(async () => {
      await aws.iam('RemoveUserFromGroup', { GroupName: name, UserName: userName });
      group.reload();
      return `${userName} removed from ${name}.`;
    });

  const g = group.data?.group;
  const memberNames = new Set((group.data?.users ?? []).map((u) => u.name));
  const candidates = (allUsers.data ?? []).filter((u) => !memberNames.has(u.name));

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href="#/iam/groups">IAM groups</a> <span aria-hidden="true">/</span>
      </nav>
      <PageHeading title={`Group ${name}`}>
        <span className="mono">{name}</span>
      </PageHeading>
      <ErrorAlert error={group.error} testId="group-error" />
      {group.loading && !group.data && <p className="hint">Loading the group…</p>}
      {g && (
        <section className="panel" aria-labelledby="group-summary-heading">
          <h2 id="group-summary-heading">Summary</h2>
          <dl className="meta" data-testid="group-summary">
            <dt>ARN</dt>
            <dd className="mono" data-testid="group-arn">{g.arn}</dd>
            <dt>Group ID</dt>
            <dd className="mono">{g.id}</dd>
            <dt>Path</dt>
            <dd className="mono">{g.path}</dd>
            <dt>Creation date</dt>
            <dd>{formatDate(g.created)}</dd>
          </dl>
        </section>
      )}
      {group.data && (
        <section className="panel" aria-labelledby="group-users-heading">
          <h2 id="group-users-heading">Users in this group</h2>
          {group.data.users.length === 0 ? (
            <p className="muted" data-testid="group-users-empty">
              No users.
            </p>
          ) : (
            <ul className="principal-list" data-testid="group-users">
              {group.data.users.map((u) => (
                <li key={u.name} data-testid="group-user" data-user-name={u.name}>
                  <span className="principal-name">
                    <a href={iamHref('users', u.name)}>{u.name}</a>
                    <span className="mono small">{u.arn}</span>
                  </span>
                  <button
                    type="button"
                    className="secondary"
                    onClick={() => void remove(u.name)}
                    disabled={change.busy}
                    aria-label={`Remove ${u.name} from the group`}
                    data-testid="remove-group-user"
                  >
                    Remove
                  </button>
                </li>
              ))}
            </ul>
          )}
          <form className="inline-form" onSubmit={add} noValidate aria-labelledby="add-group-user-heading">
            <h3 id="add-group-user-heading">Add a user</h3>
            <div className="field">
              <label htmlFor="add-group-user">User name</label>
              <input
                id="add-group-user"
                value={adding}
                onChange={(e) => setAdding(e.target.value)}
                list="add-group-user-options"
                spellCheck={false}
                autoCapitalize="off"
                autoComplete="off"
                data-testid="add-group-user"
              />
              <datalist id="add-group-user-options">
                {candidates.map((u) => (
                  <option key={u.name} value={u.name} />
                ))}
              </datalist>
            </div>
            <button type="submit" disabled={change.busy} data-testid="add-group-user-submit">
              Add user to group
            </button>
          </form>
          {allUsers.error !== undefined && (
            <p className="hint">IAM users could not be listed: {describeError(allUsers.error)}</p>
          )}
          <Outcome action={change} name="group-change" />
        </section>
      )}
      {g && <InlinePolicies kind="Group" name={name} />}
    </section>
  );
}
