import { useEffect, useRef, useState, type FormEvent } from 'react';
import { childText, describeError, members } from '../aws';
import { CopyButton, ErrorAlert, Outcome, PageHeading, mapLimit, useAction, useApi, useAsync } from '../components';
import { formatDate } from '../format';
import { iamHref } from '../router';

interface User {
  name: string;
  arn: string;
  path: string;
  created: string;
  accessKeys?: { id: string; status: string }[];
  accessKeysError?: unknown;
}

interface NewAccessKey {
  userName: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** IAM users: list, create, and create an access key (its secret shown once); each opens on its own page. */
export function IamUsers() {
  const { aws } = useApi();
  const users = useAsync(async () => {
    const out: User[] = [];
    let marker: string | undefined;
    do {
      const r = await aws.iam('ListUsers', { MaxItems: 1000, Marker: marker });
      for (const m of members(r, 'Users')) {
        out.push({
          name: childText(m, 'UserName') ?? '',
          arn: childText(m, 'Arn') ?? '',
          path: childText(m, 'Path') ?? '/',
          created: childText(m, 'CreateDate') ?? '',
        });
      }
      marker = childText(r, 'IsTruncated') === 'true' ? childText(r, 'Marker') : undefined;
    } while (marker);
    await mapLimit(out, 6, async (u) => {
      try {
        const r = await aws.iam('ListAccessKeys', { UserName: u.name });
        u.accessKeys = members(r, 'AccessKeyMetadata').map((k) => ({
          id: childText(k, 'AccessKeyId') ?? '',
          status: childText(k, 'Status') ?? '',
        }));
      } catch (e) {
        u.accessKeysError = e;
      }
    });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }, [aws]);

  const [newName, setNewName] = useState('');
  const createUser = useAction();
  const createKey = useAction();
  const [newKey, setNewKey] = useState<NewAccessKey>();
  const newKeyHeading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (newKey) newKeyHeading.current?.focus();
  }, [newKey]);

  const submitUser = (e: FormEvent) => {
    e.preventDefault();
    const name = newName.trim();
    void createUser.run(async () => {
      if (!name) throw new Error('Enter a user name.');
      await aws.iam('CreateUser', { UserName: name });
      setNewName('');
      users.reload();
      return `User ${name} created.`;
    });
  };

  const makeAccessKey = (userName: string) =>
    createKey.run(async () => {
      setNewKey(undefined);
      const r = await aws.iam('CreateAccessKey', { UserName: userName });
      const k = r.getElementsByTagNameNS('*', 'AccessKey')[0] ?? r;
      setNewKey({
        userName,
        accessKeyId: childText(k, 'AccessKeyId') ?? '',
        secretAccessKey: childText(k, 'SecretAccessKey') ?? '',
      });
      users.reload();
    });

  return (
    <section>
      <PageHeading title="IAM users">IAM users</PageHeading>

      <form className="inline-form panel" onSubmit={submitUser} aria-labelledby="create-user-heading" noValidate>
        <h2 id="create-user-heading">Create user</h2>
        <div className="field">
          <label htmlFor="new-user-name">User name</label>
          <input
            id="new-user-name"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            autoCapitalize="off"
            data-testid="new-user-name"
          />
        </div>
        <button type="submit" disabled={createUser.busy} data-testid="create-user">
          {createUser.busy ? 'Creating…' : 'Create user'}
        </button>
        <Outcome action={createUser} name="create-user" />
      </form>

      {newKey && (
        <section className="panel secret-panel" aria-labelledby="new-key-heading" data-testid="new-access-key">
          <h2 id="new-key-heading" ref={newKeyHeading} tabIndex={-1}>
            New access key for {newKey.userName}
          </h2>
          <p className="alert alert-warn" role="alert">
            This is the only time the secret access key is shown. Copy it now and keep it somewhere safe: it cannot
            be retrieved later. If you lose it, create a new access key.
          </p>
          <div className="field">
            <label htmlFor="new-access-key-id">Access key ID</label>
            <div className="with-button">
              <input id="new-access-key-id" readOnly value={newKey.accessKeyId} className="mono" data-testid="new-access-key-id" />
              <CopyButton text={newKey.accessKeyId} label="Copy the access key ID" testId="copy-access-key-id" />
            </div>
          </div>
          <div className="field">
            <label htmlFor="new-secret-access-key">Secret access key</label>
            <div className="with-button">
              <input
                id="new-secret-access-key"
                readOnly
                value={newKey.secretAccessKey}
                className="mono"
                data-testid="new-secret-access-key"
              />
              <CopyButton text={newKey.secretAccessKey} label="Copy the secret access key" testId="copy-secret-access-key" />
            </div>
          </div>
          <button type="button" onClick={() => setNewKey(undefined)} data-testid="dismiss-access-key">
            Done
          </button>
        </section>
      )}
      <ErrorAlert error={createKey.error} testId="create-access-key-error" />

      <h2>Users</h2>
      <ErrorAlert error={users.error} testId="users-error" />
      {users.loading && !users.data && <p className="hint">Loading users…</p>}
      {users.data && (
        <div className="table-wrap">
          <table className="data-table" data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">User name</th>
                <th scope="col">ARN</th>
                <th scope="col">Creation date</th>
                <th scope="col">Access keys</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {users.data.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty">
                    No users yet.
                  </td>
                </tr>
              )}
              {users.data.map((u) => (
                <tr key={u.arn} data-testid="user-row" data-user-name={u.name}>
                  <td data-label="User name">
                    <a href={iamHref('users', u.name)}>{u.name}</a>
                  </td>
                  <td data-label="ARN" className="mono small">
                    {u.arn}
                  </td>
                  <td data-label="Creation date">{formatDate(u.created)}</td>
                  <td data-label="Access keys">
                    {u.accessKeysError !== undefined ? (
                      <span className="error-text">{describeError(u.accessKeysError)}</span>
                    ) : (u.accessKeys ?? []).length === 0 ? (
                      <span className="muted">none</span>
                    ) : (
                      (u.accessKeys ?? []).map((k) => (
                        <div key={k.id} className="mono small">
                          {k.id} <span className="muted">{k.status}</span>
                        </div>
                      ))
                    )}
                  </td>
                  <td data-label="Actions">
                    <button
                      type="button"
                      className="secondary"
                      onClick={() => void makeAccessKey(u.name)}
                      disabled={createKey.busy}
                      aria-label={`Create access key for ${u.name}`}
                      data-testid={`create-access-key-${u.name}`}
                    >
                      Create access key
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
