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

// ---- The "key administrators / key users" view of an existing key policy.
//
// As in the AWS console, the view reads the statements with the Sids below
// and writes changes back into them: adding the first principal creates the
// statement (with the default actions above), removing the last one removes
// it. "Allow attachment of persistent resources" follows the key users.

export const ADMINISTRATORS_SID = 'Allow access for Key Administrators';
export const USERS_SID = 'Allow use of the key';
export const PERSISTENT_RESOURCES_SID = 'Allow attachment of persistent resources';

export type KeyRole = 'administrators' | 'users';

export interface KeyRoles {
  administrators: string[];
  users: string[];
}

type Json = Record<string, unknown>;

/** A key policy document as an object; throws an Error saying why when it is not one. */
export function parsePolicyDocument(text: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`The key policy is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('The key policy is not a JSON object.');
  }
  return parsed as Json;
}

/** The statements of a policy: `Statement` may be one object or a list. */
function statementsOf(policy: Json): Json[] {
  const s = policy.Statement;
  if (Array.isArray(s)) return s.filter((x): x is Json => !!x && typeof x === 'object' && !Array.isArray(x));
  if (s && typeof s === 'object') return [s as Json];
  return [];
}

/** The AWS principals (`Principal.AWS`) of a statement, as a list. */
export function statementPrincipals(statement: Json | undefined): string[] {
  const p = statement?.Principal;
  if (!p || typeof p !== 'object' || Array.isArray(p)) return [];
  const aws = (p as Json).AWS;
  if (typeof aws === 'string') return [aws];
  if (Array.isArray(aws)) return aws.filter((a): a is string => typeof a === 'string');
  return [];
}

function sidOf(role: KeyRole): string {
  return role === 'administrators' ? ADMINISTRATORS_SID : USERS_SID;
}

/** The key administrators and key users named in a key policy's text. */
export function keyRoles(text: string): KeyRoles {
  const statements = statementsOf(parsePolicyDocument(text));
  const of = (sid: string) => [
    ...new Set(statements.filter((s) => s.Sid === sid).flatMap((s) => statementPrincipals(s))),
  ];
  return { administrators: of(ADMINISTRATORS_SID), users: of(USERS_SID) };
}

export interface KeyShape {
  keySpec: string;
  keyUsage: KeyUsage;
}

function withPrincipals(statement: Json, arns: string[]): Json {
  const old = statement.Principal && typeof statement.Principal === 'object' && !Array.isArray(statement.Principal)
    ? (statement.Principal as Json)
    : {};
  return { ...statement, Principal: { ...old, AWS: principal(arns) } };
}

/**
 * The key policy `text` with the principals of `role` set to `arns`
 * (pretty-printed JSON). Other statements, and the other members of the
 * changed statements, are kept as they are.
 */
export function setKeyRole(text: string, role: KeyRole, arns: string[], key: KeyShape): string {
  const policy = parsePolicyDocument(text);
  const wanted = [...new Set(arns.map((a) => a.trim()).filter((a) => a !== ''))];
  const sid = sidOf(role);
  let statements = statementsOf(policy);
  const symmetric = key.keyUsage === 'ENCRYPT_DECRYPT' && key.keySpec === 'SYMMETRIC_DEFAULT';

  if (wanted.length === 0) {
    statements = statements.filter(
      (s) => s.Sid !== sid && !(role === 'users' && s.Sid === PERSISTENT_RESOURCES_SID),
    );
  } else if (statements.some((s) => s.Sid === sid)) {
    statements = statements.map((s) =>
      s.Sid === sid || (role === 'users' && s.Sid === PERSISTENT_RESOURCES_SID) ? withPrincipals(s, wanted) : s,
    );
  } else if (role === 'administrators') {
    const created: Json = {
      Sid: ADMINISTRATORS_SID,
      Effect: 'Allow',
      Principal: { AWS: principal(wanted) },
      Action: [...ADMIN_ACTIONS, ...DELETION_ACTIONS],
      Resource: '*',
    };
    // Before the key users, as the AWS console orders them.
    const at = statements.findIndex((s) => s.Sid === USERS_SID || s.Sid === PERSISTENT_RESOURCES_SID);
    statements = at < 0 ? [...statements, created] : [...statements.slice(0, at), created, ...statements.slice(at)];
  } else {
    statements = statements.filter((s) => s.Sid !== PERSISTENT_RESOURCES_SID);
    statements.push({
      Sid: USERS_SID,
      Effect: 'Allow',
      Principal: { AWS: principal(wanted) },
      Action: keyUserActions(key.keySpec, key.keyUsage),
      Resource: '*',
    });
    if (symmetric) {
      statements.push({
        Sid: PERSISTENT_RESOURCES_SID,
        Effect: 'Allow',
        Principal: { AWS: principal(wanted) },
        Action: ['kms:CreateGrant', 'kms:ListGrants', 'kms:RevokeGrant'],
        Resource: '*',
        Condition: { Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      });
    }
  }
  return JSON.stringify({ ...policy, Statement: statements }, null, 2);
}

/** `setKeyRole` adding one principal to `role`. */
export function addKeyRole(text: string, role: KeyRole, arn: string, key: KeyShape): string {
  return setKeyRole(text, role, [...keyRoles(text)[role], arn], key);
}

/** `setKeyRole` removing one principal from `role`. */
export function removeKeyRole(text: string, role: KeyRole, arn: string, key: KeyShape): string {
  return setKeyRole(
    text,
    role,
    keyRoles(text)[role].filter((a) => a !== arn),
    key,
  );
}

/** A policy document's text, pretty-printed when it is JSON (the server's text otherwise). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The grant operations that apply to a key, by its usage and spec (as the AWS console offers them). */
export function grantOperations(keySpec: string | undefined, keyUsage: string | undefined): string[] {
  const common = ['DescribeKey', 'CreateGrant', 'RetireGrant'];
  switch (keyUsage) {
    case 'ENCRYPT_DECRYPT':
      return keySpec === 'SYMMETRIC_DEFAULT'
        ? [
            'Encrypt',
            'Decrypt',
            'ReEncryptFrom',
            'ReEncryptTo',
            'GenerateDataKey',
            'GenerateDataKeyWithoutPlaintext',
            'GenerateDataKeyPair',
            'GenerateDataKeyPairWithoutPlaintext',
            ...common,
          ]
        : ['Encrypt', 'Decrypt', 'ReEncryptFrom', 'ReEncryptTo', 'GetPublicKey', ...common];
    case 'SIGN_VERIFY':
      return ['Sign', 'Verify', 'GetPublicKey', ...common];
    case 'GENERATE_VERIFY_MAC':
      return ['GenerateMac', 'VerifyMac', ...common];
    case 'KEY_AGREEMENT':
      return ['DeriveSharedSecret', 'GetPublicKey', ...common];
    default:
      return [
        'Encrypt',
        'Decrypt',
        'ReEncryptFrom',
        'ReEncryptTo',
        'GenerateDataKey',
        'GenerateDataKeyWithoutPlaintext',
        'GenerateDataKeyPair',
        'GenerateDataKeyPairWithoutPlaintext',
        'Sign',
        'Verify',
        'GetPublicKey',
        'GenerateMac',
        'VerifyMac',
        'DeriveSharedSecret',
        ...common,
      ];
  }
}
