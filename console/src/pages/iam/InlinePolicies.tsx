import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { childText, describeError, members } from '../../aws';
import { ErrorAlert, Outcome, mapLimit, useAction, useApi, useAsync } from '../../components';
import { POLICY_TEMPLATE, decodePolicyDocument, inlinePolicyActions, type EntityKind } from '../../iam';

interface InlinePolicy {
  name: string;
  document?: string;
  error?: unknown;
}

/**
 * The inline policies of a user, group or role: List/Get/Put/Delete<Kind>Policy.
 * The server checks each document; its refusal is shown as it worded it.
 */
export function InlinePolicies({ kind, name }: { kind: EntityKind; name: string }) {
  const { aws } = useApi();
  const id = useId();
  const ops = inlinePolicyActions(kind);
  const policies = useAsync(async () => {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const r = await aws.iam(ops.list, { [ops.owner]: name, MaxItems: 1000, Marker: marker });
      names.push(...members(r, 'PolicyNames').map((m) => m.textContent ?? ''));
      marker = childText(r, 'IsTruncated') === 'true' ? childText(r, 'Marker') : undefined;
    } while (marker);
    return mapLimit(names.sort(), 4, async (policyName): Promise<InlinePolicy> => {
      try {
        const r = await aws.iam(ops.get, { [ops.owner]: name, PolicyName: policyName });
        return { name: policyName, document: decodePolicyDocument(childText(r, 'PolicyDocument') ?? '') };
      } catch (e) {
        return { name: policyName, error: e };
      }
    });
  }, [aws, kind, name]);

  const [policyName, setPolicyName] = useState('');
  const [document, setDocument] = useState(POLICY_TEMPLATE);
  const save = useAction();
  const remove = useAction();
  const nameInput = useRef<HTMLInputElement>(null);
  const [editRequest, setEditRequest] = useState(0);
  useEffect(() => {
    if (editRequest > 0) nameInput.current?.focus();
  }, [editRequest]);

  const edit = (p: InlinePolicy) => {
    save.clear();
    setPolicyName(p.name);
    setDocument(p.document ?? '');
    setEditRequest((n) => n + 1);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const target = policyName.trim();
    void save.run(async () => {
      if (!target) throw new Error('Enter a policy name.');
      await aws.iam(ops.put, { [ops.owner]: name, PolicyName: target, PolicyDocument: document });
      policies.reload();
      setPolicyName('');
      setDocument(POLICY_TEMPLATE);
      return `Policy ${target} saved.`;
    });
  };

  const del = (policy: string) =>
    remove.run(async () => {
      await aws.iam(ops.remove, { [ops.owner]: name, PolicyName: policy });
      policies.reload();
      return `Policy ${policy} deleted.`;
    });

  return (
    <section aria-labelledby={`${id}-heading`} className="panel" data-testid="inline-policies">
      <h2 id={`${id}-heading`}>Inline policies</h2>
      <ErrorAlert error={policies.error} testId="inline-policies-error" />
      {policies.data &&
        (policies.data.length === 0 ? (
          <p className="muted" data-testid="inline-policies-empty">
            No inline policies.
          </p>
        ) : (
          <ul className="plain policy-list">
            {policies.data.map((p) => (
              <li key={p.name} className="policy-item" data-testid="inline-policy" data-policy-name={p.name}>
                <div className="page-head">
                  <h3 id={`${id}-p-${p.name}`}>{p.name}</h3>
                  <div className="actions">
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => edit(p)}
                      disabled={p.document === undefined}
                      aria-label={`Edit policy ${p.name}`}
                      data-testid="edit-inline-policy"
                    >
                      Edit
                    </button>
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => void del(p.name)}
                      disabled={remove.busy}
                      aria-label={`Delete policy ${p.name}`}
                      data-testid="delete-inline-policy"
                    >
                      Delete
                    </button>
                  </div>
                </div>
                {p.error !== undefined ? (
                  <p className="error-text">{describeError(p.error)}</p>
                ) : (
                  <pre className="code" tabIndex={0} aria-labelledby={`${id}-p-${p.name}`} data-testid="inline-policy-document-view">
                    {p.document}
                  </pre>
                )}
              </li>
            ))}
          </ul>
        ))}
      <Outcome action={remove} name="delete-inline-policy" />

      <form onSubmit={submit} noValidate aria-labelledby={`${id}-put`} data-testid="inline-policy-form">
        <h3 id={`${id}-put`}>Add or replace an inline policy</h3>
        <div className="field">
          <label htmlFor={`${id}-name`}>Policy name</label>
          <input
            id={`${id}-name`}
            ref={nameInput}
            value={policyName}
            onChange={(e) => setPolicyName(e.target.value)}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            data-testid="inline-policy-name"
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-document`}>Policy document (JSON)</label>
          <textarea
            id={`${id}-document`}
            className="mono code-editor"
            value={document}
            onChange={(e) => setDocument(e.target.value)}
            rows={Math.min(24, Math.max(8, document.split('\n').length + 1))}
            spellCheck={false}
            autoCapitalize="off"
            aria-describedby={`${id}-document-hint`}
            data-testid="inline-policy-document"
          />
          <p id={`${id}-document-hint`} className="hint">
            Saved with {ops.put}: a policy of the same name is replaced.
          </p>
        </div>
        <button type="submit" disabled={save.busy} data-testid="inline-policy-save">
          {save.busy ? 'Saving…' : 'Save policy'}
        </button>
        <Outcome action={save} name="inline-policy" />
      </form>
    </section>
  );
}
