import { child, childText, describeError, members } from '../../aws';
import { ErrorAlert, PageHeading, useApi, useAsync } from '../../components';
import { entityOf } from '../../iam';
import { formatDate } from '../../format';
import { InlinePolicies } from './InlinePolicies';

/** One IAM user: GetUser, its access keys, its inline policies. */
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
                {keys.error !== undefined ? (
                  <span className="error-text">{describeError(keys.error)}</span>
                ) : (keys.data ?? []).length === 0 ? (
                  <span className="muted">{keys.loading ? 'loading…' : 'none'}</span>
                ) : (
                  (keys.data ?? []).map((k) => (
                    <div key={k.id} className="mono small">
                      {k.id} <span className="muted">{k.status}</span>
                    </div>
                  ))
                )}
              </dd>
            </dl>
            <p className="hint">
              New access keys are made on the <a href="#/iam/users">users list</a>, where the secret is shown once.
            </p>
          </section>
          <InlinePolicies kind="User" name={name} />
        </>
      )}
    </section>
  );
}
