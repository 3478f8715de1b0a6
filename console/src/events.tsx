// The table of CloudTrail events, shared by the audit screen and a key's history.

import { Fragment, useId, useState } from 'react';
import { eventRow, keyIdOfArn, type TrailEvent } from './audit';
import { formatDate } from './format';
import { keyHref } from './router';

export function EventsTable({
  events,
  label,
  testId = 'events-table',
  showKey = true,
}: {
  events: TrailEvent[];
  /** The table's accessible name. */
  label: string;
  testId?: string;
  /** Whether to show the key column (a key's own history leaves it out). */
  showKey?: boolean;
}) {
  const id = useId();
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const rows = events.map(eventRow);
  const columns = showKey ? 6 : 5;
  return (
    <div className="table-wrap">
      <table className="data-table compact events" aria-label={label} data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">Event time</th>
            <th scope="col">Event name</th>
            <th scope="col">User name</th>
            {showKey && <th scope="col">Key</th>}
            <th scope="col">Error code</th>
            <th scope="col">
              <span className="visually-hidden">Event record</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={columns} className="empty" data-testid={`${testId}-empty`}>
                No events.
              </td>
            </tr>
          )}
          {rows.map((r, i) => {
            const key = r.id || String(i);
            const expanded = !!open[key];
            const detailId = `${id}-event-${i}`;
            return (
              <Fragment key={key}>
                <tr data-testid="event-row" data-event-name={r.name} data-event-id={r.id}>
                  <td data-label="Event time">{formatDate(r.time)}</td>
                  <td data-label="Event name">
                    <div>
                      {r.name}
                      {r.source && <div className="muted small">{r.source}</div>}
                    </div>
                  </td>
                  <td data-label="User name">{r.user || <span className="muted">none</span>}</td>
                  {showKey && (
                    <td data-label="Key" className="mono small">
                      {r.keys.length === 0 ? (
                        <span className="muted">none</span>
                      ) : (
                        <div>
                          {r.keys.map((arn) => (
                            <a key={arn} className="block-link" href={keyHref(keyIdOfArn(arn))} title={arn}>
                              {keyIdOfArn(arn)}
                            </a>
                          ))}
                        </div>
                      )}
                    </td>
                  )}
                  <td data-label="Error code" data-testid="event-error-code">
                    {r.errorCode ? (
                      <span className="error-text" title={r.errorMessage}>
                        {r.errorCode}
                      </span>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                  <td data-label="Event record" className="cell-button">
                    <button
                      type="button"
                      className="secondary small-button"
                      aria-expanded={expanded}
                      aria-controls={detailId}
                      onClick={() => setOpen((o) => ({ ...o, [key]: !expanded }))}
                      aria-label={`${expanded ? 'Hide' : 'Show'} the record of ${r.name} at ${formatDate(r.time)}`}
                      data-testid="event-toggle"
                    >
                      {expanded ? 'Hide JSON' : 'Show JSON'}
                    </button>
                  </td>
                </tr>
                {expanded && (
                  <tr className="event-detail" id={detailId}>
                    <td colSpan={columns}>
                      <pre className="code" tabIndex={0} aria-label={`The record of ${r.name}`} data-testid="event-json">
                        {r.json}
                      </pre>
                    </td>
                  </tr>
                )}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
