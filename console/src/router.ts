// A small hash router: `#/keys`, `#/keys/create`, `#/keys/<id>`,
// `#/playground`, `#/iam/users`. A key id that is an alias or an ARN is
// percent-encoded in its segment (`#/keys/alias%2FMyKey`).

import { useEffect, useState } from 'react';

export type Route =
  | { name: 'keys' }
  | { name: 'createKey' }
  | { name: 'key'; id: string }
  | { name: 'playground'; keyId?: string }
  | { name: 'iamUsers' }
  | { name: 'notFound'; path: string };

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
  if (parts[0] === 'iam' && parts[1] === 'users' && parts.length === 2) return { name: 'iamUsers' };
  return { name: 'notFound', path };
}

export function keyHref(id: string): string {
  return `#/keys/${encodeURIComponent(id)}`;
}

export function playgroundHref(keyId?: string): string {
  return keyId ? `#/playground?key=${encodeURIComponent(keyId)}` : '#/playground';
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
