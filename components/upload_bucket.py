"""UploadBucket: the private, versioned, TLS-only bucket that cameras and phones upload into."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies


@dataclass
class UploadBucketArgs:
    upload_prefix: str = "uploads/"
    noncurrent_version_days: int = 30
    """Old versions of an overwritten key are kept this long (their records stay)."""
    abort_multipart_days: int = 7
    protect: bool = False
    """Keep the bucket and its objects: Pulumi refuses to delete it and leaves it behind on
    destroy. Unprotected (dev) buckets are force-destroyed with their objects."""
    cors_origins: Sequence[str] = ()
    """Browser origins that may POST presigned uploads and fetch presigned images (the results
    API's CORS origins). None: no CORS rules, browsers cannot use the bucket directly."""


class UploadBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: UploadBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:UploadBucket", name, None, opts)
        if not args.upload_prefix.endswith("/") or args.upload_prefix.startswith("/"):
            raise ValueError(f"UploadBucket: upload_prefix must look like 'uploads/', got {args.upload_prefix!r}")
        child = pulumi.ResourceOptions(parent=self)

        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            force_destroy=not args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )

        # Same-named uploads are kept as versions (the original design's choice); each version is
        # classified once, keyed by its versionId.
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        # Applied after the access block so a policy change never races it.
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(lambda arn: json.dumps(policies.bucket_policy(arn))),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[access_block]),
        )
        aws.s3.BucketNotification(f"{name}-eventbridge", bucket=bucket.id, eventbridge=True, opts=child)
        if args.cors_origins:
            aws.s3.BucketCorsConfiguration(
                f"{name}-cors",
                bucket=bucket.id,
                cors_rules=[
                    aws.s3.BucketCorsConfigurationCorsRuleArgs(
                        allowed_origins=list(args.cors_origins),
                        # A presigned POST upload, and presigned GETs of the images.
                        allowed_methods=["GET", "HEAD", "POST"],
                        allowed_headers=["*"],
                        expose_headers=["ETag", "x-amz-version-id"],
                        max_age_seconds=3600,
                    )
                ],
                opts=child,
            )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="abort-incomplete-multipart-uploads",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=args.abort_multipart_days
                    ),
                ),
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=args.noncurrent_version_days
                    ),
                ),
            ],
            opts=child,
        )

        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})
