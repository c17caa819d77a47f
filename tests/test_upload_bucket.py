"""UploadBucket under Pulumi mocks: private, versioned, encrypted, TLS-only, EventBridge on."""

from __future__ import annotations

import pytest

from components.upload_bucket import UploadBucket, UploadBucketArgs
from local.program import Deployment, run
from tests.infra_helpers import as_list, children_of, policy_of


def deploy(args: UploadBucketArgs | None = None) -> Deployment:
    return run(lambda: UploadBucket("photos", args or UploadBucketArgs()))


def test_every_public_access_setting_is_blocked_and_acls_are_off() -> None:
    deployment = deploy()

    block = deployment.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[flag] is True
        for flag in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = deployment.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    bucket = deployment.one("aws:s3/bucket:Bucket").inputs
    assert "acl" not in bucket and "policy" not in bucket


def test_versioning_encryption_and_eventbridge_are_on() -> None:
    deployment = deploy()

    versioning = deployment.one("aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    sse = deployment.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
    notification = deployment.one("aws:s3/bucketNotification:BucketNotification").inputs
    assert notification["eventbridge"] is True


def test_policy_denies_every_request_without_tls_on_bucket_and_objects() -> None:
    deployment = deploy()
    bucket_arn = deployment.one("aws:s3/bucket:Bucket")["arn"]

    policy = policy_of(deployment.one("aws:s3/bucketPolicy:BucketPolicy"))

    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert len(denies) == 1
    deny = denies[0]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert set(as_list(deny["Resource"])) == {bucket_arn, f"{bucket_arn}/*"}
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not [s for s in policy["Statement"] if s["Effect"] == "Allow"], "the bucket grants nothing by policy"


def test_lifecycle_aborts_multipart_uploads_and_expires_old_versions() -> None:
    deployment = deploy(UploadBucketArgs(noncurrent_version_days=45, abort_multipart_days=3))

    rules = {
        r["id"]: r
        for r in deployment.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }

    assert rules["abort-incomplete-multipart-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 3
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 45
    assert all(rule["status"] == "Enabled" for rule in rules.values())


def test_children_are_named_after_the_component_and_parented_to_it() -> None:
    deployment = deploy()

    children = children_of(deployment, "image-classifier:index:UploadBucket")

    assert len(children) == 8
    assert all(child.name.startswith("photos-") for child in children)


def test_protected_bucket_is_kept_and_never_force_destroyed() -> None:
    plain = deploy().one("aws:s3/bucket:Bucket")
    protected = deploy(UploadBucketArgs(protect=True)).one("aws:s3/bucket:Bucket")

    assert (plain.inputs["forceDestroy"], plain.protect, plain.retain_on_delete) == (True, False, False)
    assert (protected.inputs["forceDestroy"], protected.protect, protected.retain_on_delete) == (False, True, True)


def test_a_prefix_that_cannot_work_is_refused() -> None:
    with pytest.raises(Exception, match="upload_prefix must look like 'uploads/'"):
        deploy(UploadBucketArgs(upload_prefix="uploads"))


def test_browsers_get_cors_rules_only_for_the_apis_origins() -> None:
    closed = deploy().of_type("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration")
    opened = deploy(UploadBucketArgs(cors_origins=["https://app.example.org"]))

    (rule,) = opened.one("aws:s3/bucketCorsConfiguration:BucketCorsConfiguration").inputs["corsRules"]

    assert closed == []
    assert rule["allowedOrigins"] == ["https://app.example.org"]
    assert set(rule["allowedMethods"]) == {"GET", "HEAD", "POST"}  # presigned POST upload, presigned GET
