// The signed-in session: credentials and who they belong to, kept in
// sessionStorage only (gone when the tab closes, never in localStorage),
// removed on sign-out.

import type { Session } from './aws';

export interface SignedIn extends Session {
  arn: string;
  account: string;
  userId: string;
}

const KEY = 'trent-console.session';

export function loadSession(): SignedIn | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Partial<SignedIn>;
    if (
      typeof s.accessKeyId === 'string' &&
      typeof s.secretAccessKey === 'string' &&
      typeof s.region === 'string' &&
      typeof s.arn === 'string' &&
      typeof s.account === 'string'
    ) {
      return {
        accessKeyId: s.accessKeyId,
        secretAccessKey: s.secretAccessKey,
        sessionToken: typeof s.sessionToken === 'string' && s.sessionToken ? s.sessionToken : undefined,
        region: s.region,
        arn: s.arn,
        account: s.account,
        userId: typeof s.userId === 'string' ? s.userId : '',
      };
    }
  } catch {
    // Storage unavailable or a damaged entry: signed out.
  }
  return undefined;
}

export function saveSession(session: SignedIn): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage unavailable: the session lives in memory until reload.
  }
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}
