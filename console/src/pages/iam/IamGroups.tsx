import { useState, type FormEvent } from 'react';
import { child } from '../../aws';
import { ErrorAlert, PageHeading, Status, useAction, useApi } from '../../components';
import { entityOf, rememberCreated } from '../../iam';
import { iamHref } from '../../router';
import { EntityTable, OpenByName, useEntityList } from './common';

/** IAM groups: list (ListGroups), create. */
export function IamGroups() {
  const { aws } = useApi();
  const groups = useEntityList('Group');
  const [name, setName] = useState('');
  const create = useAction();
  const [createdName, setCreatedName] = useState<string>();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const groupName = name.trim();
    setCreatedName(undefined);
    void create.run(async () => {
      if (!groupName) throw new Error('Enter a group name.');
      const r = await aws.iam('CreateGroup', { GroupName: groupName });
      const el = child(r, 'Group');
      if (el) rememberCreated(entityOf('Group', el));
      setName('');
      setCreatedName(groupName);
      groups.reload();
      return `Group ${groupName} created.`;
    });
  };

  return (
    <section>
      <PageHeading title="IAM groups">IAM groups</PageHeading>

      <form className="inline-form panel" onSubmit={submit} noValidate aria-labelledby="create-group-heading">
        <h2 id="create-group-heading">Create group</h2>
        <div className="field">
          <label htmlFor="new-group-name">Group name</label>
          <input
            id="new-group-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="off"
            spellCheck={false}
            autoCapitalize="off"
            data-testid="new-group-name"
          />
        </div>
        <button type="submit" disabled={create.busy} data-testid="create-group">
          {create.busy ? 'Creating…' : 'Create group'}
        </button>
        <ErrorAlert error={create.error} testId="create-group-error" />
        {create.message && (
          <Status testId="create-group-status">
            {create.message} {createdName && <a href={iamHref('groups', createdName)}>Open {createdName}</a>}
          </Status>
        )}
      </form>

      <h2>Groups</h2>
      <ErrorAlert error={groups.error} testId="groups-error" />
      {groups.data?.unlisted && (
        <p className="alert alert-warn" data-testid="groups-unlisted">
          This server does not list IAM groups (ListGroups): these are the groups created or opened in this page.
          Open another by its name below.
        </p>
      )}
      {groups.loading && !groups.data && <p className="hint">Loading groups…</p>}
      {groups.data && <EntityTable entities={groups.data.entities} kind="groups" testId="groups-table" />}
      <OpenByName kind="groups" />
    </section>
  );
}
