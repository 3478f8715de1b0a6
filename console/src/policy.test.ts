import { describe, expect, it } from 'vitest';
import { buildKeyPolicy, partitionOf } from './policy';

const ADMIN = 'arn:aws:iam::111122223333:user/MyKeyManager';
const USER = 'arn:aws:iam::111122223333:user/MyKeyUser';

describe('the AWS console default key policy', () => {
  it("seed 004's key: one administrator, one user, symmetric", () => {
    const policy = buildKeyPolicy({
      account: '111122223333',
      administrators: [ADMIN],
      users: [USER],
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      administratorsMayDelete: true,
    });
    expect(policy).toEqual({
      Version: '2012-10-17',
      Id: 'key-consolepolicy-3',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:root' },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Sid: 'Allow access for Key Administrators',
          Effect: 'Allow',
          Principal: { AWS: ADMIN },
          Action: [
            'kms:Create*',
            'kms:Describe*',
            'kms:Enable*',
            'kms:List*',
            'kms:Put*',
            'kms:Update*',
            'kms:Revoke*',
            'kms:Disable*',
            'kms:Get*',
            'kms:Delete*',
            'kms:TagResource',
            'kms:UntagResource',
            'kms:ScheduleKeyDeletion',
            'kms:CancelKeyDeletion',
          ],
          Resource: '*',
        },
        {
          Sid: 'Allow use of the key',
          Effect: 'Allow',
          Principal: { AWS: USER },
          Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
          Resource: '*',
        },
        {
          Sid: 'Allow attachment of persistent resources',
          Effect: 'Allow',
          Principal: { AWS: USER },
          Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
          Resource: '*',
          Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
        },
      ],
    });
  });

  it('leaves out empty statements and deletion rights when unchecked', () => {
    const policy = buildKeyPolicy({
      account: '111122223333',
      administrators: [ADMIN, ADMIN, USER],
      users: [],
      keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT',
      administratorsMayDelete: false,
    });
    expect(policy.Statement.map((s) => s.Sid)).toEqual([
      'Enable IAM User Permissions',
      'Allow access for Key Administrators',
    ]);
    expect(policy.Statement[1].Principal.AWS).toEqual([ADMIN, USER]);
    expect(policy.Statement[1].Action).not.toContain('kms:ScheduleKeyDeletion');
  });

  it('asymmetric and HMAC keys: their own user actions, no grants statement', () => {
    const sign = buildKeyPolicy({
      account: '1',
      administrators: [],
      users: [USER],
      keySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      administratorsMayDelete: true,
    });
    expect(sign.Statement.map((s) => s.Sid)).toEqual(['Enable IAM User Permissions', 'Allow use of the key']);
    expect(sign.Statement[1].Action).toEqual(['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign', 'kms:Verify']);
    const mac = buildKeyPolicy({
      account: '1',
      administrators: [],
      users: [USER],
      keySpec: 'HMAC_256',
      keyUsage: 'GENERATE_VERIFY_MAC',
      administratorsMayDelete: true,
    });
    expect(mac.Statement[1].Action).toEqual(['kms:DescribeKey', 'kms:GenerateMac', 'kms:VerifyMac']);
  });

  it('partitions', () => {
    expect(partitionOf('arn:aws-cn:iam::1:root')).toBe('aws-cn');
    expect(partitionOf(undefined)).toBe('aws');
  });
});
