-- Grants for AWS service principals and the SourceArn constraint.
-- `grantee` and `retiring` hold a service principal's name when the flag
-- beside them is set; the grants made before stay IAM principals.
ALTER TABLE grants ADD COLUMN grantee_service INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN retiring_service INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN source_arn TEXT;
