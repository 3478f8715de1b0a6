// The key policy the AWS console writes for a key created in its wizard
// ("key-consolepolicy-3"): the account statement that enables IAM policies,
// then the key administrators, the key users and, for symmetric encryption
// keys, the grants that AWS services use for persistent resources.

export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY' | 'GENERATE_VERIFY_MAC' | 'KEY_AGREEMENT';

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Principal: { AWS: string | string[] };
  Action: string | string[];
  Resource: '*';
  Condition?: Record<string, Record<string, string>>;
}

export interface KeyPolicy {
  Version: '2012-10-17';
  Id: string;
  Statement: PolicyStatement[];
}

export interface KeyPolicyInput {
  account: string;
  /** The partition of the account's ARNs; `aws` by default. */
  partition?: string;
  administrators: string[];
  users: string[];
  keySpec: string;
  keyUsage: KeyUsage;
  /** "Allow key administrators to delete this key" (checked by default in the AWS console). */
  administratorsMayDelete: boolean;
}

const ADMIN_ACTIONS = [
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
];

const DELETION_ACTIONS = ['kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion'];

/** What key users may do, by the key's usage and spec (as the AWS console grants). */
export function keyUserActions(keySpec: string, keyUsage: KeyUsage): string[] {
  switch (keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return keySpec === 'SYMMETRIC_DEFAULT'
        ? ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey']
        : ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:DescribeKey', 'kms:GetPublicKey'];
    case 'SIGN_VERIFY':
      return ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:Sign', 'kms:Verify'];
    case 'GENERATE_VERIFY_MAC':
      return ['kms:DescribeKey', 'kms:GenerateMac', 'kms:VerifyMac'];
    case 'KEY_AGREEMENT':
      return ['kms:DescribeKey', 'kms:GetPublicKey', 'kms:DeriveSharedSecret'];
  }
}

function principal(arns: string[]): string | string[] {
  return arns.length === 1 ? arns[0] : arns;
}

export function buildKeyPolicy(input: KeyPolicyInput): KeyPolicy {
  const partition = input.partition ?? 'aws';
  const statements: PolicyStatement[] = [
    {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:${partition}:iam::${input.account}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ];
  const admins = [...new Set(input.administrators)];
  const users = [...new Set(input.users)];
  if (admins.length > 0) {
    statements.push({
      Sid: 'Allow access for Key Administrators',
      Effect: 'Allow',
      Principal: { AWS: principal(admins) },
      Action: input.administratorsMayDelete ? [...ADMIN_ACTIONS, ...DELETION_ACTIONS] : [...ADMIN_ACTIONS],
      Resource: '*',
    });
  }
  if (users.length > 0) {
    statements.push({
      Sid: 'Allow use of the key',
      Effect: 'Allow',
      Principal: { AWS: principal(users) },
      Action: keyUserActions(input.keySpec, input.keyUsage),
      Resource: '*',
    });
    if (input.keyUsage === 'ENCRYPT_DECRYPT' && input.keySpec === 'SYMMETRIC_DEFAULT') {
      statements.push({
        Sid: 'Allow attachment of persistent resources',
        Effect: 'Allow',
        Principal: { AWS: principal(users) },
        Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      });
    }
  }
  return { Version: '2012-10-17', Id: 'key-consolepolicy-3', Statement: statements };
}

/** The partition of an ARN (`arn:PARTITION:…`), `aws` if it is not one. */
export function partitionOf(arn: string | undefined): string {
  const m = /^arn:([^:]+):/.exec(arn ?? '');
  return m ? m[1] : 'aws';
}
