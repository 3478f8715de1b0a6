// The parts of KMS's responses that the console reads.

export interface KeyMetadata {
  KeyId: string;
  Arn: string;
  AWSAccountId?: string;
  CreationDate?: number;
  Description?: string;
  Enabled?: boolean;
  KeyState?: string;
  KeyUsage?: string;
  KeySpec?: string;
  CustomerMasterKeySpec?: string;
  KeyManager?: string;
  Origin?: string;
  DeletionDate?: number;
  PendingDeletionWindowInDays?: number;
  MultiRegion?: boolean;
  EncryptionAlgorithms?: string[];
  SigningAlgorithms?: string[];
  MacAlgorithms?: string[];
}

export interface ListKeysResponse {
  Keys?: { KeyId: string; KeyArn: string }[];
  NextMarker?: string;
  Truncated?: boolean;
}

export interface AliasListEntry {
  AliasName: string;
  AliasArn?: string;
  TargetKeyId?: string;
  CreationDate?: number;
}

export interface ListAliasesResponse {
  Aliases?: AliasListEntry[];
  NextMarker?: string;
  Truncated?: boolean;
}

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export interface ListResourceTagsResponse {
  Tags?: Tag[];
  NextMarker?: string;
  Truncated?: boolean;
}

export interface DescribeKeyResponse {
  KeyMetadata: KeyMetadata;
}

export interface CreateKeyResponse {
  KeyMetadata: KeyMetadata;
}

export interface GetKeyPolicyResponse {
  Policy?: string;
  PolicyName?: string;
}

export interface ScheduleKeyDeletionResponse {
  KeyId?: string;
  DeletionDate?: number;
  KeyState?: string;
  PendingWindowInDays?: number;
}

export interface EncryptResponse {
  CiphertextBlob: string;
  KeyId: string;
  EncryptionAlgorithm?: string;
}

export interface DecryptResponse {
  Plaintext: string;
  KeyId: string;
  EncryptionAlgorithm?: string;
}
