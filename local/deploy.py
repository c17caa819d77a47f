"""Materialise what the Pulumi program declared into the emulator, through boto3.

Nothing here describes the stack: every bucket setting, queue, rule, table and policy comes from
the resources `__main__.py` declared (local/program.py). Types with no local meaning are listed as
skipped; the function and its event source mapping become the function runner's spec.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.program import Declared, Deployment
from local.server import local_client

SKIPPED = {
    "docker:index/image:Image": "no image build locally: the runner imports lambda_src directly",
    "aws:ecr/repository:Repository": "no registry locally",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "no registry locally",
    "aws:ecr/repositoryPolicy:RepositoryPolicy": "no registry locally",
    "aws:lambda/alias:Alias": "the runner serves the code as it is (no versions)",
}
RUNNER = {
    "aws:lambda/function:Function": "served by the local function runner or API gateway",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "polled by the local function runner",
    "aws:lambda/permission:Permission": "the local API gateway invokes its function directly",
    "aws:apigatewayv2/api:Api": "served by the local API gateway (local/api_gateway.py)",
    "aws:apigatewayv2/integration:Integration": "the local API gateway calls the function in-process",
    "aws:apigatewayv2/route:Route": "served by the local API gateway",
    "aws:apigatewayv2/stage:Stage": "the local API gateway has one stage and no throttling",
    "aws:apigatewayv2/authorizer:Authorizer": "no authorizer locally: the local API listens on loopback only",
}


@dataclass
class FunctionSpec:
    """What the runner needs to behave like the deployed function and its queue mapping."""

    name: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    queue_url: str
    queue_arn: str
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    role_policies: list[dict[str, Any]]
    role_name: str


@dataclass
class ApiSpec:
    """What the local API gateway needs to behave like the deployed HTTP API and its function."""

    name: str
    handler: str
    environment: dict[str, str]
    memory_mb: int
    timeout_seconds: int
    routes: list[str]
    auth: str
    role_policies: list[dict[str, Any]]
    role_name: str


@dataclass
class LocalStack:
    """What was created, by the names the program gave it."""

    region: str
    bucket: str
    upload_prefix: str
    table: str
    queue_url: str
    dlq_url: str
    delivery_dlq_url: str
    function: FunctionSpec
    api: ApiSpec | None = None
    created: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Deployer:
    def __init__(
        self, deployment: Deployment, endpoint_url: str, region: str, queue_visibility_seconds: int | None = None
    ) -> None:
        self.deployment = deployment
        self.region = region
        self.visibility_override = queue_visibility_seconds
        self._endpoint_url = endpoint_url
        self.queue_urls: dict[str, str] = {}  # declared URL -> emulator URL
        self.created: list[str] = []
        self.skipped: list[str] = []

    def client(self, service: str) -> Any:
        return local_client(service, self._endpoint_url, self.region)

    # -- per type ----------------------------------------------------------------------------
    def bucket(self, r: Declared) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=r["bucket"], CreateBucketConfiguration={"LocationConstraint": self.region})

    def versioning(self, r: Declared) -> None:
        config = r.inputs["versioningConfiguration"]
        self.client("s3").put_bucket_versioning(
            Bucket=r.inputs["bucket"], VersioningConfiguration={"Status": config["status"]}
        )

    def public_access_block(self, r: Declared) -> None:
        self.client("s3").put_public_access_block(
            Bucket=r.inputs["bucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": r.inputs["blockPublicAcls"],
                "IgnorePublicAcls": r.inputs["ignorePublicAcls"],
                "BlockPublicPolicy": r.inputs["blockPublicPolicy"],
                "RestrictPublicBuckets": r.inputs["restrictPublicBuckets"],
            },
        )

    def ownership(self, r: Declared) -> None:
        self.client("s3").put_bucket_ownership_controls(
            Bucket=r.inputs["bucket"],
            OwnershipControls={"Rules": [{"ObjectOwnership": r.inputs["rule"]["objectOwnership"]}]},
        )

    def encryption(self, r: Declared) -> None:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
                },
                "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
            }
            for rule in r.inputs["rules"]
        ]
        self.client("s3").put_bucket_encryption(
            Bucket=r.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )

    def bucket_policy(self, r: Declared) -> None:
        self.client("s3").put_bucket_policy(Bucket=r.inputs["bucket"], Policy=r.inputs["policy"])

    def cors(self, r: Declared) -> None:
        rules = [
            {
                "AllowedOrigins": rule["allowedOrigins"],
                "AllowedMethods": rule["allowedMethods"],
                "AllowedHeaders": rule.get("allowedHeaders", []),
                "ExposeHeaders": rule.get("exposeHeaders", []),
                "MaxAgeSeconds": int(rule.get("maxAgeSeconds", 0)),
            }
            for rule in r.inputs["corsRules"]
        ]
        self.client("s3").put_bucket_cors(Bucket=r.inputs["bucket"], CORSConfiguration={"CORSRules": rules})

    def notification(self, r: Declared) -> None:
        config: dict[str, Any] = {"EventBridgeConfiguration": {}} if r.inputs.get("eventbridge") else {}
        self.client("s3").put_bucket_notification_configuration(
            Bucket=r.inputs["bucket"], NotificationConfiguration=config
        )

    def lifecycle(self, r: Declared) -> None:
        rules = []
        for rule in r.inputs["rules"]:
            converted: dict[str, Any] = {
                "ID": rule["id"],
                "Status": rule["status"],
                "Filter": {"Prefix": rule.get("filter", {}).get("prefix", "")},
            }
            if "abortIncompleteMultipartUpload" in rule:
                converted["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
                }
            if "noncurrentVersionExpiration" in rule:
                converted["NoncurrentVersionExpiration"] = {
                    "NoncurrentDays": int(rule["noncurrentVersionExpiration"]["noncurrentDays"])
                }
            rules.append(converted)
        self.client("s3").put_bucket_lifecycle_configuration(
            Bucket=r.inputs["bucket"], LifecycleConfiguration={"Rules": rules}
        )

    def table(self, r: Declared) -> None:
        dynamodb = self.client("dynamodb")
        inputs = r.inputs
        keys = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
        if inputs.get("rangeKey"):
            keys.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
        dynamodb.create_table(
            TableName=r["name"],
            BillingMode=inputs.get("billingMode", "PAY_PER_REQUEST"),
            KeySchema=keys,
            AttributeDefinitions=[
                {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
            ],
            DeletionProtectionEnabled=bool(inputs.get("deletionProtectionEnabled")),
        )
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled"):
            dynamodb.update_time_to_live(
                TableName=r["name"], TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]}
            )
        if (inputs.get("pointInTimeRecovery") or {}).get("enabled"):
            dynamodb.update_continuous_backups(
                TableName=r["name"], PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )

    def queue(self, r: Declared) -> None:
        inputs = r.inputs
        attributes = {"SqsManagedSseEnabled": str(bool(inputs.get("sqsManagedSseEnabled"))).lower()}
        if "messageRetentionSeconds" in inputs:
            attributes["MessageRetentionPeriod"] = str(int(inputs["messageRetentionSeconds"]))
        if "visibilityTimeoutSeconds" in inputs:
            visibility = int(inputs["visibilityTimeoutSeconds"])
            attributes["VisibilityTimeout"] = str(self.visibility_override or visibility)
        if inputs.get("redrivePolicy"):
            attributes["RedrivePolicy"] = inputs["redrivePolicy"]
        url = self.client("sqs").create_queue(QueueName=r["name"], Attributes=attributes)["QueueUrl"]
        self.queue_urls[r["url"]] = url

    def queue_policy(self, r: Declared) -> None:
        self.client("sqs").set_queue_attributes(
            QueueUrl=self.queue_urls[r.inputs["queueUrl"]], Attributes={"Policy": r.inputs["policy"]}
        )

    def redrive_allow(self, r: Declared) -> None:
        self.client("sqs").set_queue_attributes(
            QueueUrl=self.queue_urls[r.inputs["queueUrl"]],
            Attributes={"RedriveAllowPolicy": r.inputs["redriveAllowPolicy"]},
        )

    def rule(self, r: Declared) -> None:
        self.client("events").put_rule(
            Name=r["name"], EventPattern=r.inputs["eventPattern"], Description=r.inputs.get("description", "")
        )

    def target(self, r: Declared) -> None:
        inputs = r.inputs
        target: dict[str, Any] = {"Id": "queue", "Arn": inputs["arn"]}
        if inputs.get("retryPolicy"):
            target["RetryPolicy"] = {
                "MaximumRetryAttempts": int(inputs["retryPolicy"]["maximumRetryAttempts"]),
                "MaximumEventAgeInSeconds": int(inputs["retryPolicy"]["maximumEventAgeInSeconds"]),
            }
        if inputs.get("deadLetterConfig"):
            target["DeadLetterConfig"] = {"Arn": inputs["deadLetterConfig"]["arn"]}
        rule_name = inputs["rule"]
        self.client("events").put_targets(Rule=rule_name, Targets=[target])

    def log_group(self, r: Declared) -> None:
        logs = self.client("logs")
        logs.create_log_group(logGroupName=r["name"])
        if r.inputs.get("retentionInDays"):
            logs.put_retention_policy(logGroupName=r["name"], retentionInDays=int(r.inputs["retentionInDays"]))

    def role(self, r: Declared) -> None:
        self.client("iam").create_role(RoleName=r["name"], AssumeRolePolicyDocument=r.inputs["assumeRolePolicy"])

    def role_policy(self, r: Declared) -> None:
        role = next(
            x
            for x in self.deployment.of_type("aws:iam/role:Role")
            if r.inputs["role"] in (x["name"], x.outputs.get("id"))
        )
        self.client("iam").put_role_policy(RoleName=role["name"], PolicyName=r.name, PolicyDocument=r.inputs["policy"])

    # -- the whole deployment ----------------------------------------------------------------
    def handlers(self) -> dict[str, Callable[[Declared], None]]:
        return {
            "aws:s3/bucket:Bucket": self.bucket,
            "aws:s3/bucketVersioning:BucketVersioning": self.versioning,
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": self.public_access_block,
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls": self.ownership,
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": self.encryption,
            "aws:s3/bucketPolicy:BucketPolicy": self.bucket_policy,
            "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration": self.cors,
            "aws:s3/bucketNotification:BucketNotification": self.notification,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": self.lifecycle,
            "aws:dynamodb/table:Table": self.table,
            "aws:sqs/queue:Queue": self.queue,
            "aws:sqs/queuePolicy:QueuePolicy": self.queue_policy,
            "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": self.redrive_allow,
            "aws:cloudwatch/eventRule:EventRule": self.rule,
            "aws:cloudwatch/eventTarget:EventTarget": self.target,
            "aws:cloudwatch/logGroup:LogGroup": self.log_group,
            "aws:iam/role:Role": self.role,
            "aws:iam/rolePolicy:RolePolicy": self.role_policy,
        }

    def deploy(self) -> LocalStack:
        handlers = self.handlers()
        custom = [r for r in self.deployment if r.custom]
        unknown = [r.type for r in custom if r.type not in handlers and r.type not in SKIPPED and r.type not in RUNNER]
        if unknown:
            raise NotImplementedError(
                f"the local cloud does not know how to create {sorted(set(unknown))}; "
                "add a handler in local/deploy.py or list the type as skipped with a reason"
            )
        # Parents before the things that configure them, whatever order they registered in.
        order = list(handlers)
        for resource in sorted((r for r in custom if r.type in handlers), key=lambda r: order.index(r.type)):
            handlers[resource.type](resource)
            self.created.append(f"{resource.type.split(':')[1]} {resource.name}")
        for resource in custom:
            if resource.type in SKIPPED:
                self.skipped.append(f"{resource.type.split(':')[1]} {resource.name}: {SKIPPED[resource.type]}")
            elif resource.type in RUNNER:
                self.skipped.append(f"{resource.type.split(':')[1]} {resource.name}: {RUNNER[resource.type]}")
        return self._stack()

    def _role_of(self, function: Declared) -> tuple[Declared, list[dict[str, Any]]]:
        """The function's role and the policy documents attached to it."""
        d = self.deployment
        role = next(r for r in d.of_type("aws:iam/role:Role") if r["arn"] == function.inputs["role"])
        policies = [
            json.loads(p.inputs["policy"])
            for p in d.of_type("aws:iam/rolePolicy:RolePolicy")
            if p.inputs["role"] in (role["name"], role.outputs.get("id"))
        ]
        return role, policies

    def _api(self) -> ApiSpec | None:
        d = self.deployment
        integrations = d.of_type("aws:apigatewayv2/integration:Integration")
        if not integrations:
            return None
        target = integrations[0].inputs["integrationUri"]
        function = next(f for f in d.of_type("aws:lambda/function:Function") if f.outputs.get("invokeArn") == target)
        role, policies = self._role_of(function)
        routes = [r.inputs["routeKey"] for r in d.of_type("aws:apigatewayv2/route:Route")]
        auth = {r.inputs.get("authorizationType", "NONE") for r in d.of_type("aws:apigatewayv2/route:Route")}
        return ApiSpec(
            name=function["name"],
            handler=function.inputs["handler"],
            environment=dict(function.inputs.get("environment", {}).get("variables", {})),
            memory_mb=int(function.inputs.get("memorySize", 128)),
            timeout_seconds=int(function.inputs.get("timeout", 3)),
            routes=routes,
            auth=",".join(sorted(auth)),
            role_policies=policies,
            role_name=role["name"],
        )

    def _stack(self) -> LocalStack:
        d = self.deployment
        exports = d.exports
        mapping = d.one("aws:lambda/eventSourceMapping:EventSourceMapping")
        # The queue invokes the function, or its `live` alias (SnapStart): "<function arn>[:alias]".
        function = next(
            f
            for f in d.of_type("aws:lambda/function:Function")
            if mapping.inputs["functionName"] in (f["arn"], f["name"])
            or mapping.inputs["functionName"].startswith(f"{f['arn']}:")
        )
        queue = next(q for q in d.of_type("aws:sqs/queue:Queue") if q["arn"] == mapping.inputs["eventSourceArn"])
        role, policies = self._role_of(function)
        spec = FunctionSpec(
            name=function["name"],
            environment=dict(function.inputs.get("environment", {}).get("variables", {})),
            memory_mb=int(function.inputs.get("memorySize", 128)),
            timeout_seconds=int(function.inputs.get("timeout", 3)),
            queue_url=self.queue_urls[queue["url"]],
            queue_arn=queue["arn"],
            batch_size=int(mapping.inputs.get("batchSize", 10)),
            batching_window_seconds=int(mapping.inputs.get("maximumBatchingWindowInSeconds", 0)),
            max_concurrency=int((mapping.inputs.get("scalingConfig") or {}).get("maximumConcurrency", 2)),
            role_policies=policies,
            role_name=role["name"],
        )
        return LocalStack(
            region=self.region,
            bucket=exports["bucket"],
            upload_prefix=exports["upload_prefix"],
            table=exports["table"],
            queue_url=self.queue_urls[exports["queue_url"]],
            dlq_url=self.queue_urls[exports["dlq_url"]],
            delivery_dlq_url=self.queue_urls[exports["delivery_dlq_url"]],
            function=spec,
            api=self._api(),
            created=self.created,
            skipped=self.skipped,
        )
