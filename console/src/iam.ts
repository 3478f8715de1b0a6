// IAM helpers shared by the IAM screens, the key policy view and the
// create-key wizard: paged lists, entities read from the Query answers,
// inline policies of users, groups and roles.

import { AwsError, childText, members, type Aws, type QueryParams } from './aws';
import { prettyJson } from './policy';

export type EntityKind = 'User' | 'Group' | 'Role';

export interface Entity {
  kind: EntityKind;
  name: string;
  arn: string;
  path: string;
  id: string;
  created: string;
}

/** Every `<member>` of a paged IAM list (`Marker` / `IsTruncated`). */
export async function listAll(aws: Aws, action: string, list: string, params: QueryParams = {}): Promise<Element[]> {
  const out: Element[] = [];
  let marker: string | undefined;
  do {
    const r = await aws.iam(action, { ...params, MaxItems: 1000, Marker: marker });
    out.push(...members(r, list));
    marker = childText(r, 'IsTruncated') === 'true' ? childText(r, 'Marker') : undefined;
  } while (marker);
  return out;
}

/** A user, group or role element (`<member>`, `<User>`, `<Group>`, `<Role>`). */
export function entityOf(kind: EntityKind, el: Element): Entity {
  return {
    kind,
    name: childText(el, `${kind}Name`) ?? '',
    arn: childText(el, 'Arn') ?? '',
    path: childText(el, 'Path') ?? '/',
    id: childText(el, `${kind}Id`) ?? '',
    created: childText(el, 'CreateDate') ?? '',
  };
}

export function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** IAM sends policy documents percent-encoded (RFC 3986); the JSON, pretty-printed. */
export function decodePolicyDocument(text: string): string {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // Not percent-encoded after all: shown as it came.
  }
  return prettyJson(decoded);
}

/** An error saying the server does not serve this action (`ListRoles` before Trent had it). */
export function isMissingAction(error: unknown): boolean {
  return error instanceof AwsError && error.code === 'InvalidAction';
}

/** The actions and parameter of the inline policies of one kind of entity. */
export function inlinePolicyActions(kind: EntityKind) {
  return {
    owner: `${kind}Name`,
    list: `List${kind}Policies`,
    get: `Get${kind}Policy`,
    put: `Put${kind}Policy`,
    remove: `Delete${kind}Policy`,
  };
}

/** A policy that allows nothing yet, to start an inline policy from. */
export const POLICY_TEMPLATE = JSON.stringify(
  {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['kms:DescribeKey'], Resource: '*' }],
  },
  null,
  2,
);

/** A trust policy letting the account's own principals assume the role. */
export function trustPolicyTemplate(account: string, partition = 'aws'): string {
  return JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:${partition}:iam::${account}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    },
    null,
    2,
  );
}

// Groups and roles created in this page, for a server without ListGroups or
// ListRoles. Memory only; forgotten on sign-out.
const created: Record<'Group' | 'Role', Map<string, Entity>> = { Group: new Map(), Role: new Map() };

export function rememberCreated(entity: Entity): void {
  if (entity.kind !== 'User') created[entity.kind].set(entity.name, entity);
}

export function forgetCreated(kind: 'Group' | 'Role', name: string): void {
  created[kind].delete(name);
}

export function createdInSession(kind: 'Group' | 'Role'): Entity[] {
  return [...created[kind].values()].sort(byName);
}

export function forgetSession(): void {
  created.Group.clear();
  created.Role.clear();
}
