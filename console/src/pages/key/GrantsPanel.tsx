import { useId, useState, type FormEvent } from 'react';
import { CopyButton, ErrorAlert, Outcome, PairRows, pairsToObject, useAction, useApi, useAsync, type Pair } from '../../components';
import { formatDate } from '../../format';
import type { CreateGrantResponse, GrantListEntry, KeyMetadata, ListGrantsResponse } from '../../kmsTypes';
import { grantOperations } from '../../policy';
import type { Principals } from '../../principals';

type ConstraintKind = '' | 'EncryptionContextSubset' | 'EncryptionContextEquals';

function contextText(context: Record<string, string> | undefined): string {
  return Object.entries(context ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** Grants: ListGrants, CreateGrant (grantee, operations, an encryption-context constraint), RevokeGrant. */
export function GrantsPanel({ keyId, meta, principals }: { keyId: string; meta?: KeyMetadata; principals: Principals }) {
  const { aws } = useApi();
  const id = useId();
  const grants = useAsync(async () => {
    const out: GrantListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await aws.kms<ListGrantsResponse>('ListGrants', {
        KeyId: keyId,
        Limit: 100,
        ...(marker ? { Marker: marker } : {}),
      });
      out.push(...(page.Grants ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return out;
  }, [aws, keyId]);
  const known = [...(principals.users.data ?? []), ...(principals.roles.data ?? [])];

  const operations = grantOperations(meta?.KeySpec, meta?.KeyUsage);
  const [grantee, setGrantee] = useState('');
  const [retiring, setRetiring] = useState('');
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<string[]>([]);
  const [constraint, setConstraint] = useState<ConstraintKind>('');
  const [context, setContext] = useState<Pair[]>([{ key: '', value: '' }]);
  const [created, setCreated] = useState<CreateGrantResponse>();
  const create = useAction();
  const revoke = useAction();

  const toggle = (op: string, on: boolean) =>
    setChosen((c) => (on ? [...c.filter((o) => o !== op), op] : c.filter((o) => o !== op)));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCreated(undefined);
    void create.run(async () => {
      const ctx = pairsToObject(context);
      const r = await aws.kms<CreateGrantResponse>('CreateGrant', {
        KeyId: keyId,
        GranteePrincipal: grantee.trim(),
        // In the order the form lists them.
        Operations: operations.filter((o) => chosen.includes(o)),
        ...(retiring.trim() ? { RetiringPrincipal: retiring.trim() } : {}),
        ...(name.trim() ? { Name: name.trim() } : {}),
        ...(constraint ? { Constraints: { [constraint]: ctx } } : {}),
      });
      setCreated(r);
      setGrantee('');
      setRetiring('');
      setName('');
      setChosen([]);
      setConstraint('');
      setContext([{ key: '', value: '' }]);
      grants.reload();
      return `Grant ${r.GrantId ?? ''} created.`;
    });
  };

  const revokeGrant = (grantId: string) =>
    revoke.run(async () => {
      await aws.kms('RevokeGrant', { KeyId: keyId, GrantId: grantId });
      grants.reload();
      return `Grant ${grantId} revoked.`;
    });

  return (
    <section aria-labelledby="grants-heading" className="panel" data-testid="grants-panel">
      <h2 id="grants-heading" tabIndex={-1}>Grants</h2>
      <ErrorAlert error={grants.error} testId="grants-error" />
      {grants.data &&
        (grants.data.length === 0 ? (
          <p className="muted" data-testid="grants-empty">
            No grants.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="data-table compact" aria-labelledby="grants-heading" data-testid="grants-table">
              <thead>
                <tr>
                  <th scope="col">Grant</th>
                  <th scope="col">Grantee principal</th>
                  <th scope="col">Operations</th>
                  <th scope="col">Constraints</th>
                  <th scope="col">Creation date</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {grants.data.map((g) => (
                  <tr key={g.GrantId} data-testid="grant-row" data-grant-id={g.GrantId}>
                    <td data-label="Grant">
                      {g.Name && <div>{g.Name}</div>}
                      <div className="mono small">{g.GrantId}</div>
                    </td>
                    <td data-label="Grantee principal" className="mono small">
                      {g.GranteePrincipal}
                      {g.RetiringPrincipal && <div className="muted">retiring: {g.RetiringPrincipal}</div>}
                    </td>
                    <td data-label="Operations">{(g.Operations ?? []).join(', ')}</td>
                    <td data-label="Constraints" className="small">
                      {g.Constraints?.EncryptionContextSubset && (
                        <div>Context includes {contextText(g.Constraints.EncryptionContextSubset)}</div>
                      )}
                      {g.Constraints?.EncryptionContextEquals && (
                        <div>Context equals {contextText(g.Constraints.EncryptionContextEquals)}</div>
                      )}
                      {!g.Constraints && <span className="muted">none</span>}
                    </td>
                    <td data-label="Creation date">{formatDate(g.CreationDate)}</td>
                    <td data-label="Actions">
                      <button
                        type="button"
                        className="secondary"
                        onClick={() => void revokeGrant(g.GrantId)}
                        disabled={revoke.busy}
                        aria-label={`Revoke grant ${g.Name || g.GrantId}`}
                        data-testid="revoke-grant"
                      >
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <Outcome action={revoke} name="revoke-grant" />

      <form onSubmit={submit} noValidate aria-labelledby={`${id}-create`} data-testid="create-grant-form">
        <h3 id={`${id}-create`}>Create grant</h3>
        <div className="key-picker">
          <div className="field">
            <label htmlFor={`${id}-grantee`}>Grantee principal (ARN)</label>
            <input
              id={`${id}-grantee`}
              value={grantee}
              onChange={(e) => setGrantee(e.target.value)}
              list={`${id}-principals`}
              placeholder="arn:aws:iam::111122223333:user/Name"
              spellCheck={false}
              autoCapitalize="off"
              autoComplete="off"
              data-testid="grant-grantee"
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-retiring`}>Retiring principal (ARN, optional)</label>
            <input
              id={`${id}-retiring`}
              value={retiring}
              onChange={(e) => setRetiring(e.target.value)}
              list={`${id}-principals`}
              spellCheck={false}
              autoCapitalize="off"
              autoComplete="off"
              data-testid="grant-retiring"
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-name`}>Grant name (optional)</label>
            <input
              id={`${id}-name`}
              value={name}
              onChange={(e) => setName(e.target.value)}
              spellCheck={false}
              autoComplete="off"
              data-testid="grant-name"
            />
          </div>
          <datalist id={`${id}-principals`}>
            {known.map((p) => (
              <option key={p.arn} value={p.arn}>
                {p.name} ({p.kind})
              </option>
            ))}
          </datalist>
        </div>
        <fieldset data-testid="grant-operations">
          <legend>Operations</legend>
          <ul className="checklist columns">
            {operations.map((op) => (
              <li key={op}>
                <input
                  type="checkbox"
                  id={`${id}-op-${op}`}
                  checked={chosen.includes(op)}
                  onChange={(e) => toggle(op, e.target.checked)}
                  data-testid={`grant-op-${op}`}
                />
                <label htmlFor={`${id}-op-${op}`}>{op}</label>
              </li>
            ))}
          </ul>
        </fieldset>
        <div className="field">
          <label htmlFor={`${id}-constraint`}>Encryption context constraint</label>
          <select
            id={`${id}-constraint`}
            value={constraint}
            onChange={(e) => setConstraint(e.target.value as ConstraintKind)}
            data-testid="grant-constraint"
          >
            <option value="">None</option>
            <option value="EncryptionContextSubset">The request's context includes these pairs (subset)</option>
            <option value="EncryptionContextEquals">The request's context is exactly these pairs (equals)</option>
          </select>
        </div>
        {constraint && (
          <PairRows
            legend="Constraint's encryption context"
            rows={context}
            onChange={setContext}
            keyLabel="Constraint key"
            valueLabel="Constraint value"
            addLabel="Add constraint pair"
            itemName="constraint pair"
            testId="grant-context"
          />
        )}
        <button type="submit" disabled={create.busy} data-testid="create-grant">
          {create.busy ? 'Creating…' : 'Create grant'}
        </button>
        <Outcome action={create} name="create-grant" />
        {created?.GrantToken && (
          <div className="field">
            <label htmlFor={`${id}-token`}>Grant token</label>
            <div className="with-button">
              <input id={`${id}-token`} readOnly value={created.GrantToken} className="mono" data-testid="grant-token" />
              <CopyButton text={created.GrantToken} label="Copy the grant token" testId="copy-grant-token" />
            </div>
          </div>
        )}
      </form>
    </section>
  );
}
