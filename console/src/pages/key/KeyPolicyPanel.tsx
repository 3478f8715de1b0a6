import { useId, useState, type FormEvent } from 'react';
import { describeError } from '../../aws';
import { ErrorAlert, Outcome, Status, useAction, useApi, useAsync } from '../../components';
import type { GetKeyPolicyResponse, KeyMetadata } from '../../kmsTypes';
import {
  addKeyRole,
  keyRoles,
  prettyJson,
  removeKeyRole,
  type KeyRole,
  type KeyRoles,
  type KeyUsage,
} from '../../policy';
import type { Principals } from '../../principals';

const ROLE_TEXT: Record<KeyRole, { title: string; one: string; hint: string; testId: string }> = {
  administrators: {
    title: 'Key administrators',
    one: 'key administrator',
    hint: 'They manage the key through the KMS API (statement "Allow access for Key Administrators").',
    testId: 'key-administrators',
  },
  users: {
    title: 'Key users',
    one: 'key user',
    hint: 'They use the key in cryptographic operations (statement "Allow use of the key").',
    testId: 'key-users',
  },
};

/**
 * The key policy: the "key administrators / key users" view built from its
 * statements (each change written back with PutKeyPolicy), and the JSON
 * document with an editor. Every refusal is the server's, verbatim.
 */
export function KeyPolicyPanel({ keyId, meta, principals }: { keyId: string; meta?: KeyMetadata; principals: Principals }) {
  const { aws } = useApi();
  const policy = useAsync(async () => {
    const r = await aws.kms<GetKeyPolicyResponse>('GetKeyPolicy', { KeyId: keyId, PolicyName: 'default' });
    return prettyJson(r.Policy ?? '');
  }, [aws, keyId]);
  const roleAction = useAction();
  const save = useAction();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');

  let roles: KeyRoles | undefined;
  let rolesProblem: string | undefined;
  if (policy.data !== undefined) {
    try {
      roles = keyRoles(policy.data);
    } catch (e) {
      rolesProblem = describeError(e);
    }
  }

  const shape = { keySpec: meta?.KeySpec ?? 'SYMMETRIC_DEFAULT', keyUsage: (meta?.KeyUsage ?? 'ENCRYPT_DECRYPT') as KeyUsage };

  const changeRole = (role: KeyRole, arn: string, add: boolean) =>
    roleAction.run(async () => {
      const current = policy.data;
      if (current === undefined) throw new Error('The key policy is not loaded yet.');
      const target = arn.trim();
      if (add && !target.startsWith('arn:')) {
        throw new Error(`"${target}" is not an ARN (arn:aws:iam::ACCOUNT:user/NAME or …:role/NAME).`);
      }
      const next = add ? addKeyRole(current, role, target, shape) : removeKeyRole(current, role, target, shape);
      await aws.kms('PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: next });
      policy.reload();
      return add
        ? `${target} is now a ${ROLE_TEXT[role].one}.`
        : `${target} is no longer a ${ROLE_TEXT[role].one}.`;
    });

  const startEditing = () => {
    save.clear();
    setDraft(policy.data ?? '');
    setEditing(true);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save.run(async () => {
      await aws.kms('PutKeyPolicy', { KeyId: keyId, PolicyName: 'default', Policy: draft });
      setEditing(false);
      policy.reload();
      return 'The key policy is saved.';
    });
  };

  return (
    <section aria-labelledby="policy-heading" className="panel" data-testid="key-policy-panel">
      <h2 id="policy-heading" tabIndex={-1}>Key policy</h2>
      <ErrorAlert error={policy.error} testId="key-policy-error" />
      {policy.loading && policy.data === undefined && <p className="hint">Loading the key policy…</p>}

      {policy.data !== undefined && (
        <>
          {rolesProblem && (
            <p className="alert alert-warn" role="alert" data-testid="key-roles-problem">
              The key administrators and users cannot be shown: {rolesProblem}
            </p>
          )}
          {roles && (
            <div className="role-columns">
              {(['administrators', 'users'] as const).map((role) => (
                <RoleList
                  key={role}
                  role={role}
                  arns={roles[role]}
                  principals={principals}
                  busy={roleAction.busy}
                  onAdd={(arn) => changeRole(role, arn, true)}
                  onRemove={(arn) => void changeRole(role, arn, false)}
                />
              ))}
            </div>
          )}
          <Outcome action={roleAction} name="key-roles" />

          <h3 id="policy-document-heading">Policy document</h3>
          {editing ? (
            <form onSubmit={submit} noValidate aria-labelledby="policy-document-heading">
              <div className="field">
                <label htmlFor="key-policy-editor">Key policy (JSON)</label>
                <textarea
                  id="key-policy-editor"
                  className="mono code-editor"
                  value={draft}
                  onChange={(e) => setDraft(e.target.value)}
                  rows={Math.min(30, Math.max(10, draft.split('\n').length + 1))}
                  spellCheck={false}
                  autoCapitalize="off"
                  aria-describedby="key-policy-editor-hint"
                  data-testid="key-policy-editor"
                />
                <p id="key-policy-editor-hint" className="hint">
                  Saved with PutKeyPolicy; the server checks the document and says what it refuses.
                </p>
              </div>
              <div className="actions">
                <button type="submit" disabled={save.busy} data-testid="key-policy-save">
                  {save.busy ? 'Saving…' : 'Save policy'}
                </button>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => {
                    save.clear();
                    setEditing(false);
                  }}
                  data-testid="key-policy-cancel"
                >
                  Cancel
                </button>
              </div>
            </form>
          ) : (
            <>
              <pre className="code" tabIndex={0} aria-labelledby="policy-document-heading" data-testid="key-policy">
                {policy.data}
              </pre>
              <div className="actions spaced">
                <button type="button" className="secondary" onClick={startEditing} data-testid="key-policy-edit">
                  Edit policy
                </button>
              </div>
            </>
          )}
          <ErrorAlert error={save.error} testId="key-policy-save-error" />
          {save.message && <Status testId="key-policy-status">{save.message}</Status>}
        </>
      )}
    </section>
  );
}

function RoleList({
  role,
  arns,
  principals,
  busy,
  onAdd,
  onRemove,
}: {
  role: KeyRole;
  arns: string[];
  principals: Principals;
  busy: boolean;
  onAdd: (arn: string) => Promise<boolean>;
  onRemove: (arn: string) => void;
}) {
  const id = useId();
  const text = ROLE_TEXT[role];
  const [adding, setAdding] = useState('');
  const known = [...(principals.users.data ?? []), ...(principals.roles.data ?? [])];
  const nameOf = (arn: string) => known.find((p) => p.arn === arn);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (await onAdd(adding)) setAdding('');
  };
  return (
    <section aria-labelledby={`${id}-heading`} className="role-list" data-testid={text.testId}>
      <h3 id={`${id}-heading`}>{text.title}</h3>
      <p className="hint">{text.hint}</p>
      {arns.length === 0 ? (
        <p className="muted" data-testid={`${text.testId}-none`}>
          None.
        </p>
      ) : (
        <ul className="principal-list">
          {arns.map((arn) => {
            const p = nameOf(arn);
            return (
              <li key={arn} data-testid={`${text.testId}-member`} data-arn={arn}>
                <span className="principal-name">
                  {p ? (
                    <>
                      {p.name} <span className="muted">{p.kind}</span>
                    </>
                  ) : null}
                  <span className="mono small">{arn}</span>
                </span>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => onRemove(arn)}
                  disabled={busy}
                  aria-label={`Remove ${p?.name ?? arn} from the ${text.title.toLowerCase()}`}
                  data-testid={`remove-${text.testId}`}
                >
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <form className="inline-form" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field">
          <label htmlFor={`${id}-add`}>Add {text.one} (ARN)</label>
          <input
            id={`${id}-add`}
            value={adding}
            onChange={(e) => setAdding(e.target.value)}
            list={`${id}-options`}
            placeholder="arn:aws:iam::111122223333:user/Name"
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            data-testid={`add-${text.testId}`}
          />
          <datalist id={`${id}-options`}>
            {known
              .filter((p) => !arns.includes(p.arn))
              .map((p) => (
                <option key={p.arn} value={p.arn}>
                  {p.name} ({p.kind})
                </option>
              ))}
          </datalist>
        </div>
        <button
          type="submit"
          disabled={busy || adding.trim() === ''}
          aria-label={`Add ${text.one}`}
          data-testid={`add-${text.testId}-submit`}
        >
          Add
        </button>
      </form>
    </section>
  );
}
