import type { ReactNode } from 'react';
import { child, childText, describeError, members } from '../../aws';
import { ErrorAlert, PageHeading, useApi, useAsync, type AsyncState } from '../../components';
import { byName, entityOf, listAll } from '../../iam';
import { formatDate } from '../../format';
import { iamHref } from '../../router';
import { InlinePolicies } from './InlinePolicies';

/** One IAM user: GetUser, its access keys, its groups, its inline policies. */
export function IamUser({ name }: { name: string }) {
  const { aws } = useApi();
  const user = useAsync(async () => {
    const r = await aws.iam('GetUser', { UserName: name });
    const el = child(r, 'User');
    if (!el) throw new Error('The server answered GetUser without a User.');
    return entityOf('User', el);
  }, [aws, name]);
  const keys = useAsync(async () => {
    const r = await aws.iam('ListAccessKeys', { UserName: name });
    return members(r, 'AccessKeyMetadata').map((k) => ({
      id: childText(k, 'AccessKeyId') ?? '',
      status: childText(k, 'Status') ?? '',
      created: childText(k, 'CreateDate') ?? '',
    }));
  }, [aws, name]);
  const groups = useAsync(
    async () =>
      (await listAll(aws, 'ListGroupsForUser', 'Groups', { UserName: name })).map((m) => entityOf('Group', m)).sort(byName),
    [aws, name],
  );
  const u = user.data;

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href="#/iam/users">IAM users</a> <span aria-hidden="true">/</span>
      </nav>
      <PageHeading title={`User ${name}`}>
        <span className="mono">{name}</span>
      </PageHeading>
      <ErrorAlert error={user.error} testId="user-error" />
      {user.loading && !u && <p className="hint">Loading the user…</p>}
      {u && (
        <>
          <section className="panel" aria-labelledby="user-summary-heading">
            <h2 id="user-summary-heading">Summary</h2>
            <dl className="meta" data-testid="user-summary">
              <dt>ARN</dt>
              <dd className="mono" data-testid="user-arn">{u.arn}</dd>
              <dt>User ID</dt>
              <dd className="mono">{u.id}</dd>
              <dt>Path</dt>
              <dd className="mono">{u.path}</dd>
              <dt>Creation date</dt>
              <dd>{formatDate(u.created)}</dd>
              <dt>Access keys</dt>
              <dd data-testid="user-access-keys">
                <Listed state={keys}>
                  {(k) => (
                    <div key={k.id} className="mono small">
                      {k.id} <span className="muted">{k.status}</span>
                    </div>
                  )}
                </Listed>
              </dd>
              <dt>Groups</dt>
              <dd data-testid="user-groups">
                <Listed state={groups}>
                  {(g) => (
                    <div key={g.name}>
                      <a href={iamHref('groups', g.name)} data-testid="user-group">
                        {g.name}
                      </a>
                    </div>
                  )}
                </Listed>
              </dd>
            </dl>
            <p className="hint">
              Membership is changed on each group's page.
              New access keys are made on the <a href="#/iam/users">users list</a>, where the secret is shown once.
            </p>
          </section>
          <InlinePolicies kind="User" name={name} />
        </>
      )}
    </section>
  );
}

/** A summary cell's list: the server's error, "none", or each item. */
function Listed<T>({ state, children }: { state: AsyncState<T[]>; children: (item: T) => ReactNode }) {
  if (state.error !== undefined) return <span className="error-text">{describeError(state.error)}</span>;
  const items = state.data ?? [];
  if (items.length === 0) return <span className="muted">{state.loading ? 'loading…' : 'none'}</span>;
  return <>{items.map(children)}</>;
}
