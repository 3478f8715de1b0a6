// Pieces shared by the screens.

import { createContext, useCallback, useContext, useEffect, useId, useRef, useState } from 'react';
import type { ReactNode } from 'react';
import { describeError, type Aws } from './aws';
import type { SignedIn } from './session';

export interface Api {
  aws: Aws;
  session: SignedIn;
}

export const ApiContext = createContext<Api | undefined>(undefined);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside a signed-in session');
  return api;
}

export interface AsyncState<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` on mount and whenever `deps` change; a stale answer is dropped. */
export function useAsync<T>(load: () => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}

/** The server's error, worded as the server worded it ("Code: message"). */
export function ErrorAlert({ error, testId = 'error' }: { error: unknown; testId?: string }) {
  if (error === undefined || error === null) return null;
  return (
    <p className="alert alert-error" role="alert" data-testid={testId}>
      {describeError(error)}
    </p>
  );
}

/** The page's main heading: focused when the page opens (so screen readers announce it), and the tab's title. */
export function PageHeading({ children, title }: { children: ReactNode; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Trent console`;
  }, [title]);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

/** A button that copies `text` to the clipboard and says whether it did. */
export function CopyButton({ text, label, testId }: { text: string; label: string; testId?: string }) {
  const [status, setStatus] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setStatus('Copied.');
    } catch (e) {
      setStatus(`Could not copy: ${describeError(e)}`);
    }
  };
  return (
    <span className="copy">
      <button type="button" className="secondary" onClick={copy} aria-label={label} data-testid={testId}>
        Copy
      </button>
      <span className="copy-status" role="status">
        {status}
      </span>
    </span>
  );
}

export interface Pair {
  key: string;
  value: string;
}

/** Editable key/value rows (tags, encryption context), each field labelled. */
export function PairRows({
  legend,
  rows,
  onChange,
  keyLabel,
  valueLabel,
  addLabel,
  itemName,
  testId,
}: {
  legend: string;
  rows: Pair[];
  onChange: (rows: Pair[]) => void;
  keyLabel: string;
  valueLabel: string;
  addLabel: string;
  /** What one row is called, for its Remove button ("tag" → "Remove tag 1"). */
  itemName: string;
  testId: string;
}) {
  const id = useId();
  const set = (i: number, patch: Partial<Pair>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <fieldset className="pairs" data-testid={testId}>
      <legend>{legend}</legend>
      {rows.length === 0 && <p className="hint">None.</p>}
      {rows.map((row, i) => (
        <div className="pair-row" key={i}>
          <div className="field">
            <label htmlFor={`${id}-k${i}`}>{keyLabel}</label>
            <input
              id={`${id}-k${i}`}
              value={row.key}
              onChange={(e) => set(i, { key: e.target.value })}
              data-testid={`${testId}-key-${i}`}
              autoComplete="off"
              spellCheck={false}
            />
          </div>
          <div className="field">
            <label htmlFor={`${id}-v${i}`}>{valueLabel}</label>
            <input
              id={`${id}-v${i}`}
              value={row.value}
              onChange={(e) => set(i, { value: e.target.value })}
              data-testid={`${testId}-value-${i}`}
              autoComplete="off"
              spellCheck={false}
            />
          </div>
          <button
            type="button"
            className="secondary"
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
            aria-label={`Remove ${itemName} ${i + 1}`}
            data-testid={`${testId}-remove-${i}`}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="secondary"
        onClick={() => onChange([...rows, { key: '', value: '' }])}
        data-testid={`${testId}-add`}
      >
        {addLabel}
      </button>
    </fieldset>
  );
}

/** Rows with a key, as an object (later rows win); rows with an empty key are left out. */
export function pairsToObject(rows: Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of rows) if (r.key.trim() !== '') out[r.key.trim()] = r.value;
  return out;
}

/** Runs one action at a time, keeping its error or its outcome for display. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const run = useCallback(async (action: () => Promise<string | void>) => {
    setBusy(true);
    setError(undefined);
    setMessage('');
    try {
      const done = await action();
      if (done) setMessage(done);
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => {
    setError(undefined);
    setMessage('');
  }, []);
  return { busy, error, message, run, clear };
}

/** A polite status line (announced by screen readers) for an outcome. */
export function Status({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <p className="alert alert-ok" role="status" data-testid={testId}>
      {children}
    </p>
  );
}

/** An action's outcome: the server's error (`NAME-error`) or its status line (`NAME-status`). */
export function Outcome({ action, name }: { action: ReturnType<typeof useAction>; name: string }) {
  return (
    <>
      <ErrorAlert error={action.error} testId={`${name}-error`} />
      {action.message && <Status testId={`${name}-status`}>{action.message}</Status>}
    </>
  );
}

/** Runs `tasks` with at most `limit` at once. */
export async function mapLimit<T, R>(items: T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
