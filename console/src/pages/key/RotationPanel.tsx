import { useEffect, useState, type FormEvent } from 'react';
import { ErrorAlert, Outcome, useAction, useApi, useAsync } from '../../components';
import { formatDate } from '../../format';
import type { GetKeyRotationStatusResponse, ListKeyRotationsResponse, RotationsListEntry } from '../../kmsTypes';

/**
 * Key rotation: GetKeyRotationStatus, Enable/DisableKeyRotation with a
 * period, RotateKeyOnDemand and the history (ListKeyRotations).
 */
export function RotationPanel({ keyId }: { keyId: string }) {
  const { aws } = useApi();
  const status = useAsync(
    () => aws.kms<GetKeyRotationStatusResponse>('GetKeyRotationStatus', { KeyId: keyId }),
    [aws, keyId],
  );
  const history = useAsync(async () => {
    const out: RotationsListEntry[] = [];
    let marker: string | undefined;
    do {
      const page = await aws.kms<ListKeyRotationsResponse>('ListKeyRotations', {
        KeyId: keyId,
        Limit: 1000,
        ...(marker ? { Marker: marker } : {}),
      });
      out.push(...(page.Rotations ?? []));
      marker = page.Truncated ? page.NextMarker : undefined;
    } while (marker);
    // Newest first.
    return out.reverse();
  }, [aws, keyId]);

  const [enabled, setEnabled] = useState(false);
  const [period, setPeriod] = useState('365');
  useEffect(() => {
    if (!status.data) return;
    setEnabled(!!status.data.KeyRotationEnabled);
    if (status.data.RotationPeriodInDays !== undefined) setPeriod(String(status.data.RotationPeriodInDays));
  }, [status.data]);

  const save = useAction();
  const rotate = useAction();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save.run(async () => {
      if (!enabled) {
        await aws.kms('DisableKeyRotation', { KeyId: keyId });
        status.reload();
        return 'Automatic rotation is disabled.';
      }
      // The range (90 to 2560) is the server's to enforce, in its own words.
      const n = Number(period);
      if (period.trim() === '' || !Number.isInteger(n)) {
        throw new Error('Enter a rotation period in whole days, from 90 to 2560.');
      }
      await aws.kms('EnableKeyRotation', { KeyId: keyId, RotationPeriodInDays: n });
      status.reload();
      return `Automatic rotation is enabled, every ${n} days.`;
    });
  };

  const rotateNow = () =>
    rotate.run(async () => {
      await aws.kms('RotateKeyOnDemand', { KeyId: keyId });
      status.reload();
      history.reload();
      return 'The key is rotating: new key material encrypts from now on; the old material still decrypts.';
    });

  const s = status.data;
  return (
    <section aria-labelledby="rotation-heading" className="panel" data-testid="rotation-panel">
      <h2 id="rotation-heading" tabIndex={-1}>Key rotation</h2>
      <ErrorAlert error={status.error} testId="rotation-error" />
      {s && (
        <dl className="meta" data-testid="rotation-status">
          <dt>Automatic rotation</dt>
          <dd data-testid="rotation-enabled-status">{s.KeyRotationEnabled ? 'Enabled' : 'Disabled'}</dd>
          {s.RotationPeriodInDays !== undefined && (
            <>
              <dt>Rotation period</dt>
              <dd data-testid="rotation-period-status">{s.RotationPeriodInDays} days</dd>
            </>
          )}
          {s.NextRotationDate !== undefined && (
            <>
              <dt>Next rotation date</dt>
              <dd>{formatDate(s.NextRotationDate)}</dd>
            </>
          )}
          {s.OnDemandRotationStartDate !== undefined && (
            <>
              <dt>On-demand rotation started</dt>
              <dd>{formatDate(s.OnDemandRotationStartDate)}</dd>
            </>
          )}
        </dl>
      )}

      <form className="inline-form" onSubmit={submit} noValidate aria-labelledby="rotation-form-heading">
        <h3 id="rotation-form-heading">Change automatic rotation</h3>
        <div className="choice">
          <input
            type="checkbox"
            id="rotation-enabled"
            checked={enabled}
            onChange={(e) => setEnabled(e.target.checked)}
            data-testid="rotation-enabled"
          />
          <label htmlFor="rotation-enabled">Automatically rotate this KMS key</label>
        </div>
        <div className="field">
          <label htmlFor="rotation-period">Rotation period (days)</label>
          <input
            id="rotation-period"
            type="number"
            inputMode="numeric"
            min={90}
            max={2560}
            step={1}
            value={period}
            onChange={(e) => setPeriod(e.target.value)}
            disabled={!enabled}
            aria-describedby="rotation-period-hint"
            data-testid="rotation-period"
          />
          <p id="rotation-period-hint" className="hint">
            90 to 2560 days; 365 by default.
          </p>
        </div>
        <button type="submit" disabled={save.busy} data-testid="rotation-save">
          {save.busy ? 'Saving…' : 'Save rotation'}
        </button>
        <Outcome action={save} name="rotation-save" />
      </form>

      <h3>On-demand rotation</h3>
      <p className="hint">Rotates the key material now, whether or not automatic rotation is on.</p>
      <button
        type="button"
        className="secondary"
        onClick={() => void rotateNow()}
        disabled={rotate.busy}
        data-testid="rotate-now"
      >
        {rotate.busy ? 'Rotating…' : 'Rotate now'}
      </button>
      <Outcome action={rotate} name="rotate-now" />

      <h3 id="rotation-history-heading">Rotation history</h3>
      <ErrorAlert error={history.error} testId="rotation-history-error" />
      {history.data &&
        (history.data.length === 0 ? (
          <p className="muted" data-testid="rotation-history-empty">
            The key has not been rotated.
          </p>
        ) : (
          <div className="table-wrap">
            <table className="data-table compact" aria-labelledby="rotation-history-heading" data-testid="rotation-history">
              <thead>
                <tr>
                  <th scope="col">Rotation date</th>
                  <th scope="col">Rotation type</th>
                  <th scope="col">Key material</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {history.data.map((r, i) => (
                  <tr key={`${r.KeyMaterialId ?? ''}-${i}`} data-testid="rotation-row">
                    <td data-label="Rotation date">{formatDate(r.RotationDate)}</td>
                    <td data-label="Rotation type">{r.RotationType}</td>
                    <td data-label="Key material" className="mono small">
                      {r.KeyMaterialId ?? <span className="muted">not given</span>}
                    </td>
                    <td data-label="State">{r.KeyMaterialState ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}
