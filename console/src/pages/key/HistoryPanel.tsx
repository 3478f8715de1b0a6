import { useCallback, useEffect, useRef, useState } from 'react';
import type { LookupEventsResponse, TrailEvent } from '../../audit';
import { ErrorAlert, useApi } from '../../components';
import { EventsTable } from '../../events';
import { auditHref } from '../../router';

const PAGE = 10;

/** A key's history: CloudTrail's LookupEvents on ResourceName = the key's ARN, newest first, paged. */
export function HistoryPanel({ keyArn }: { keyArn: string }) {
  const { aws } = useApi();
  const [events, setEvents] = useState<TrailEvent[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const generation = useRef(0);

  const load = useCallback(
    async (token: string | undefined) => {
      const gen = token ? generation.current : ++generation.current;
      setLoading(true);
      setError(undefined);
      try {
        const r = await aws.cloudtrail<LookupEventsResponse>('LookupEvents', {
          LookupAttributes: [{ AttributeKey: 'ResourceName', AttributeValue: keyArn }],
          MaxResults: PAGE,
          ...(token ? { NextToken: token } : {}),
        });
        if (gen !== generation.current) return;
        setEvents((old) => (token ? [...(old ?? []), ...(r.Events ?? [])] : (r.Events ?? [])));
        setNext(r.NextToken || undefined);
      } catch (e) {
        if (gen === generation.current) setError(e);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [aws, keyArn],
  );

  useEffect(() => {
    void load(undefined);
  }, [load]);

  return (
    <section aria-labelledby="history-heading" className="panel" data-testid="key-history">
      <div className="page-head">
        <h2 id="history-heading" tabIndex={-1}>History</h2>
        <div className="actions">
          <button
            type="button"
            className="secondary"
            onClick={() => void load(undefined)}
            disabled={loading}
            data-testid="key-history-refresh"
          >
            Refresh
          </button>
          <a className="button secondary" href={auditHref('ResourceName', keyArn)} data-testid="key-history-audit">
            Open in audit
          </a>
        </div>
      </div>
      <p className="hint">The requests about this key that CloudTrail recorded, newest first.</p>
      <ErrorAlert error={error} testId="key-history-error" />
      {events && <EventsTable events={events} label="Key history" testId="key-history-table" showKey={false} />}
      {loading && <p className="hint">Loading events…</p>}
      {next && !loading && (
        <button type="button" className="secondary" onClick={() => void load(next)} data-testid="key-history-more">
          Load more events
        </button>
      )}
    </section>
  );
}
