import { describe, expect, it } from 'vitest';
import { auditHref, iamHref, keyHref, parseRoute } from './router';

describe('routes', () => {
  it('parses', () => {
    expect(parseRoute('')).toEqual({ name: 'keys' });
    expect(parseRoute('#/')).toEqual({ name: 'keys' });
    expect(parseRoute('#/keys')).toEqual({ name: 'keys' });
    expect(parseRoute('#/keys/create')).toEqual({ name: 'createKey' });
    expect(parseRoute('#/keys/1234abcd-12ab-34cd-56ef-1234567890ab')).toEqual({
      name: 'key',
      id: '1234abcd-12ab-34cd-56ef-1234567890ab',
    });
    expect(parseRoute(keyHref('alias/MyKey'))).toEqual({ name: 'key', id: 'alias/MyKey' });
    expect(parseRoute('#/playground')).toEqual({ name: 'playground', keyId: undefined });
    expect(parseRoute('#/playground?key=alias%2Fx')).toEqual({ name: 'playground', keyId: 'alias/x' });
    expect(parseRoute('#/iam/users')).toEqual({ name: 'iamUsers' });
    expect(parseRoute('#/iam/groups')).toEqual({ name: 'iamGroups' });
    expect(parseRoute('#/iam/roles')).toEqual({ name: 'iamRoles' });
    expect(parseRoute(iamHref('users', 'My User+1'))).toEqual({ name: 'iamUser', userName: 'My User+1' });
    expect(parseRoute(iamHref('groups', 'Admins'))).toEqual({ name: 'iamGroup', groupName: 'Admins' });
    expect(parseRoute(iamHref('roles', 'a/b'))).toEqual({ name: 'iamRole', roleName: 'a/b' });
    expect(parseRoute('#/iam/users/%E0%A4')).toEqual({ name: 'notFound', path: '/iam/users/%E0%A4' });
    expect(parseRoute('#/audit')).toEqual({ name: 'audit', attribute: undefined, value: undefined });
    const arn = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(auditHref('ResourceName', arn)).toBe(`#/audit?attribute=ResourceName&value=${encodeURIComponent(arn)}`);
    expect(parseRoute(auditHref('ResourceName', arn))).toEqual({ name: 'audit', attribute: 'ResourceName', value: arn });
    expect(auditHref('ResourceName', '')).toBe('#/audit');
    expect(parseRoute('#/nope')).toEqual({ name: 'notFound', path: '/nope' });
  });
});
