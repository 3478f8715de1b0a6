import { describe, expect, it } from 'vitest';
import { AwsError } from './aws';
import {
  createdInSession,
  decodePolicyDocument,
  forgetSession,
  inlinePolicyActions,
  isMissingAction,
  rememberCreated,
  trustPolicyTemplate,
} from './iam';

describe('IAM helpers', () => {
  it('decodes the percent-encoded documents IAM sends', () => {
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] };
    expect(decodePolicyDocument(encodeURIComponent(JSON.stringify(doc)))).toBe(JSON.stringify(doc, null, 2));
    expect(decodePolicyDocument('%E0%A4%A')).toBe('%E0%A4%A');
    expect(decodePolicyDocument('a+b')).toBe('a+b');
  });

  it('names the inline policy actions of each kind', () => {
    expect(inlinePolicyActions('Group')).toEqual({
      owner: 'GroupName',
      list: 'ListGroupPolicies',
      get: 'GetGroupPolicy',
      put: 'PutGroupPolicy',
      remove: 'DeleteGroupPolicy',
    });
  });

  it('knows a missing action', () => {
    expect(isMissingAction(new AwsError('InvalidAction', 'Could not find operation ListRoles', 400))).toBe(true);
    expect(isMissingAction(new AwsError('AccessDenied', 'no', 403))).toBe(false);
  });

  it('trusts the account root', () => {
    expect(JSON.parse(trustPolicyTemplate('111122223333')).Statement[0].Principal).toEqual({
      AWS: 'arn:aws:iam::111122223333:root',
    });
  });

  it('remembers groups and roles until sign-out', () => {
    const e = { name: 'b', arn: 'arn:aws:iam::1:role/b', path: '/', id: 'AROA', created: '' };
    rememberCreated({ ...e, kind: 'Role' });
    rememberCreated({ ...e, name: 'a', kind: 'Role' });
    rememberCreated({ ...e, kind: 'User' });
    expect(createdInSession('Role').map((r) => r.name)).toEqual(['a', 'b']);
    expect(createdInSession('Group')).toEqual([]);
    forgetSession();
    expect(createdInSession('Role')).toEqual([]);
  });
});
