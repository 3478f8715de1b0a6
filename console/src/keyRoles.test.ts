import { describe, expect, it } from 'vitest';
import {
  ADMINISTRATORS_SID,
  PERSISTENT_RESOURCES_SID,
  USERS_SID,
  addKeyRole,
  buildKeyPolicy,
  grantOperations,
  keyRoles,
  parsePolicyDocument,
  removeKeyRole,
  setKeyRole,
} from './policy';

const ROOT = 'arn:aws:iam::111122223333:root';
const ADMIN = 'arn:aws:iam::111122223333:user/MyKeyManager';
const USER = 'arn:aws:iam::111122223333:user/MyKeyUser';
const OTHER = 'arn:aws:iam::111122223333:role/Other';
const SYMMETRIC = { keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT' as const };
const SIGNING = { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' as const };

/** The default policy KMS gives a key created without one. */
const DEFAULT = JSON.stringify({
  Version: '2012-10-17',
  Id: 'key-default-1',
  Statement: [
    { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' },
  ],
});

function sids(text: string): string[] {
  return (parsePolicyDocument(text).Statement as { Sid: string }[]).map((s) => s.Sid);
}

function statement(text: string, sid: string): Record<string, unknown> | undefined {
  return (parsePolicyDocument(text).Statement as Record<string, unknown>[]).find((s) => s.Sid === sid);
}

describe('the key administrators / key users view of a key policy', () => {
  it('reads a console policy', () => {
    const text = JSON.stringify(
      buildKeyPolicy({
        account: '111122223333',
        administrators: [ADMIN],
        users: [USER, OTHER],
        keySpec: 'SYMMETRIC_DEFAULT',
        keyUsage: 'ENCRYPT_DECRYPT',
        administratorsMayDelete: true,
      }),
    );
    expect(keyRoles(text)).toEqual({ administrators: [ADMIN], users: [USER, OTHER] });
  });

  it('reads nobody from the default policy, and a single statement object', () => {
    expect(keyRoles(DEFAULT)).toEqual({ administrators: [], users: [] });
    const single = JSON.stringify({
      Version: '2012-10-17',
      Statement: { Sid: USERS_SID, Effect: 'Allow', Principal: { AWS: USER }, Action: 'kms:Encrypt', Resource: '*' },
    });
    expect(keyRoles(single)).toEqual({ administrators: [], users: [USER] });
  });

  it('ignores principals that are not AWS ARNs', () => {
    const text = JSON.stringify({
      Statement: [
        { Sid: USERS_SID, Effect: 'Allow', Principal: '*', Action: 'kms:*', Resource: '*' },
        { Sid: ADMINISTRATORS_SID, Effect: 'Allow', Principal: { Service: 'x.amazonaws.com' }, Action: 'kms:*', Resource: '*' },
      ],
    });
    expect(keyRoles(text)).toEqual({ administrators: [], users: [] });
  });

  it('says why text is not a policy', () => {
    expect(() => keyRoles('{nope')).toThrow(/not JSON/);
    expect(() => keyRoles('[]')).toThrow('The key policy is not a JSON object.');
  });

  it('adds the first administrator as a new statement after the account statement', () => {
    const text = addKeyRole(DEFAULT, 'administrators', ADMIN, SYMMETRIC);
    expect(sids(text)).toEqual(['Enable IAM User Permissions', ADMINISTRATORS_SID]);
    const admin = statement(text, ADMINISTRATORS_SID)!;
    expect(admin.Principal).toEqual({ AWS: ADMIN });
    expect(admin.Action).toContain('kms:ScheduleKeyDeletion');
    expect(admin.Action).toContain('kms:Put*');
    expect(parsePolicyDocument(text).Id).toBe('key-default-1');
  });

  it('adds key users with the actions of the key usage, and the persistent-resources statement for symmetric keys', () => {
    const text = addKeyRole(DEFAULT, 'users', USER, SYMMETRIC);
    expect(sids(text)).toEqual(['Enable IAM User Permissions', USERS_SID, PERSISTENT_RESOURCES_SID]);
    expect(statement(text, USERS_SID)!.Action).toEqual([
      'kms:Encrypt',
      'kms:Decrypt',
      'kms:ReEncrypt*',
      'kms:GenerateDataKey*',
      'kms:DescribeKey',
    ]);
    expect(statement(text, PERSISTENT_RESOURCES_SID)!.Principal).toEqual({ AWS: USER });

    const signing = addKeyRole(DEFAULT, 'users', USER, SIGNING);
    expect(sids(signing)).toEqual(['Enable IAM User Permissions', USERS_SID]);
    expect(statement(signing, USERS_SID)!.Action).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign', 'kms:Verify']);
  });

  it('puts a new administrators statement before the key users', () => {
    const withUsers = addKeyRole(DEFAULT, 'users', USER, SYMMETRIC);
    const text = addKeyRole(withUsers, 'administrators', ADMIN, SYMMETRIC);
    expect(sids(text)).toEqual(['Enable IAM User Permissions', ADMINISTRATORS_SID, USERS_SID, PERSISTENT_RESOURCES_SID]);
  });

  it('adds to an existing statement as a list, keeping its actions and conditions', () => {
    const custom = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: USERS_SID,
          Effect: 'Allow',
          Principal: { AWS: USER, Service: 'logs.amazonaws.com' },
          Action: 'kms:Decrypt',
          Resource: '*',
          Condition: { StringEquals: { 'kms:CallerAccount': '111122223333' } },
        },
      ],
    });
    const text = addKeyRole(custom, 'users', OTHER, SYMMETRIC);
    expect(statement(text, USERS_SID)).toEqual({
      Sid: USERS_SID,
      Effect: 'Allow',
      Principal: { AWS: [USER, OTHER], Service: 'logs.amazonaws.com' },
      Action: 'kms:Decrypt',
      Resource: '*',
      Condition: { StringEquals: { 'kms:CallerAccount': '111122223333' } },
    });
    // No persistent-resources statement appears when the users' statement was already there.
    expect(sids(text)).toEqual([USERS_SID]);
    // Adding someone already there changes nothing.
    expect(keyRoles(addKeyRole(text, 'users', USER, SYMMETRIC)).users).toEqual([USER, OTHER]);
  });

  it('removes a principal, back to a single ARN, and the statements with the last one', () => {
    let text = addKeyRole(addKeyRole(DEFAULT, 'users', USER, SYMMETRIC), 'users', OTHER, SYMMETRIC);
    expect(statement(text, PERSISTENT_RESOURCES_SID)!.Principal).toEqual({ AWS: [USER, OTHER] });
    text = removeKeyRole(text, 'users', USER, SYMMETRIC);
    expect(statement(text, USERS_SID)!.Principal).toEqual({ AWS: OTHER });
    expect(statement(text, PERSISTENT_RESOURCES_SID)!.Principal).toEqual({ AWS: OTHER });
    text = removeKeyRole(text, 'users', OTHER, SYMMETRIC);
    expect(sids(text)).toEqual(['Enable IAM User Permissions']);
    expect(JSON.parse(text)).toEqual(JSON.parse(DEFAULT));
  });

  it('leaves the other role alone', () => {
    const both = addKeyRole(addKeyRole(DEFAULT, 'administrators', ADMIN, SYMMETRIC), 'users', USER, SYMMETRIC);
    const text = setKeyRole(both, 'administrators', [], SYMMETRIC);
    expect(keyRoles(text)).toEqual({ administrators: [], users: [USER] });
  });
});

describe('grant operations', () => {
  it('offers the operations of the key', () => {
    expect(grantOperations('SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT')).toContain('GenerateDataKey');
    expect(grantOperations('RSA_2048', 'ENCRYPT_DECRYPT')).not.toContain('GenerateDataKey');
    expect(grantOperations('ECC_NIST_P256', 'SIGN_VERIFY')).toEqual([
      'Sign',
      'Verify',
      'GetPublicKey',
      'DescribeKey',
      'CreateGrant',
      'RetireGrant',
    ]);
    expect(grantOperations('HMAC_256', 'GENERATE_VERIFY_MAC')).toEqual([
      'GenerateMac',
      'VerifyMac',
      'DescribeKey',
      'CreateGrant',
      'RetireGrant',
    ]);
    expect(grantOperations(undefined, undefined)).toHaveLength(17);
  });
});
