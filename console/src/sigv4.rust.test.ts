// The console's signer against the server's own (crates/trent-sigv4): the
// requests of sigv4.rust-cases.json, as the console sends them to Trent,
// were signed by trent-sigv4 (its test `console_cases` writes the file and
// fails when it is stale); signing them here must give the same
// Authorization header, byte for byte.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signRequest } from './sigv4';

interface RustCase {
  name: string;
  service: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  sessionToken: string | null;
  authorization: string;
}

interface RustCases {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  amzDate: string;
  cases: RustCase[];
}

const here = dirname(fileURLToPath(import.meta.url));
const file = JSON.parse(readFileSync(join(here, 'sigv4.rust-cases.json'), 'utf8')) as RustCases;

function dateOf(amzDate: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) throw new Error(`bad amz date ${amzDate}`);
  const [, y, mo, d, h, mi, s] = m.map(Number);
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

describe('signatures of trent-sigv4', () => {
  it('has cases', () => {
    expect(file.cases.length).toBeGreaterThanOrEqual(5);
  });
  for (const c of file.cases) {
    it(`signs ${c.name} as the server's signer does`, async () => {
      const signed = await signRequest(
        { method: 'POST', url: c.url, headers: c.headers, body: c.body },
        {
          service: c.service,
          region: file.region,
          date: dateOf(file.amzDate),
          credentials: {
            accessKeyId: file.accessKeyId,
            secretAccessKey: file.secretAccessKey,
            sessionToken: c.sessionToken ?? undefined,
          },
        },
      );
      expect(signed.authorization).toBe(c.authorization);
    });
  }
});
