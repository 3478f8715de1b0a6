import { useState, type FormEvent } from 'react';
import { child } from '../../aws';
import { ErrorAlert, PageHeading, Status, useAction, useApi } from '../../components';
import { entityOf, rememberCreated, trustPolicyTemplate } from '../../iam';
import { partitionOf } from '../../policy';
import { iamHref } from '../../router';
import { EntityTable, OpenByName, useEntityList } from './common';

/** IAM roles: list (ListRoles), create with a trust policy. */
export function IamRoles() {
  const { aws, session } = useApi();
  const roles = useEntityList('Role');
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [trust, setTrust] = useState(() => trustPolicyTemplate(session.account, partitionOf(session.arn)));
  const create = useAction();
  const [createdName, setCreatedName] = useState<string>();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const roleName = name.trim();
    setCreatedName(undefined);
    void create.run(async () => {
      if (!roleName) throw new Error('Enter a role name.');
      const r = await aws.iam('CreateRole', {
        RoleName: roleName,
        AssumeRolePolicyDocument: trust,
        Description: description.trim() || undefined,
      });
      const el = child(r, 'Role');
      if (el) rememberCreated(entityOf('Role', el));
      setName('');
      setDescription('');
      setCreatedName(roleName);
      roles.reload();
      return `Role ${roleName} created.`;
    });
  };

  return (
    <section>
      <PageHeading title="IAM roles">IAM roles</PageHeading>

      <form className="panel" onSubmit={submit} noValidate aria-labelledby="create-role-heading" data-testid="create-role-form">
        <h2 id="create-role-heading">Create role</h2>
        <div className="key-picker">
          <div className="field">
            <label htmlFor="new-role-name">Role name</label>
            <input
              id="new-role-name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              autoCapitalize="off"
              data-testid="new-role-name"
            />
          </div>
          <div className="field">
            <label htmlFor="new-role-description">Description (optional)</label>
            <input
              id="new-role-description"
              value={description}
              onChange={(e) => setDescription(e.target.value)}
              autoComplete="off"
              data-testid="new-role-description"
            />
          </div>
        </div>
        <div className="field">
          <label htmlFor="new-role-trust">Trust policy (JSON)</label>
          <textarea
            id="new-role-trust"
            className="mono code-editor"
            value={trust}
            onChange={(e) => setTrust(e.target.value)}
            rows={Math.min(24, Math.max(8, trust.split('\n').length + 1))}
            spellCheck={false}
            autoCapitalize="off"
            aria-describedby="new-role-trust-hint"
            data-testid="new-role-trust"
          />
          <p id="new-role-trust-hint" className="hint">
            Who may assume the role (sts:AssumeRole). By default, this account's principals whose own policies allow it.
          </p>
        </div>
        <button type="submit" disabled={create.busy} data-testid="create-role">
          {create.busy ? 'Creating…' : 'Create role'}
        </button>
        <ErrorAlert error={create.error} testId="create-role-error" />
        {create.message && (
          <Status testId="create-role-status">
            {create.message} {createdName && <a href={iamHref('roles', createdName)}>Open {createdName}</a>}
          </Status>
        )}
      </form>

      <h2>Roles</h2>
      <ErrorAlert error={roles.error} testId="roles-error" />
      {roles.data?.unlisted && (
        <p className="alert alert-warn" data-testid="roles-unlisted">
          This server does not list IAM roles (ListRoles): these are the roles created or opened in this page. Open
          another by its name below.
        </p>
      )}
      {roles.loading && !roles.data && <p className="hint">Loading roles…</p>}
      {roles.data && <EntityTable entities={roles.data.entities} kind="roles" testId="roles-table" />}
      <OpenByName kind="roles" />
    </section>
  );
}
