// A small client of Trent's public API: the ordinary KMS, IAM, STS and
// CloudTrail requests (POST / to this origin), signed in the page by
// sigv4.ts. Errors are thrown as AwsError, whose message is the server's
// own wording and whose code is AWS's error code.

import { signRequest, uriEncode, type Credentials } from './sigv4';

export interface Session extends Credentials {
  region: string;
}

/** An error as the server answered it (or, with code "NetworkError" / "HttpError", as the browser saw it). */
export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  readonly requestId?: string;

  constructor(code: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = 'AwsError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
  }
}

/** "Code: message", as the console shows an error. */
export function describeError(error: unknown): string {
  if (error instanceof AwsError) {
    // Some errors carry no message (AWS's InvalidCiphertextException): the code alone.
    if (!error.code) return error.message;
    return error.message ? `${error.code}: ${error.message}` : error.code;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export type QueryParams = Record<string, string | number | boolean | undefined | null>;

const KMS_TARGET_PREFIX = 'TrentService.';
const CLOUDTRAIL_TARGET_PREFIX = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.';
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
const IAM_VERSION = '2010-05-08';
const STS_VERSION = '2011-06-15';

/** The body of a Query-protocol request: Action, Version, then the parameters, percent-encoded. */
export function formBody(action: string, version: string, params: QueryParams = {}): string {
  const pairs: string[] = [`Action=${uriEncode(action, false)}`, `Version=${uriEncode(version, false)}`];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    pairs.push(`${uriEncode(name, false)}=${uriEncode(String(value), false)}`);
  }
  return pairs.join('&');
}

/**
 * The code of a JSON-protocol error: `__type`, without a namespace
 * (`com.amazonaws.kms#NotFoundException`) or a trailing URI
 * (`NotFoundException:http://...`), as botocore reads it.
 */
export function jsonErrorCode(type: string): string {
  let code = type;
  const hash = code.lastIndexOf('#');
  if (hash >= 0) code = code.slice(hash + 1);
  const colon = code.indexOf(':');
  if (colon >= 0) code = code.slice(0, colon);
  return code;
}

/** The AwsError of a JSON-protocol (KMS, CloudTrail) error answer. */
export function jsonError(status: number, statusText: string, text: string, headers: Headers): AwsError {
  const requestId = headers.get('x-amzn-requestid') ?? undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed === 'object') {
    const o = parsed as Record<string, unknown>;
    const type = typeof o.__type === 'string' ? o.__type : (headers.get('x-amzn-errortype') ?? '');
    const message =
      typeof o.message === 'string' ? o.message : typeof o.Message === 'string' ? o.Message : '';
    if (type || message) return new AwsError(jsonErrorCode(type), message, status, requestId);
  }
  return httpError(status, statusText, text, requestId);
}

function httpError(status: number, statusText: string, text: string, requestId?: string): AwsError {
  const snippet = text.trim().slice(0, 200);
  return new AwsError(
    'HttpError',
    `The server answered HTTP ${status}${statusText ? ' ' + statusText : ''}${snippet ? ': ' + snippet : ''}`,
    status,
    requestId,
  );
}

function parseXml(text: string): Document | undefined {
  if (typeof DOMParser === 'undefined') throw new Error('DOMParser is not available');
  const doc = new DOMParser().parseFromString(text, 'application/xml');
  if (doc.getElementsByTagName('parsererror').length > 0) return undefined;
  return doc;
}

/** The first child element of `el` named `name` (any namespace). */
export function child(el: Element | null | undefined, name: string): Element | undefined {
  if (!el) return undefined;
  for (const c of Array.from(el.children)) if (c.localName === name) return c;
  return undefined;
}

/** The text of the child `name` of `el`, or undefined. */
export function childText(el: Element | null | undefined, name: string): string | undefined {
  const c = child(el, name);
  return c ? (c.textContent ?? '') : undefined;
}

/** The `<member>` elements of the list child `name` of `el`. */
export function members(el: Element | null | undefined, name: string): Element[] {
  const list = child(el, name);
  if (!list) return [];
  return Array.from(list.children).filter((c) => c.localName === 'member');
}

/** The AwsError of a Query-protocol (IAM, STS) error answer. */
export function queryError(status: number, statusText: string, text: string, headers: Headers): AwsError {
  const requestId = headers.get('x-amzn-requestid') ?? undefined;
  const doc = parseXml(text);
  const root = doc?.documentElement;
  // <ErrorResponse><Error><Code/><Message/></Error></ErrorResponse>, or a bare <Error>.
  const error = root?.localName === 'Error' ? root : child(root, 'Error');
  if (error) {
    return new AwsError(
      childText(error, 'Code') ?? '',
      childText(error, 'Message') ?? '',
      status,
      requestId ?? childText(root, 'RequestId'),
    );
  }
  return httpError(status, statusText, text, requestId);
}

export interface ClientOptions {
  /** Where the API answers; this page's origin (`/`) by default. */
  endpoint?: string;
  fetch?: typeof fetch;
  /** The signing time; now by default (for tests). */
  now?: () => Date;
}

export class Aws {
  private readonly session: Session;
  private readonly endpoint: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => Date;

  constructor(session: Session, options: ClientOptions = {}) {
    this.session = session;
    this.endpoint = options.endpoint ?? '/';
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? (() => new Date());
  }

  get region(): string {
    return this.session.region;
  }

  private async send(
    service: string,
    headers: Record<string, string>,
    body: string,
  ): Promise<Response> {
    const credentials: Credentials = {
      accessKeyId: this.session.accessKeyId,
      secretAccessKey: this.session.secretAccessKey,
      sessionToken: this.session.sessionToken || undefined,
    };
    const signed = await signRequest(
      { method: 'POST', url: this.endpoint, headers, body },
      { service, region: this.session.region, credentials, date: this.now() },
    );
    try {
      return await this.fetchImpl(this.endpoint, {
        method: 'POST',
        headers: signed.headers,
        body,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
      });
    } catch (e) {
      throw new AwsError(
        'NetworkError',
        `Could not reach the server: ${e instanceof Error ? e.message : String(e)}`,
        0,
      );
    }
  }

  private async json<T>(service: string, target: string, body: object): Promise<T> {
    const response = await this.send(
      service,
      { 'Content-Type': JSON_CONTENT_TYPE, 'X-Amz-Target': target },
      JSON.stringify(body),
    );
    const text = await response.text();
    if (!response.ok) throw jsonError(response.status, response.statusText, text, response.headers);
    if (text.trim() === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw httpError(response.status, response.statusText, text);
    }
  }

  private async query(service: string, version: string, action: string, params: QueryParams): Promise<Element> {
    const response = await this.send(
      service,
      { 'Content-Type': FORM_CONTENT_TYPE },
      formBody(action, version, params),
    );
    const text = await response.text();
    if (!response.ok) throw queryError(response.status, response.statusText, text, response.headers);
    const root = parseXml(text)?.documentElement;
    if (!root) throw httpError(response.status, response.statusText, text);
    // <ActionResponse><ActionResult>…</ActionResult><ResponseMetadata/></ActionResponse>
    return child(root, `${action}Result`) ?? root;
  }

  /** A KMS operation: `kms('DescribeKey', { KeyId })`. */
  kms<T = Record<string, unknown>>(operation: string, body: object = {}): Promise<T> {
    return this.json<T>('kms', KMS_TARGET_PREFIX + operation, body);
  }

  /** A CloudTrail operation: `cloudtrail('LookupEvents', { MaxResults: 50 })`. */
  cloudtrail<T = Record<string, unknown>>(operation: string, body: object = {}): Promise<T> {
    return this.json<T>('cloudtrail', CLOUDTRAIL_TARGET_PREFIX + operation, body);
  }

  /** An IAM action; resolves to its `<ActionResult>` element. */
  iam(action: string, params: QueryParams = {}): Promise<Element> {
    return this.query('iam', IAM_VERSION, action, params);
  }

  /** An STS action; resolves to its `<ActionResult>` element. */
  sts(action: string, params: QueryParams = {}): Promise<Element> {
    return this.query('sts', STS_VERSION, action, params);
  }
}
