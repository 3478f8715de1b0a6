import { useState, type FormEvent } from 'react';
import { ErrorAlert, Outcome, PageHeading, useAction, useApi, useAsync } from '../components';
import { formatDate } from '../format';
import type {
  DescribeKeyResponse,
  ListAliasesResponse,
  ListResourceTagsResponse,
  ScheduleKeyDeletionResponse,
  Tag,
} from '../kmsTypes';
import { usePrincipals } from '../principals';
import { playgroundHref } from '../router';
import { StateBadge } from './Keys';
import { GrantsPanel } from './key/GrantsPanel';
import { HistoryPanel } from './key/HistoryPanel';
import { KeyPolicyPanel } from './key/KeyPolicyPanel';
import { RotationPanel } from './key/RotationPanel';

/** One key: metadata, aliases, tags, its lifecycle actions, key policy, rotation, grants and history. */
export function KeyDetail({ id }: { id: string }) {
  const { aws } = useApi();
  const described = useAsync(() => aws.kms<DescribeKeyResponse>('DescribeKey', { KeyId: id }), [aws, id]);
  const meta = described.data?.KeyMetadata;
  const keyId = meta?.KeyId;

  const aliases = useAsync(async () => {
    if (!keyId) return undefined;
    const out: string[] = [];
    let marker: string | undefined;
    do {
      const page = await aws.kms<ListAliasesResponse>('ListAliases', {
        KeyId: keyId,
        Limit: 100,
        ...(marker ? { Marker: marker } : {}),
      });
      for (const a of page.Aliases ?? []) out.push(a.AliasName);
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return out.sort();
  }, [aws, keyId]);

  const tags = useAsync(async () => {
    if (!keyId) return undefined;
    const out: Tag[] = [];
    let marker: string | undefined;
    do {
      const page = await aws.kms<ListResourceTagsResponse>('ListResourceTags', {
        KeyId: keyId,
        Limit: 50,
        ...(marker ? { Marker: marker } : {}),
      });
      out.push(...(page.Tags ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    return out;
  }, [aws, keyId]);

  // The account's users and roles, offered in the key policy view and the grants form.
  const principals = usePrincipals();

  const action = useAction();
  const [days, setDays] = useState('30');
  const state = meta?.KeyState;
  // Without DescribeKey's answer the actions still go to the server, which
  // then says why it refuses them.
  const target = keyId ?? id;

  const enable = () =>
    action.run(async () => {
      await aws.kms('EnableKey', { KeyId: target });
      described.reload();
      return 'The key is enabled.';
    });
  const disable = () =>
    action.run(async () => {
      await aws.kms('DisableKey', { KeyId: target });
      described.reload();
      return 'The key is disabled.';
    });
  const schedule = (e: FormEvent) => {
    e.preventDefault();
    void action.run(async () => {
      // The range (7 to 30) is the server's to enforce, in its own words.
      const n = Number(days);
      if (days.trim() === '' || !Number.isInteger(n)) {
        throw new Error('Enter a waiting period in whole days, from 7 to 30.');
      }
      const r = await aws.kms<ScheduleKeyDeletionResponse>('ScheduleKeyDeletion', {
        KeyId: target,
        PendingWindowInDays: n,
      });
      described.reload();
      return `The key is scheduled for deletion on ${formatDate(r.DeletionDate)}.`;
    });
  };
  const cancel = () =>
    action.run(async () => {
      await aws.kms('CancelKeyDeletion', { KeyId: target });
      described.reload();
      return 'Deletion is cancelled; the key is disabled until you enable it.';
    });

  const title = aliases.data?.[0] ?? keyId ?? id;

  return (
    <section>
      <nav aria-label="Breadcrumb" className="crumbs">
        <a href="#/keys">All keys</a> <span aria-hidden="true">/</span>
      </nav>
      <div className="page-head">
        <PageHeading title={title}>
          <span className="mono">{title}</span>
        </PageHeading>
        {keyId && (
          <div className="actions">
            <a className="button secondary" href={playgroundHref(keyId)} data-testid="use-in-playground">
              Use in playground
            </a>
          </div>
        )}
      </div>

      {keyId && <OnThisPage />}

      <ErrorAlert error={described.error} testId="describe-error" />
      {described.loading && !meta && <p className="hint">Loading the key…</p>}

      {meta && (
        <section aria-labelledby="general-heading" className="panel">
          <h2 id="general-heading" tabIndex={-1}>General configuration</h2>
          <dl className="meta" data-testid="key-metadata">
            <dt>Key ID</dt>
            <dd className="mono" data-testid="key-id">{meta.KeyId}</dd>
            <dt>ARN</dt>
            <dd className="mono" data-testid="key-arn">{meta.Arn}</dd>
            <dt>Status</dt>
            <dd data-testid="key-state">
              <StateBadge state={meta.KeyState} />
              {meta.KeyState === 'PendingDeletion' && meta.DeletionDate !== undefined && (
                <> deletion on {formatDate(meta.DeletionDate)}</>
              )}
            </dd>
            <dt>Description</dt>
            <dd data-testid="key-description">{meta.Description || <span className="muted">none</span>}</dd>
            <dt>Key spec</dt>
            <dd>{meta.KeySpec}</dd>
            <dt>Key usage</dt>
            <dd>{meta.KeyUsage}</dd>
            <dt>Creation date</dt>
            <dd>{formatDate(meta.CreationDate)}</dd>
            <dt>Origin</dt>
            <dd>{meta.Origin}</dd>
            <dt>Key manager</dt>
            <dd>{meta.KeyManager}</dd>
            <dt>Regionality</dt>
            <dd>{meta.MultiRegion ? 'Multi-Region' : 'Single Region'}</dd>
            {meta.EncryptionAlgorithms && meta.EncryptionAlgorithms.length > 0 && (
              <>
                <dt>Encryption algorithms</dt>
                <dd>{meta.EncryptionAlgorithms.join(', ')}</dd>
              </>
            )}
            {meta.SigningAlgorithms && meta.SigningAlgorithms.length > 0 && (
              <>
                <dt>Signing algorithms</dt>
                <dd>{meta.SigningAlgorithms.join(', ')}</dd>
              </>
            )}
            {meta.MacAlgorithms && meta.MacAlgorithms.length > 0 && (
              <>
                <dt>MAC algorithms</dt>
                <dd>{meta.MacAlgorithms.join(', ')}</dd>
              </>
            )}
          </dl>
        </section>
      )}

      <section aria-labelledby="actions-heading" className="panel" data-testid="key-actions">
        <h2 id="actions-heading" tabIndex={-1}>Key actions</h2>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => void enable()}
            disabled={action.busy || state === 'Enabled' || state === 'PendingDeletion'}
            data-testid="enable-key"
          >
            Enable
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => void disable()}
            disabled={action.busy || state === 'Disabled' || state === 'PendingDeletion'}
            data-testid="disable-key"
          >
            Disable
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => void cancel()}
            disabled={action.busy || (state !== undefined && state !== 'PendingDeletion')}
            data-testid="cancel-deletion"
          >
            Cancel deletion
          </button>
        </div>
        <form className="inline-form" onSubmit={schedule} aria-labelledby="schedule-heading" noValidate>
          <h3 id="schedule-heading">Schedule key deletion</h3>
          <div className="field">
            <label htmlFor="pending-window">Waiting period (days)</label>
            <input
              id="pending-window"
              type="number"
              inputMode="numeric"
              min={7}
              max={30}
              step={1}
              value={days}
              onChange={(e) => setDays(e.target.value)}
              aria-describedby="pending-window-hint"
              data-testid="pending-window"
            />
            <p id="pending-window-hint" className="hint">
              7 to 30 days. Until then the key cannot be used, and the deletion can be cancelled.
            </p>
          </div>
          <button
            type="submit"
            className="danger"
            disabled={action.busy || state === 'PendingDeletion'}
            data-testid="schedule-deletion"
          >
            Schedule deletion
          </button>
        </form>
        <Outcome action={action} name="key-action" />
      </section>

      <section aria-labelledby="aliases-heading" className="panel">
        <h2 id="aliases-heading" tabIndex={-1}>Aliases</h2>
        <ErrorAlert error={aliases.error} testId="key-aliases-error" />
        {aliases.data &&
          (aliases.data.length === 0 ? (
            <p className="muted">No aliases.</p>
          ) : (
            <ul className="plain" data-testid="key-aliases">
              {aliases.data.map((a) => (
                <li key={a} className="mono">
                  {a}
                </li>
              ))}
            </ul>
          ))}
      </section>

      <section aria-labelledby="tags-heading" className="panel">
        <h2 id="tags-heading" tabIndex={-1}>Tags</h2>
        <ErrorAlert error={tags.error} testId="key-tags-error" />
        {tags.data &&
          (tags.data.length === 0 ? (
            <p className="muted">No tags.</p>
          ) : (
            <div className="table-wrap">
              <table className="data-table compact" data-testid="key-tags">
                <thead>
                  <tr>
                    <th scope="col">Tag key</th>
                    <th scope="col">Tag value</th>
                  </tr>
                </thead>
                <tbody>
                  {tags.data.map((t) => (
                    <tr key={t.TagKey}>
                      <td data-label="Tag key">{t.TagKey}</td>
                      <td data-label="Tag value">{t.TagValue}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
      </section>

      {keyId && <KeyPolicyPanel keyId={keyId} meta={meta} principals={principals} />}
      {keyId && <RotationPanel keyId={keyId} />}
      {keyId && <GrantsPanel keyId={keyId} meta={meta} principals={principals} />}
      {meta?.Arn && <HistoryPanel keyArn={meta.Arn} />}
    </section>
  );
}

const SECTIONS = [
  ['general-heading', 'Configuration'],
  ['actions-heading', 'Actions'],
  ['aliases-heading', 'Aliases'],
  ['tags-heading', 'Tags'],
  ['policy-heading', 'Key policy'],
  ['rotation-heading', 'Rotation'],
  ['grants-heading', 'Grants'],
  ['history-heading', 'History'],
] as const;

/** Jumps to the key page's sections (buttons: the address's hash is the router's). */
function OnThisPage() {
  const jump = (id: string) => {
    const heading = document.getElementById(id);
    heading?.scrollIntoView({ block: 'start' });
    heading?.focus({ preventScroll: true });
  };
  return (
    <nav aria-label="On this page" className="on-this-page">
      <ul>
        {SECTIONS.map(([id, label]) => (
          <li key={id}>
            <button type="button" className="link-button" onClick={() => jump(id)}>
              {label}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
