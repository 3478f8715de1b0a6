// AWS Signature Version 4 (header signing) in the browser, with WebCrypto
// only: SHA-256 through crypto.subtle.digest, HMAC-SHA256 through
// crypto.subtle.sign. The rules mirror the server's (crates/trent-sigv4,
// canonical.rs) and botocore's for the services other than S3:
//
// - the canonical path is the path as sent (already percent-encoded), with
//   empty and "." segments removed and ".." applied, encoded once more
//   ("double encoding": % becomes %25);
// - the canonical query is every key=value pair decoded (form-style) and
//   encoded again, sorted by key then value;
// - every header handed in is signed, plus host, x-amz-date and (with a
//   session token) x-amz-security-token, like botocore; header values are
//   trimmed and inner runs of spaces collapsed.
//
// The console sends `POST /` to its own origin, so `host` is the page's
// `location.host`, which is what the browser puts in the Host header.

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: string;
  /** Absolute, or relative to the page (resolved against `location.href`). */
  url: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export interface SignOptions {
  /** `kms`, `iam`, `sts`, `cloudtrail` (any name is signed as given). */
  service: string;
  region: string;
  credentials: Credentials;
  /** When the request is signed; now by default. */
  date?: Date;
  /**
   * Also send and sign `x-amz-content-sha256` (S3-style; KMS, IAM and STS
   * do not need it and botocore does not send it for them).
   */
  signContentSha256?: boolean;
}

export interface SignedRequest {
  /**
   * The headers to hand to fetch(): the request's own, X-Amz-Date,
   * X-Amz-Security-Token, X-Amz-Content-Sha256 (when asked) and
   * Authorization. Host and Content-Length are signed when present but not
   * returned: the browser sets them itself (they are forbidden in fetch).
   */
  headers: Record<string, string>;
  authorization: string;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  signedHeaders: string;
  amzDate: string;
}

const encoder = new TextEncoder();

function bytesOf(data: string | Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof data === 'string') return encoder.encode(data);
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}

function hex(buffer: ArrayBuffer): string {
  const bytes = new Uint8Array(buffer);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function subtle(): SubtleCrypto {
  const c = globalThis.crypto;
  if (!c || !c.subtle) {
    throw new Error(
      'WebCrypto is not available: the console needs a secure context (HTTPS, or http://localhost).',
    );
  }
  return c.subtle;
}

export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  return hex(await subtle().digest('SHA-256', bytesOf(data)));
}

async function hmac(key: string | Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const raw = key instanceof ArrayBuffer ? new Uint8Array(key) : bytesOf(key);
  const k = await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  return subtle().sign('HMAC', k, bytesOf(data));
}

/** The signing key: HMAC chain over date, region, service, "aws4_request". */
export async function deriveSigningKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Promise<ArrayBuffer> {
  const kDate = await hmac('AWS4' + secretAccessKey, date);
  const kRegion = await hmac(kDate, region);
  const kService = await hmac(kRegion, service);
  return hmac(kService, 'aws4_request');
}

/** `YYYYMMDDTHHMMSSZ` (UTC). */
export function amzDateOf(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function isUnreserved(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2d || // -
    b === 0x2e || // .
    b === 0x5f || // _
    b === 0x7e // ~
  );
}

/** URI-encodes the SigV4 way: all but unreserved characters (and `/` if kept) as %XX. */
export function uriEncode(value: string | Uint8Array, keepSlash: boolean): string {
  const bytes = typeof value === 'string' ? encoder.encode(value) : value;
  let out = '';
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) {
      out += String.fromCharCode(b);
    } else {
      out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    }
  }
  return out;
}

/** The canonical URI of a path as sent (see the top of this file). */
export function canonicalPath(path: string): string {
  if (path === '') return '/';
  const p = path.startsWith('/') ? path : '/' + path;
  if (!p.includes('.') && !p.includes('//')) return uriEncode(p, true);
  const segments: string[] = [];
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  let out = segments.map((s) => '/' + uriEncode(s, false)).join('');
  const trailing = ['/', '/.', '/./', '/..', '/../'].some((end) => p.endsWith(end));
  if (segments.length === 0 || trailing) out += '/';
  return out;
}

function hexValue(c: number): number | undefined {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return undefined;
}

const lossyDecoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Decodes a query key or value as application/x-www-form-urlencoded (`+` a
 * space, %XX a byte, a malformed escape literal, invalid UTF-8 U+FFFD) and
 * encodes it again the SigV4 way.
 */
function reencodeQueryComponent(raw: string): string {
  if (!raw.includes('+') && !raw.includes('%')) return uriEncode(raw, false);
  const b = encoder.encode(raw);
  const decoded: number[] = [];
  for (let i = 0; i < b.length; ) {
    if (b[i] === 0x2b) {
      decoded.push(0x20);
      i += 1;
    } else if (b[i] === 0x25) {
      const hi = i + 1 < b.length ? hexValue(b[i + 1]) : undefined;
      const lo = i + 2 < b.length ? hexValue(b[i + 2]) : undefined;
      if (hi !== undefined && lo !== undefined) {
        decoded.push((hi << 4) | lo);
        i += 3;
      } else {
        decoded.push(0x25);
        i += 1;
      }
    } else {
      decoded.push(b[i]);
      i += 1;
    }
  }
  return uriEncode(lossyDecoder.decode(new Uint8Array(decoded)), false);
}

/** The canonical query string of a raw query (without its `?`). */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((piece) => piece !== '')
    .map((piece): [string, string] => {
      const eq = piece.indexOf('=');
      const k = eq < 0 ? piece : piece.slice(0, eq);
      const v = eq < 0 ? '' : piece.slice(eq + 1);
      return [reencodeQueryComponent(k), reencodeQueryComponent(v)];
    });
  // Encoded components are ASCII: code-unit order is byte order.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** SigV4's "trimall": spaces trimmed at both ends, inner runs collapsed to one. */
export function trimHeaderValue(value: string): string {
  return value.replace(/^ +| +$/g, '').replace(/ {2,}/g, ' ');
}

/** Headers that are signed but that the browser sets itself. */
const SET_BY_BROWSER = new Set(['host', 'content-length']);

export async function signRequest(req: SignableRequest, opts: SignOptions): Promise<SignedRequest> {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const url = new URL(req.url, base);
  const amzDate = amzDateOf(opts.date ?? new Date());
  const day = amzDate.slice(0, 8);
  const body = bytesOf(req.body);
  const payloadHash = await sha256Hex(body);

  const send: Record<string, string> = {};
  const toSign = new Map<string, string>();
  const add = (name: string, value: string) => {
    const lower = name.toLowerCase();
    if (toSign.has(lower)) throw new Error(`header ${name} given twice`);
    toSign.set(lower, value);
    if (!SET_BY_BROWSER.has(lower)) send[name] = value;
  };
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' || lower === 'x-amz-date' || lower === 'x-amz-security-token') {
      continue; // set below
    }
    add(name, value);
  }
  if (!toSign.has('host')) toSign.set('host', url.host);
  add('X-Amz-Date', amzDate);
  if (opts.credentials.sessionToken) add('X-Amz-Security-Token', opts.credentials.sessionToken);
  if (opts.signContentSha256 && !toSign.has('x-amz-content-sha256')) {
    add('X-Amz-Content-Sha256', payloadHash);
  }

  const names = [...toSign.keys()].sort();
  const signedHeaders = names.join(';');
  const canonicalHeaders = names.map((n) => `${n}:${trimHeaderValue(toSign.get(n) ?? '')}\n`).join('');
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalPath(url.pathname),
    canonicalQuery(url.search.replace(/^\?/, '')),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');

  const scope = `${day}/${opts.region}/${opts.service}/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    await sha256Hex(canonicalRequest),
  ].join('\n');
  const key = await deriveSigningKey(opts.credentials.secretAccessKey, day, opts.region, opts.service);
  const signature = hex(await hmac(key, stringToSign));
  const authorization =
    `AWS4-HMAC-SHA256 Credential=${opts.credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedHeaders}, Signature=${signature}`;
  send['Authorization'] = authorization;
  return {
    headers: send,
    authorization,
    canonicalRequest,
    stringToSign,
    signature,
    signedHeaders,
    amzDate,
  };
}
