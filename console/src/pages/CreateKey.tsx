import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { describeError } from '../aws';
import { PageHeading, PairRows, useAction, useApi, type Pair } from '../components';
import { aliasName, aliasProblem } from '../format';
import type { CreateKeyResponse } from '../kmsTypes';
import { buildKeyPolicy, partitionOf, type KeyUsage } from '../policy';
import { keyHref, navigate } from '../router';
import { usePrincipals, type Principals } from '../principals';

type KeyType = 'symmetric' | 'asymmetric' | 'hmac';

const KEY_TYPES: { id: KeyType; label: string; hint: string }[] = [
  { id: 'symmetric', label: 'Symmetric', hint: 'A single key for encrypting and decrypting data (AES-256-GCM).' },
  { id: 'asymmetric', label: 'Asymmetric', hint: 'A public and private key pair for encryption, signing or key agreement.' },
  { id: 'hmac', label: 'HMAC', hint: 'A key for generating and verifying hash-based message authentication codes.' },
];

const USAGE_LABELS: Record<KeyUsage, string> = {
  ENCRYPT_DECRYPT: 'Encrypt and decrypt',
  SIGN_VERIFY: 'Sign and verify',
  GENERATE_VERIFY_MAC: 'Generate and verify MAC',
  KEY_AGREEMENT: 'Key agreement',
};

const SPECS: Record<KeyType, Partial<Record<KeyUsage, string[]>>> = {
  symmetric: { ENCRYPT_DECRYPT: ['SYMMETRIC_DEFAULT'] },
  asymmetric: {
    ENCRYPT_DECRYPT: ['RSA_2048', 'RSA_3072', 'RSA_4096'],
    SIGN_VERIFY: [
      'RSA_2048',
      'RSA_3072',
      'RSA_4096',
      'ECC_NIST_P256',
      'ECC_NIST_P384',
      'ECC_NIST_P521',
      'ECC_SECG_P256K1',
      'ECC_NIST_EDWARDS25519',
      'ML_DSA_44',
      'ML_DSA_65',
      'ML_DSA_87',
    ],
    KEY_AGREEMENT: ['ECC_NIST_P256', 'ECC_NIST_P384', 'ECC_NIST_P521'],
  },
  hmac: { GENERATE_VERIFY_MAC: ['HMAC_224', 'HMAC_256', 'HMAC_384', 'HMAC_512'] },
};

const STEPS = ['Key type and usage', 'Labels', 'Key administrators', 'Key users', 'Review'];

function parseArns(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The create-key wizard: seed 004's steps, then CreateKey and CreateAlias. */
export function CreateKey() {
  const { aws, session } = useApi();
  const [step, setStep] = useState(0);
  const [keyType, setKeyType] = useState<KeyType>('symmetric');
  const [keyUsage, setKeyUsage] = useState<KeyUsage>('ENCRYPT_DECRYPT');
  const [keySpec, setKeySpec] = useState('SYMMETRIC_DEFAULT');
  const [alias, setAlias] = useState('');
  const [description, setDescription] = useState('');
  const [tags, setTags] = useState<Pair[]>([]);
  const [admins, setAdmins] = useState<string[]>([]);
  const [otherAdmins, setOtherAdmins] = useState('');
  const [adminsMayDelete, setAdminsMayDelete] = useState(true);
  const [users, setUsers] = useState<string[]>([]);
  const [otherUsers, setOtherUsers] = useState('');
  const [problem, setProblem] = useState<string>();
  const [createdKeyId, setCreatedKeyId] = useState<string>();
  const creating = useAction();
  const principals = usePrincipals();
  const stepHeading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);

  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    stepHeading.current?.focus();
  }, [step]);

  const usages = Object.keys(SPECS[keyType]) as KeyUsage[];
  const specs = SPECS[keyType][keyUsage] ?? [];

  const chooseType = (t: KeyType) => {
    setKeyType(t);
    const u = Object.keys(SPECS[t])[0] as KeyUsage;
    setKeyUsage(u);
    setKeySpec((SPECS[t][u] ?? [])[0] ?? '');
  };
  const chooseUsage = (u: KeyUsage) => {
    setKeyUsage(u);
    const list = SPECS[keyType][u] ?? [];
    if (!list.includes(keySpec)) setKeySpec(list[0] ?? '');
  };

  const adminArns = useMemo(() => [...admins, ...parseArns(otherAdmins)], [admins, otherAdmins]);
  const userArns = useMemo(() => [...users, ...parseArns(otherUsers)], [users, otherUsers]);
  const policy = useMemo(
    () =>
      buildKeyPolicy({
        account: session.account,
        partition: partitionOf(session.arn),
        administrators: adminArns,
        users: userArns,
        keySpec,
        keyUsage,
        administratorsMayDelete: adminsMayDelete,
      }),
    [session, adminArns, userArns, keySpec, keyUsage, adminsMayDelete],
  );
  const policyText = useMemo(() => JSON.stringify(policy, null, 2), [policy]);

  /** Why the current step cannot be left forward, or undefined. */
  const stepProblem = (): string | undefined => {
    if (step === 0 && !specs.includes(keySpec)) return 'Choose a key spec.';
    if (step === 1) {
      if (alias.trim() !== '') {
        const p = aliasProblem(aliasName(alias));
        if (p) return p;
      }
      const keys = tags.map((t) => t.key.trim());
      if (tags.some((t, i) => keys[i] === '' && t.value !== '')) return 'Every tag needs a tag key.';
      const nonEmpty = keys.filter((k) => k !== '');
      if (new Set(nonEmpty).size !== nonEmpty.length) return 'Each tag key may appear only once.';
    }
    if (step === 2 || step === 3) {
      const bad = parseArns(step === 2 ? otherAdmins : otherUsers).find((a) => !a.startsWith('arn:'));
      if (bad) return `"${bad}" is not an ARN (arn:aws:iam::ACCOUNT:user/NAME).`;
    }
    return undefined;
  };

  const next = (e: FormEvent) => {
    e.preventDefault();
    const p = stepProblem();
    setProblem(p);
    if (!p) setStep((s) => Math.min(s + 1, STEPS.length - 1));
  };

  const create = () =>
    creating.run(async () => {
      let keyId = createdKeyId;
      if (!keyId) {
        const tagList = tags
          .filter((t) => t.key.trim() !== '')
          .map((t) => ({ TagKey: t.key.trim(), TagValue: t.value }));
        const created = await aws.kms<CreateKeyResponse>('CreateKey', {
          Policy: policyText,
          Description: description,
          KeyUsage: keyUsage,
          KeySpec: keySpec,
          ...(tagList.length > 0 ? { Tags: tagList } : {}),
        });
        keyId = created.KeyMetadata.KeyId;
        setCreatedKeyId(keyId);
      }
      if (alias.trim() !== '') {
        await aws.kms('CreateAlias', { AliasName: aliasName(alias), TargetKeyId: keyId });
      }
      navigate(keyHref(keyId));
    });

  const last = step === STEPS.length - 1;

  return (
    <section>
      <PageHeading title="Create key">Create key</PageHeading>
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => (
          <li key={s} aria-current={i === step ? 'step' : undefined} className={i < step ? 'done' : undefined}>
            <span className="step-number">Step {i + 1}</span> {s}
          </li>
        ))}
      </ol>

      <form onSubmit={last ? (e) => { e.preventDefault(); void create(); } : next} noValidate data-testid={`wizard-step-${step + 1}`}>
        <h2 ref={stepHeading} tabIndex={-1}>
          {STEPS[step]}
        </h2>

        {step === 0 && (
          <>
            <fieldset>
              <legend>Key type</legend>
              {KEY_TYPES.map((t) => (
                <div className="choice" key={t.id}>
                  <input
                    type="radio"
                    id={`key-type-${t.id}`}
                    name="key-type"
                    checked={keyType === t.id}
                    onChange={() => chooseType(t.id)}
                    aria-describedby={`key-type-${t.id}-hint`}
                  />
                  <label htmlFor={`key-type-${t.id}`}>{t.label}</label>
                  <p id={`key-type-${t.id}-hint`} className="hint">
                    {t.hint}
                  </p>
                </div>
              ))}
            </fieldset>
            <fieldset>
              <legend>Key usage</legend>
              {usages.map((u) => (
                <div className="choice" key={u}>
                  <input
                    type="radio"
                    id={`key-usage-${u}`}
                    name="key-usage"
                    checked={keyUsage === u}
                    onChange={() => chooseUsage(u)}
                  />
                  <label htmlFor={`key-usage-${u}`}>
                    {USAGE_LABELS[u]} <span className="muted mono">{u}</span>
                  </label>
                </div>
              ))}
            </fieldset>
            <div className="field">
              <label htmlFor="key-spec">Key spec</label>
              <select id="key-spec" value={keySpec} onChange={(e) => setKeySpec(e.target.value)} data-testid="key-spec">
                {specs.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </div>
          </>
        )}

        {step === 1 && (
          <>
            <div className="field">
              <label htmlFor="alias">Alias</label>
              <input
                id="alias"
                value={alias}
                onChange={(e) => setAlias(e.target.value)}
                placeholder="MyKey"
                spellCheck={false}
                autoCapitalize="off"
                aria-describedby="alias-hint"
                data-testid="alias"
              />
              <p id="alias-hint" className="hint">
                A display name for the key; <code>alias/</code> is added in front if you leave it out.
              </p>
            </div>
            <div className="field">
              <label htmlFor="description">Description</label>
              <textarea
                id="description"
                value={description}
                onChange={(e) => setDescription(e.target.value)}
                rows={3}
                data-testid="description"
              />
            </div>
            <PairRows
              legend="Tags"
              rows={tags}
              onChange={setTags}
              keyLabel="Tag key"
              valueLabel="Tag value"
              addLabel="Add tag"
              itemName="tag"
              testId="tags"
            />
          </>
        )}

        {step === 2 && (
          <>
            <p>Choose the IAM users and roles who can administer this key through the KMS API.</p>
            <PrincipalPicker
              legend="Key administrators"
              testId="admins"
              principals={principals}
              selected={admins}
              onChange={setAdmins}
              otherLabel="Other key administrators (ARNs)"
              other={otherAdmins}
              onOther={setOtherAdmins}
            />
            <div className="choice">
              <input
                type="checkbox"
                id="admins-may-delete"
                checked={adminsMayDelete}
                onChange={(e) => setAdminsMayDelete(e.target.checked)}
              />
              <label htmlFor="admins-may-delete">Allow key administrators to delete this key</label>
            </div>
          </>
        )}

        {step === 3 && (
          <>
            <p>Choose the IAM users and roles who can use this key in cryptographic operations.</p>
            <PrincipalPicker
              legend="Key users"
              testId="users"
              principals={principals}
              selected={users}
              onChange={setUsers}
              otherLabel="Other key users (ARNs)"
              other={otherUsers}
              onOther={setOtherUsers}
            />
          </>
        )}

        {step === 4 && (
          <>
            <dl className="meta" data-testid="review">
              <dt>Key type</dt>
              <dd>{KEY_TYPES.find((t) => t.id === keyType)?.label}</dd>
              <dt>Key usage</dt>
              <dd>{keyUsage}</dd>
              <dt>Key spec</dt>
              <dd>{keySpec}</dd>
              <dt>Alias</dt>
              <dd>{alias.trim() ? aliasName(alias) : <span className="muted">none</span>}</dd>
              <dt>Description</dt>
              <dd>{description || <span className="muted">none</span>}</dd>
              <dt>Tags</dt>
              <dd>
                {tags.filter((t) => t.key.trim()).length === 0 ? (
                  <span className="muted">none</span>
                ) : (
                  tags
                    .filter((t) => t.key.trim())
                    .map((t) => (
                      <span key={t.key} className="tag">
                        {t.key.trim()}: {t.value}
                      </span>
                    ))
                )}
              </dd>
              <dt>Key administrators</dt>
              <dd>{adminArns.length ? adminArns.map((a) => <div key={a} className="mono">{a}</div>) : <span className="muted">none</span>}</dd>
              <dt>Key users</dt>
              <dd>{userArns.length ? userArns.map((a) => <div key={a} className="mono">{a}</div>) : <span className="muted">none</span>}</dd>
            </dl>
            <h3 id="policy-preview-label">Key policy</h3>
            <pre className="code" tabIndex={0} aria-labelledby="policy-preview-label" data-testid="policy-preview">
              {policyText}
            </pre>
          </>
        )}

        {problem && (
          <p className="alert alert-error" role="alert" data-testid="wizard-problem">
            {problem}
          </p>
        )}
        {creating.error !== undefined && (
          <p className="alert alert-error" role="alert" data-testid="create-key-error">
            {createdKeyId ? (
              <>
                The key <a href={keyHref(createdKeyId)}>{createdKeyId}</a> was created, but its alias was refused:{' '}
                {describeError(creating.error)}
              </>
            ) : (
              describeError(creating.error)
            )}
          </p>
        )}

        <div className="wizard-buttons">
          {step > 0 && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setProblem(undefined);
                setStep((s) => s - 1);
              }}
              disabled={creating.busy}
              data-testid="wizard-previous"
            >
              Previous
            </button>
          )}
          <a className="button secondary" href="#/keys">
            Cancel
          </a>
          {last ? (
            <button type="submit" disabled={creating.busy} data-testid="wizard-create">
              {creating.busy ? 'Creating…' : createdKeyId ? 'Retry alias' : 'Create key'}
            </button>
          ) : (
            <button type="submit" data-testid="wizard-next">
              Next
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

/** The users and roles to choose from, and a field for other principals' ARNs. */
function PrincipalPicker({
  legend,
  testId,
  principals,
  selected,
  onChange,
  otherLabel,
  other,
  onOther,
}: {
  legend: string;
  testId: string;
  principals: Principals;
  selected: string[];
  onChange: (arns: string[]) => void;
  otherLabel: string;
  other: string;
  onOther: (text: string) => void;
}) {
  const [filter, setFilter] = useState('');
  const all = [...(principals.users.data ?? []), ...(principals.roles.data ?? [])];
  const needle = filter.trim().toLowerCase();
  const shown = needle ? all.filter((p) => p.name.toLowerCase().includes(needle) || p.arn.toLowerCase().includes(needle)) : all;
  const toggle = (arn: string, on: boolean) =>
    onChange(on ? [...selected.filter((a) => a !== arn), arn] : selected.filter((a) => a !== arn));
  const loading = principals.users.loading || principals.roles.loading;
  return (
    <>
      <fieldset className="picker" data-testid={testId}>
        <legend>{legend}</legend>
        <div className="field">
          <label htmlFor={`${testId}-filter`}>Search users and roles</label>
          <input id={`${testId}-filter`} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
        {principals.users.error !== undefined && (
          <p className="alert alert-warn" role="alert">
            IAM users could not be listed: {describeError(principals.users.error)}
          </p>
        )}
        {principals.roles.error !== undefined && (
          <p className="hint" data-testid={`${testId}-roles-error`}>
            IAM roles could not be listed: {describeError(principals.roles.error)}
          </p>
        )}
        {principals.rolesUnlisted && (
          <p className="hint" data-testid={`${testId}-roles-unlisted`}>
            This server does not list IAM roles (ListRoles): only roles created in this page are shown; give other
            role ARNs in the box below.
          </p>
        )}
        {loading && all.length === 0 && <p className="hint">Loading users and roles…</p>}
        {!loading && all.length === 0 && <p className="hint">No IAM users or roles in this account.</p>}
        <ul className="checklist">
          {shown.map((p) => {
            const id = `${testId}-${p.kind}-${p.name}`;
            return (
              <li key={p.arn}>
                <input
                  type="checkbox"
                  id={id}
                  checked={selected.includes(p.arn)}
                  onChange={(e) => toggle(p.arn, e.target.checked)}
                  data-testid={`${testId}-${p.name}`}
                  aria-describedby={`${id}-arn`}
                />
                <label htmlFor={id}>{p.name}</label>{' '}
                <span className="muted">{p.kind}</span>{' '}
                <span id={`${id}-arn`} className="muted mono small">
                  {p.arn}
                </span>
              </li>
            );
          })}
        </ul>
      </fieldset>
      <div className="field">
        <label htmlFor={`other-${testId}`}>{otherLabel}</label>
        <textarea
          id={`other-${testId}`}
          value={other}
          onChange={(e) => onOther(e.target.value)}
          rows={2}
          spellCheck={false}
          aria-describedby={`other-${testId}-hint`}
        />
        <p id={`other-${testId}-hint`} className="hint">
          One ARN per line, for principals not listed above.
        </p>
      </div>
    </>
  );
}
