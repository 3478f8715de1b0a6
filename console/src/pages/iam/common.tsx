import { useId, useState, type FormEvent } from 'react';
import { useApi, useAsync } from '../../components';
import { byName, createdInSession, entityOf, isMissingAction, listAll, type Entity } from '../../iam';
import { formatDate } from '../../format';
import { iamHref, navigate } from '../../router';

/**
 * The groups or roles of the account (ListGroups / ListRoles); on a server
 * without those actions, the ones created or opened in this page, and
 * `unlisted` set.
 */
export function useEntityList(kind: 'Group' | 'Role') {
  const { aws } = useApi();
  return useAsync(async () => {
    try {
      const list = await listAll(aws, `List${kind}s`, `${kind}s`);
      return { entities: list.map((m) => entityOf(kind, m)).sort(byName), unlisted: false };
    } catch (e) {
      if (!isMissingAction(e)) throw e;
      return { entities: createdInSession(kind), unlisted: true };
    }
  }, [aws, kind]);
}

export function EntityTable({ entities, kind, testId }: { entities: Entity[]; kind: 'groups' | 'roles'; testId: string }) {
  const label = kind === 'groups' ? 'Group name' : 'Role name';
  return (
    <div className="table-wrap">
      <table className="data-table" data-testid={testId}>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col">ARN</th>
            <th scope="col">Creation date</th>
          </tr>
        </thead>
        <tbody>
          {entities.length === 0 && (
            <tr>
              <td colSpan={3} className="empty">
                None yet.
              </td>
            </tr>
          )}
          {entities.map((e) => (
            <tr key={e.arn || e.name} data-testid={`${testId}-row`} data-name={e.name}>
              <td data-label={label}>
                <a href={iamHref(kind, e.name)}>{e.name}</a>
              </td>
              <td data-label="ARN" className="mono small">
                {e.arn}
              </td>
              <td data-label="Creation date">{formatDate(e.created)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** "Open … by name": for a server that does not list them. */
export function OpenByName({ kind }: { kind: 'groups' | 'roles' }) {
  const id = useId();
  const [name, setName] = useState('');
  const noun = kind === 'groups' ? 'group' : 'role';
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (name.trim()) navigate(iamHref(kind, name.trim()));
  };
  return (
    <form className="inline-form" onSubmit={submit} noValidate aria-labelledby={`${id}-heading`} data-testid={`open-${noun}`}>
      <h3 id={`${id}-heading`}>Open a {noun} by name</h3>
      <div className="field">
        <label htmlFor={`${id}-name`}>{noun === 'group' ? 'Group name' : 'Role name'} to open</label>
        <input
          id={`${id}-name`}
          value={name}
          onChange={(e) => setName(e.target.value)}
          spellCheck={false}
          autoCapitalize="off"
          autoComplete="off"
          data-testid={`open-${noun}-name`}
        />
      </div>
      <button type="submit" className="secondary" disabled={name.trim() === ''} data-testid={`open-${noun}-submit`}>
        Open {noun}
      </button>
    </form>
  );
}
