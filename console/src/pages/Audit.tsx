import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import {
  LOOKUP_ATTRIBUTES,
  lookupRequest,
  type AuditFilters,
  type LookupEventsResponse,
  type TrailEvent,
} from '../audit';
import { ErrorAlert, PageHeading, useApi } from '../components';
import { EventsTable } from '../events';

const PAGE_SIZES = [10, 25, 50];

const ATTRIBUTE_HINTS: Record<string, string> = {
  EventName: 'CreateKey, Decrypt, PutUserPolicy…',
  Username: 'An IAM user name, or root',
  ResourceName: 'A key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)',
  ResourceType: 'AWS::KMS::Key',
  EventSource: 'kms.amazonaws.com, iam.amazonaws.com, sts.amazonaws.com…',
  EventId: 'An event ID',
  ReadOnly: 'true or false',
  AccessKeyId: 'An access key ID',
};

/** The audit screen: CloudTrail's LookupEvents with its filters, paged with NextToken. */
export function Audit({ attribute, value }: { attribute?: string; value?: string }) {
  const { aws } = useApi();
  const id = useId();
  const initial: AuditFilters = {
    attribute: attribute && (LOOKUP_ATTRIBUTES as readonly string[]).includes(attribute) ? attribute : '',
    value: value ?? '',
    start: '',
    end: '',
    maxResults: 25,
  };
  const [form, setForm] = useState<AuditFilters>(initial);
  // The filters of the pages shown, and the token of each page (undefined: the first).
  const [query, setQuery] = useState<AuditFilters>(initial);
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [answer, setAnswer] = useState<LookupEventsResponse>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const generation = useRef(0);
  const resultsHeading = useRef<HTMLHeadingElement>(null);

  const fetchPage = useCallback(
    async (filters: AuditFilters, pageTokens: (string | undefined)[], focus: boolean) => {
      const gen = ++generation.current;
      setLoading(true);
      setError(undefined);
      try {
        const request = lookupRequest(filters, pageTokens[pageTokens.length - 1]);
        const r = await aws.cloudtrail<LookupEventsResponse>('LookupEvents', request);
        if (gen !== generation.current) return;
        setQuery(filters);
        setTokens(pageTokens);
        setAnswer(r);
        if (focus) resultsHeading.current?.focus();
      } catch (e) {
        if (gen === generation.current) {
          setError(e);
          setAnswer(undefined);
        }
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [aws],
  );

  useEffect(() => {
    void fetchPage(initial, [undefined], false);
    // Once, with the filters of the address.
  }, [fetchPage]);

  const set = (patch: Partial<AuditFilters>) => setForm((f) => ({ ...f, ...patch }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void fetchPage(form, [undefined], true);
  };
  const clear = () => {
    const blank: AuditFilters = { attribute: '', value: '', start: '', end: '', maxResults: form.maxResults };
    setForm(blank);
    void fetchPage(blank, [undefined], true);
  };

  const events: TrailEvent[] = answer?.Events ?? [];
  const page = tokens.length;

  return (
    <section>
      <PageHeading title="Audit">Audit</PageHeading>
      <p>
        The API requests this account made, as CloudTrail recorded them (LookupEvents). One lookup attribute at a
        time, as CloudTrail allows; times are UTC.
      </p>

      <form className="panel filters" onSubmit={submit} noValidate aria-labelledby={`${id}-filters`} data-testid="audit-filters">
        <h2 id={`${id}-filters`}>Filters</h2>
        <div className="filter-grid">
          <div className="field">
            <label htmlFor={`${id}-attribute`}>Lookup attribute</label>
            <select
              id={`${id}-attribute`}
              value={form.attribute}
              onChange={(e) => set({ attribute: e.target.value })}
              data-testid="audit-attribute"
            >
              <option value="">None (all events)</option>
              {LOOKUP_ATTRIBUTES.map((a) => (
                <option key={a} value={a}>
                  {a}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-value`}>Attribute value</label>
            <input
              id={`${id}-value`}
              value={form.value}
              onChange={(e) => set({ value: e.target.value })}
              disabled={!form.attribute}
              placeholder={ATTRIBUTE_HINTS[form.attribute] ?? ''}
              spellCheck={false}
              autoCapitalize="off"
              autoComplete="off"
              aria-describedby={`${id}-value-hint`}
              data-testid="audit-value"
            />
            <p id={`${id}-value-hint`} className="hint">
              {form.attribute ? `Example: ${ATTRIBUTE_HINTS[form.attribute]}` : 'Choose a lookup attribute first.'}
            </p>
          </div>
          <div className="field">
            <label htmlFor={`${id}-start`}>Start time (UTC)</label>
            <input
              id={`${id}-start`}
              type="datetime-local"
              step={1}
              value={form.start}
              onChange={(e) => set({ start: e.target.value })}
              data-testid="audit-start"
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-end`}>End time (UTC)</label>
            <input
              id={`${id}-end`}
              type="datetime-local"
              step={1}
              value={form.end}
              onChange={(e) => set({ end: e.target.value })}
              data-testid="audit-end"
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-size`}>Events per page</label>
            <select
              id={`${id}-size`}
              value={form.maxResults}
              onChange={(e) => set({ maxResults: Number(e.target.value) })}
              data-testid="audit-page-size"
            >
              {PAGE_SIZES.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </div>
        </div>
        <div className="actions">
          <button type="submit" disabled={loading} data-testid="audit-search">
            {loading ? 'Looking up…' : 'Look up events'}
          </button>
          <button type="button" className="secondary" onClick={clear} disabled={loading} data-testid="audit-clear">
            Clear filters
          </button>
        </div>
      </form>

      <h2 ref={resultsHeading} tabIndex={-1} id={`${id}-results`}>
        Events
      </h2>
      <ErrorAlert error={error} testId="audit-error" />
      {answer && (
        <>
          <p className="hint" role="status" data-testid="audit-summary">
            Page {page}: {events.length} event{events.length === 1 ? '' : 's'}
            {query.attribute ? ` where ${query.attribute} is ${query.value.trim()}` : ''}.
          </p>
          <EventsTable events={events} label="Events" testId="audit-events" />
        </>
      )}
      <nav className="actions" aria-label="Pages of events">
        <button
          type="button"
          className="secondary"
          onClick={() => void fetchPage(query, tokens.slice(0, -1), true)}
          disabled={loading || page <= 1}
          data-testid="audit-previous"
        >
          Previous page
        </button>
        <button
          type="button"
          className="secondary"
          onClick={() => answer?.NextToken && void fetchPage(query, [...tokens, answer.NextToken], true)}
          disabled={loading || !answer?.NextToken}
          data-testid="audit-next"
        >
          Next page
        </button>
      </nav>
    </section>
  );
}
