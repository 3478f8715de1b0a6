// A small hash router: `#/keys`, `#/keys/create`, `#/keys/<id>`,
// `#/playground`, `#/iam/users[/<name>]`, `#/iam/groups[/<name>]`,
// `#/iam/roles[/<name>]`, `#/audit?attribute=…&value=…`. A key id that is an
// alias or an ARN is percent-encoded in its segment (`#/keys/alias%2FMyKey`).

import { useEffect, useState } from 'react';

export type Route =
  | { name: 'keys' }
  | { name: 'createKey' }
  | { name: 'key'; id: string }
  | { name: 'playground'; keyId?: string }
  | { name: 'iamUsers' }
  | { name: 'iamUser'; userName: string }
  | { name: 'iamGroups' }
  | { name: 'iamGroup'; groupName: string }
  | { name: 'iamRoles' }
  | { name: 'iamRole'; roleName: string }
  | { name: 'audit'; attribute?: string; value?: string }
  | { name: 'notFound'; path: string };

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const [pathname, search = ''] = path.split('?', 2);
  const parts = pathname.split('/').filter((p) => p !== '');
  const params = new URLSearchParams(search);
  if (parts.length === 0) return { name: 'keys' };
  if (parts[0] === 'keys') {
    if (parts.length === 1) return { name: 'keys' };
    if (parts.length === 2 && parts[1] === 'create') return { name: 'createKey' };
    if (parts.length === 2) {
      try {
        return { name: 'key', id: decodeURIComponent(parts[1]) };
      } catch {
        return { name: 'notFound', path };
      }
    }
  }
  if (parts[0] === 'playground' && parts.length === 1) {
    return { name: 'playground', keyId: params.get('key') ?? undefined };
  }
  if (parts[0] === 'iam' && parts.length === 2) {
    if (parts[1] === 'users') return { name: 'iamUsers' };
    if (parts[1] === 'groups') return { name: 'iamGroups' };
    if (parts[1] === 'roles') return { name: 'iamRoles' };
  }
  if (parts[0] === 'iam' && parts.length === 3) {
    const name = decoded(parts[2]);
    if (name !== undefined) {
      if (parts[1] === 'users') return { name: 'iamUser', userName: name };
      if (parts[1] === 'groups') return { name: 'iamGroup', groupName: name };
      if (parts[1] === 'roles') return { name: 'iamRole', roleName: name };
    }
  }
  if (parts[0] === 'audit' && parts.length === 1) {
    return { name: 'audit', attribute: params.get('attribute') ?? undefined, value: params.get('value') ?? undefined };
  }
  return { name: 'notFound', path };
}

export function keyHref(id: string): string {
  return `#/keys/${encodeURIComponent(id)}`;
}

export function playgroundHref(keyId?: string): string {
  return keyId ? `#/playground?key=${encodeURIComponent(keyId)}` : '#/playground';
}

export function iamHref(kind: 'users' | 'groups' | 'roles', name: string): string {
  return `#/iam/${kind}/${encodeURIComponent(name)}`;
}

/** The audit screen, filtered on one lookup attribute. */
export function auditHref(attribute?: string, value?: string): string {
  if (!attribute || !value) return '#/audit';
  return `#/audit?${new URLSearchParams({ attribute, value }).toString()}`;
}

export function navigate(hash: string): void {
  if (location.hash !== hash) location.hash = hash;
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
