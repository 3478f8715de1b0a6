// The client's framing of requests and its reading of JSON-protocol errors,
// with a fetch stand-in. (The Query protocol's XML is read with the
// browser's DOMParser, which Node lacks: that path is exercised in a
// browser against a real server.)

import { describe, expect, it } from 'vitest';
import { Aws, AwsError, describeError, formBody, jsonErrorCode } from './aws';

interface Sent {
  url: string;
  headers: Record<string, string>;
  body: string;
}

function fakeFetch(status: number, body: string, headers: Record<string, string> = {}) {
  const sent: Sent[] = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    sent.push({
      url: String(input),
      headers: init?.headers as Record<string, string>,
      body: String(init?.body),
    });
    return new Response(body, { status, headers });
  }) as typeof fetch;
  return { sent, impl };
}

const session = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
};

describe('kms', () => {
  it('posts JSON with the TrentService target, signed for kms', async () => {
    const { sent, impl } = fakeFetch(200, '{"KeyMetadata":{"KeyId":"k"}}', {
      'content-type': 'application/x-amz-json-1.1',
    });
    const aws = new Aws(session, {
      endpoint: 'http://localhost:5173/',
      fetch: impl,
      now: () => new Date('2026-01-02T03:04:05Z'),
    });
    const out = await aws.kms<{ KeyMetadata: { KeyId: string } }>('DescribeKey', { KeyId: 'alias/x' });
    expect(out.KeyMetadata.KeyId).toBe('k');
    expect(sent).toHaveLength(1);
    expect(sent[0].url).toBe('http://localhost:5173/');
    expect(sent[0].body).toBe('{"KeyId":"alias/x"}');
    expect(sent[0].headers['X-Amz-Target']).toBe('TrentService.DescribeKey');
    expect(sent[0].headers['Content-Type']).toBe('application/x-amz-json-1.1');
    expect(sent[0].headers['X-Amz-Date']).toBe('20260102T030405Z');
    expect(sent[0].headers['Authorization']).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20260102\/us-east-1\/kms\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$/,
    );
    expect(sent[0].headers['X-Amz-Security-Token']).toBeUndefined();
  });

  it('signs and sends a session token', async () => {
    const { sent, impl } = fakeFetch(200, '{}');
    const aws = new Aws({ ...session, sessionToken: 'TOKEN' }, { endpoint: 'http://h/', fetch: impl });
    await aws.kms('ListKeys');
    expect(sent[0].headers['X-Amz-Security-Token']).toBe('TOKEN');
    expect(sent[0].headers['Authorization']).toContain(
      'SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target,',
    );
  });

  it('throws the server message, with __type as the code', async () => {
    const message =
      'User: arn:aws:iam::000000000000:user/MyKeyUser is not authorized to perform: ' +
      'kms:ScheduleKeyDeletion on resource: arn:aws:kms:us-east-1:000000000000:key/1234 ' +
      'because no resource-based policy allows the kms:ScheduleKeyDeletion action';
    const { impl } = fakeFetch(400, JSON.stringify({ __type: 'AccessDeniedException', message }), {
      'x-amzn-requestid': 'req-1',
    });
    const aws = new Aws(session, { endpoint: 'http://h/', fetch: impl });
    const error = await aws.kms('ScheduleKeyDeletion', { KeyId: '1234' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AwsError);
    const e = error as AwsError;
    expect(e.message).toBe(message);
    expect(e.code).toBe('AccessDeniedException');
    expect(e.status).toBe(400);
    expect(e.requestId).toBe('req-1');
    expect(describeError(e)).toBe(`AccessDeniedException: ${message}`);
  });

  it('reads namespaced __type and a capitalised Message', async () => {
    const { impl } = fakeFetch(
      400,
      '{"__type":"com.amazonaws.kms#NotFoundException","Message":"Key x is not found."}',
    );
    const aws = new Aws(session, { endpoint: 'http://h/', fetch: impl });
    const e = (await aws.kms('DescribeKey', { KeyId: 'x' }).catch((x: unknown) => x)) as AwsError;
    expect(e.code).toBe('NotFoundException');
    expect(e.message).toBe('Key x is not found.');
  });

  it('reports a non-AWS answer and a network failure', async () => {
    const { impl } = fakeFetch(502, 'Bad Gateway', { 'content-type': 'text/plain' });
    const aws = new Aws(session, { endpoint: 'http://h/', fetch: impl });
    const e = (await aws.kms('ListKeys').catch((x: unknown) => x)) as AwsError;
    expect(e.code).toBe('HttpError');
    expect(e.message).toBe('The server answered HTTP 502: Bad Gateway');

    const failing = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const down = new Aws(session, { endpoint: 'http://h/', fetch: failing });
    const n = (await down.kms('ListKeys').catch((x: unknown) => x)) as AwsError;
    expect(n.code).toBe('NetworkError');
    expect(n.message).toBe('Could not reach the server: Failed to fetch');
  });
});

describe('cloudtrail', () => {
  it('uses the CloudTrail target, signed for cloudtrail', async () => {
    const { sent, impl } = fakeFetch(200, '{"Events":[]}');
    const aws = new Aws(session, { endpoint: 'http://h/', fetch: impl });
    await aws.cloudtrail('LookupEvents', { MaxResults: 5 });
    expect(sent[0].headers['X-Amz-Target']).toBe(
      'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents',
    );
    expect(sent[0].headers['Authorization']).toContain('/us-east-1/cloudtrail/aws4_request');
  });
});

describe('query protocol framing', () => {
  it('encodes Action, Version and parameters', () => {
    expect(formBody('CreateUser', '2010-05-08', { UserName: 'My Key+User', Path: undefined })).toBe(
      'Action=CreateUser&Version=2010-05-08&UserName=My%20Key%2BUser',
    );
    expect(formBody('GetCallerIdentity', '2011-06-15')).toBe('Action=GetCallerIdentity&Version=2011-06-15');
  });

  it('signs IAM and STS requests for their own service, form-encoded', async () => {
    const { sent, impl } = fakeFetch(500, '');
    const aws = new Aws(session, { endpoint: 'http://h/', fetch: impl });
    // No DOMParser in Node: the answer is not read, only the request checked.
    await aws.iam('ListUsers', { MaxItems: 10 }).catch(() => undefined);
    await aws.sts('GetCallerIdentity').catch(() => undefined);
    expect(sent[0].body).toBe('Action=ListUsers&Version=2010-05-08&MaxItems=10');
    expect(sent[0].headers['Content-Type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(sent[0].headers['Authorization']).toContain('/us-east-1/iam/aws4_request');
    expect(sent[0].headers['Authorization']).toContain('SignedHeaders=content-type;host;x-amz-date,');
    expect(sent[1].body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
    expect(sent[1].headers['Authorization']).toContain('/us-east-1/sts/aws4_request');
  });
});

describe('describeError', () => {
  it('shows the code alone when the server gave no message', () => {
    expect(describeError(new AwsError('InvalidCiphertextException', '', 400))).toBe('InvalidCiphertextException');
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});

describe('jsonErrorCode', () => {
  it('strips namespaces and URIs', () => {
    expect(jsonErrorCode('NotFoundException')).toBe('NotFoundException');
    expect(jsonErrorCode('com.amazonaws.kms#KMSInvalidStateException')).toBe('KMSInvalidStateException');
    expect(jsonErrorCode('ValidationException:http://internal.amazon.com/')).toBe('ValidationException');
  });
});
