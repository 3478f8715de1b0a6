import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { describeError } from '../aws';
import { ErrorAlert, PageHeading, mapLimit, useApi } from '../components';
import { formatDate } from '../format';
import type { DescribeKeyResponse, KeyMetadata, ListAliasesResponse, ListKeysResponse } from '../kmsTypes';
import { keyHref, navigate } from '../router';

const PAGE_SIZES = [10, 25, 50, 100];

type SortColumn = 'aliases' | 'id' | 'description' | 'state' | 'spec' | 'usage' | 'created';

const COLUMNS: { id: SortColumn; label: string }[] = [
  { id: 'aliases', label: 'Aliases' },
  { id: 'id', label: 'Key ID' },
  { id: 'description', label: 'Description' },
  { id: 'state', label: 'Status' },
  { id: 'spec', label: 'Key spec' },
  { id: 'usage', label: 'Key usage' },
  { id: 'created', label: 'Creation date' },
];

interface Row {
  keyId: string;
  arn: string;
  aliases: string[];
  meta?: KeyMetadata;
  error?: unknown;
}

function sortValue(row: Row, column: SortColumn): string | number {
  switch (column) {
    case 'aliases':
      return row.aliases.join(' ').toLowerCase();
    case 'id':
      return row.keyId;
    case 'description':
      return (row.meta?.Description ?? '').toLowerCase();
    case 'state':
      return row.meta?.KeyState ?? '';
    case 'spec':
      return row.meta?.KeySpec ?? '';
    case 'usage':
      return row.meta?.KeyUsage ?? '';
    case 'created':
      return row.meta?.CreationDate ?? 0;
  }
}

/** The keys screen: ListKeys (paged), ListAliases and DescribeKey per key; filter and sort. */
export function Keys() {
  const { aws } = useApi();
  const [pageSize, setPageSize] = useState(25);
  const [keys, setKeys] = useState<{ KeyId: string; KeyArn: string }[]>([]);
  const [nextMarker, setNextMarker] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [listError, setListError] = useState<unknown>();
  const [meta, setMeta] = useState<Record<string, { meta?: KeyMetadata; error?: unknown }>>({});
  const [aliases, setAliases] = useState<Record<string, string[]>>({});
  const [aliasError, setAliasError] = useState<unknown>();
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<{ column: SortColumn; descending: boolean }>({
    column: 'created',
    descending: true,
  });
  const generation = useRef(0);

  const loadPage = useCallback(
    async (marker: string | undefined, reset: boolean) => {
      const gen = reset ? ++generation.current : generation.current;
      setLoading(true);
      setListError(undefined);
      try {
        const page = await aws.kms<ListKeysResponse>('ListKeys', {
          Limit: pageSize,
          ...(marker ? { Marker: marker } : {}),
        });
        if (gen !== generation.current) return;
        const fresh = page.Keys ?? [];
        setKeys((old) => (reset ? fresh : [...old, ...fresh.filter((k) => !old.some((o) => o.KeyId === k.KeyId))]));
        setNextMarker(page.Truncated ? page.NextMarker : undefined);
        await mapLimit(fresh, 6, async (k) => {
          try {
            const d = await aws.kms<DescribeKeyResponse>('DescribeKey', { KeyId: k.KeyId });
            if (gen === generation.current) setMeta((m) => ({ ...m, [k.KeyId]: { meta: d.KeyMetadata } }));
          } catch (error) {
            if (gen === generation.current) setMeta((m) => ({ ...m, [k.KeyId]: { error } }));
          }
        });
      } catch (error) {
        if (gen === generation.current) setListError(error);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
    },
    [aws, pageSize],
  );

  const loadAliases = useCallback(async () => {
    setAliasError(undefined);
    try {
      const byKey: Record<string, string[]> = {};
      let marker: string | undefined;
      do {
        const page = await aws.kms<ListAliasesResponse>('ListAliases', {
          Limit: 100,
          ...(marker ? { Marker: marker } : {}),
        });
        for (const a of page.Aliases ?? []) {
          if (a.TargetKeyId) (byKey[a.TargetKeyId] ??= []).push(a.AliasName);
        }
        marker = page.Truncated ? page.NextMarker : undefined;
      } while (marker);
      setAliases(byKey);
    } catch (error) {
      setAliasError(error);
    }
  }, [aws]);

  const refresh = useCallback(() => {
    setMeta({});
    void loadPage(undefined, true);
    void loadAliases();
  }, [loadPage, loadAliases]);

  useEffect(() => {
    refresh();
  }, [refresh]);

  const rows: Row[] = useMemo(
    () =>
      keys.map((k) => ({
        keyId: k.KeyId,
        arn: k.KeyArn,
        aliases: (aliases[k.KeyId] ?? []).slice().sort(),
        meta: meta[k.KeyId]?.meta,
        error: meta[k.KeyId]?.error,
      })),
    [keys, aliases, meta],
  );

  const shown = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const filtered = needle
      ? rows.filter((r) =>
          [
            r.keyId,
            r.arn,
            ...r.aliases,
            r.meta?.Description ?? '',
            r.meta?.KeyState ?? '',
            r.meta?.KeySpec ?? '',
            r.meta?.KeyUsage ?? '',
          ].some((v) => v.toLowerCase().includes(needle)),
        )
      : rows;
    const sorted = filtered.slice().sort((a, b) => {
      const x = sortValue(a, sort.column);
      const y = sortValue(b, sort.column);
      const c = x < y ? -1 : x > y ? 1 : a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0;
      return sort.descending ? -c : c;
    });
    return sorted;
  }, [rows, filter, sort]);

  const toggleSort = (column: SortColumn) =>
    setSort((s) => (s.column === column ? { column, descending: !s.descending } : { column, descending: false }));

  const [openId, setOpenId] = useState('');
  const open = (e: FormEvent) => {
    e.preventDefault();
    if (openId.trim()) navigate(keyHref(openId.trim()));
  };

  return (
    <section>
      <div className="page-head">
        <PageHeading title="Keys">Customer managed keys</PageHeading>
        <div className="actions">
          <a className="button" href="#/keys/create" data-testid="create-key">
            Create key
          </a>
          <button type="button" className="secondary" onClick={refresh} disabled={loading} data-testid="refresh-keys">
            Refresh
          </button>
        </div>
      </div>

      <form className="inline-form" onSubmit={open} aria-label="Open a key">
        <div className="field">
          <label htmlFor="open-key-id">Key ID, ARN or alias</label>
          <input
            id="open-key-id"
            value={openId}
            onChange={(e) => setOpenId(e.target.value)}
            placeholder="alias/MyKey"
            spellCheck={false}
            autoCapitalize="off"
            data-testid="open-key-id"
          />
        </div>
        <button type="submit" className="secondary" data-testid="open-key">
          Open key
        </button>
      </form>

      <ErrorAlert error={listError} testId="keys-error" />
      {aliasError !== undefined && (
        <p className="alert alert-warn" role="alert" data-testid="aliases-error">
          Aliases could not be listed: <ErrorText error={aliasError} />
        </p>
      )}

      <div className="table-tools">
        <div className="field">
          <label htmlFor="key-filter">Filter keys</label>
          <input
            id="key-filter"
            type="search"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            placeholder="Alias, ID, description, status…"
            data-testid="key-filter"
          />
        </div>
        <div className="field">
          <label htmlFor="page-size">Keys per page</label>
          <select id="page-size" value={pageSize} onChange={(e) => setPageSize(Number(e.target.value))}>
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </div>
      </div>

      <p className="hint" role="status" data-testid="keys-count">
        {loading && keys.length === 0
          ? 'Loading keys…'
          : `${shown.length} of ${keys.length} loaded key${keys.length === 1 ? '' : 's'} shown${nextMarker ? '; more on the server' : ''}.`}
      </p>

      <div className="table-wrap">
        <table className="data-table sortable" data-testid="keys-table">
          <caption className="visually-hidden">Keys, sortable by each column</caption>
          <thead>
            <tr>
              {COLUMNS.map((c) => {
                const active = sort.column === c.id;
                return (
                  <th
                    key={c.id}
                    scope="col"
                    aria-sort={active ? (sort.descending ? 'descending' : 'ascending') : 'none'}
                  >
                    <button type="button" className="sort" onClick={() => toggleSort(c.id)} data-testid={`sort-${c.id}`}>
                      {c.label}
                      <span aria-hidden="true" className="sort-mark">
                        {active ? (sort.descending ? ' ▼' : ' ▲') : ' ↕'}
                      </span>
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {shown.map((r) => (
              <tr key={r.keyId} data-testid="key-row" data-key-id={r.keyId}>
                <td data-label="Aliases">
                  {r.aliases.length === 0 ? (
                    <span className="muted">–</span>
                  ) : (
                    r.aliases.map((a) => (
                      <a key={a} href={keyHref(r.keyId)} className="block-link">
                        {a}
                      </a>
                    ))
                  )}
                </td>
                <td data-label="Key ID">
                  <a href={keyHref(r.keyId)} className="mono">
                    {r.keyId}
                  </a>
                </td>
                <td data-label="Description">{r.meta?.Description || <span className="muted">–</span>}</td>
                <td data-label="Status">
                  {r.error !== undefined ? (
                    <span className="error-text">
                      <ErrorText error={r.error} />
                    </span>
                  ) : (
                    <StateBadge state={r.meta?.KeyState} />
                  )}
                </td>
                <td data-label="Key spec">{r.meta?.KeySpec ?? ''}</td>
                <td data-label="Key usage">{r.meta?.KeyUsage ?? ''}</td>
                <td data-label="Creation date">{formatDate(r.meta?.CreationDate)}</td>
              </tr>
            ))}
            {!loading && shown.length === 0 && (
              <tr>
                <td colSpan={COLUMNS.length} className="empty">
                  {keys.length === 0 ? 'No keys.' : 'No key matches the filter.'}
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>

      {nextMarker && (
        <button
          type="button"
          className="secondary"
          onClick={() => void loadPage(nextMarker, false)}
          disabled={loading}
          data-testid="load-more"
        >
          {loading ? 'Loading…' : 'Load more keys'}
        </button>
      )}
    </section>
  );
}

function ErrorText({ error }: { error: unknown }) {
  return <>{describeError(error)}</>;
}


export function StateBadge({ state }: { state?: string }) {
  if (!state) return <span className="muted">…</span>;
  const tone = state === 'Enabled' ? 'ok' : state === 'PendingDeletion' ? 'danger' : 'warn';
  return <span className={`badge badge-${tone}`}>{state}</span>;
}
