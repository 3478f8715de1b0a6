import { child, childText } from '../../aws';
import { ErrorAlert, PageHeading, useApi, useAsync } from '../../components';
import { decodePolicyDocument, entityOf, forgetCreated, rememberCreated } from '../../iam';
import { formatDate } from '../../format';
import { InlinePolicies } from './InlinePolicies';

/** One IAM role: GetRole (its trust policy), inline policies. */
export function IamRole({ name }: { name: string }) {
  const { aws } = useApi();
  const role = useAsync(async () => {
    let r;
    try {
      r = await aws.iam('GetRole', { RoleName: name });
    } catch (e) {
      forgetCreated('Role', name);
      throw e;
    }
    const el = child(r, 'Role');
    if (!el) throw new Error('The server answered GetRole without a Role.');
    const entity = entityOf('Role', el);
    rememberCreated(entity);
    return {
      entity,
      description: childText(el, 'Description'),
      maxSession: childText(el, 'MaxSessionDuration'),
      trust: decodePolicyDocument(childText(el, 'AssumeRolePolicyDocument') ?? ''),
    };
  }, [aws, name]);
  const r = role.data;

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href="#/iam/roles">IAM roles</a> <span aria-hidden="true">/</span>
      </nav>
      <PageHeading title={`Role ${name}`}>
        <span className="mono">{name}</span>
      </PageHeading>
      <ErrorAlert error={role.error} testId="role-error" />
      {role.loading && !r && <p className="hint">Loading the role…</p>}
      {r && (
        <>
          <section className="panel" aria-labelledby="role-summary-heading">
            <h2 id="role-summary-heading">Summary</h2>
            <dl className="meta" data-testid="role-summary">
              <dt>ARN</dt>
              <dd className="mono" data-testid="role-arn">{r.entity.arn}</dd>
              <dt>Role ID</dt>
              <dd className="mono">{r.entity.id}</dd>
              <dt>Path</dt>
              <dd className="mono">{r.entity.path}</dd>
              <dt>Description</dt>
              <dd>{r.description || <span className="muted">none</span>}</dd>
              <dt>Maximum session duration</dt>
              <dd>{r.maxSession ? `${r.maxSession} seconds` : ''}</dd>
              <dt>Creation date</dt>
              <dd>{formatDate(r.entity.created)}</dd>
            </dl>
          </section>
          <section className="panel" aria-labelledby="role-trust-heading">
            <h2 id="role-trust-heading">Trust policy</h2>
            <pre className="code" tabIndex={0} aria-labelledby="role-trust-heading" data-testid="role-trust-policy">
              {r.trust}
            </pre>
          </section>
          <InlinePolicies kind="Role" name={name} />
        </>
      )}
    </section>
  );
}
