"""The inference function: SQS batches of S3 upload events -> classify -> DynamoDB records."""
