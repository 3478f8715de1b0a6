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

export interface GetKeyRotationStatusResponse {
  KeyRotationEnabled?: boolean;
  KeyId?: string;
  RotationPeriodInDays?: number;
  NextRotationDate?: number;
  OnDemandRotationStartDate?: number;
}

export interface RotationsListEntry {
  KeyId?: string;
  KeyMaterialId?: string;
  KeyMaterialState?: string;
  RotationDate?: number;
  RotationType?: string;
}

export interface ListKeyRotationsResponse {
  Rotations?: RotationsListEntry[];
  NextMarker?: string;
  Truncated?: boolean;
}

export interface GrantListEntry {
  KeyId?: string;
  GrantId: string;
  Name?: string;
  CreationDate?: number;
  GranteePrincipal?: string;
  RetiringPrincipal?: string;
  IssuingAccount?: string;
  Operations?: string[];
  Constraints?: {
    EncryptionContextSubset?: Record<string, string>;
    EncryptionContextEquals?: Record<string, string>;
  };
}

export interface ListGrantsResponse {
  Grants?: GrantListEntry[];
  NextMarker?: string;
  Truncated?: boolean;
}

export interface CreateGrantResponse {
  GrantId?: string;
  GrantToken?: string;
}

export interface ReEncryptResponse {
  CiphertextBlob: string;
  SourceKeyId?: string;
  KeyId?: string;
  SourceEncryptionAlgorithm?: string;
  DestinationEncryptionAlgorithm?: string;
}

export interface GenerateDataKeyResponse {
  CiphertextBlob: string;
  Plaintext: string;
  KeyId: string;
}

export interface SignResponse {
  KeyId?: string;
  Signature: string;
  SigningAlgorithm?: string;
}

export interface VerifyResponse {
  KeyId?: string;
  SignatureValid?: boolean;
  SigningAlgorithm?: string;
}

export interface GenerateMacResponse {
  Mac: string;
  MacAlgorithm?: string;
  KeyId?: string;
}

export interface VerifyMacResponse {
  KeyId?: string;
  MacValid?: boolean;
  MacAlgorithm?: string;
}
