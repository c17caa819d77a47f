"""ModelImage: an ECR repository and the function's container image, built and pushed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components import policies

PLATFORMS = ("linux/amd64", "linux/arm64")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass
class ModelImageArgs:
    context: str
    """Docker build context (the project root: .dockerignore lets in only what the image needs)."""
    dockerfile: str
    platform: str
    """`linux/amd64` or `linux/arm64`: must equal the function's architecture."""
    function_name_prefix: pulumi.Input[str]
    """Only functions whose names start with this may pull the image."""
    tag: str
    """Content-derived tag (build_context.content_tag) over exactly the build context, so a
    changed context gets a new tag in the immutable repository and an unchanged one no rebuild."""
    build_args: Mapping[str, str] = field(default_factory=dict)
    keep_images: int = 10
    force_delete: bool = False


class ModelImage(pulumi.ComponentResource):
    repository_url: pulumi.Output[str]
    image_uri: pulumi.Output[str]
    """`<repository>@sha256:<digest>`: a new build always changes it, so the function redeploys."""

    def __init__(self, name: str, args: ModelImageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:ModelImage", name, None, opts)
        if args.platform not in PLATFORMS:
            raise ValueError(f"ModelImage: platform must be one of {', '.join(PLATFORMS)}, got {args.platform!r}")
        if not TAG.match(args.tag):
            raise ValueError(f"ModelImage: {args.tag!r} is not a valid image tag")
        if args.keep_images < 1:
            raise ValueError("ModelImage: keep_images must be at least 1")
        child = pulumi.ResourceOptions(parent=self)

        repository = aws.ecr.Repository(
            f"{name}-repository",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=args.force_delete,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"keep the last {args.keep_images} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": args.keep_images,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            opts=child,
        )
        identity = aws.get_caller_identity_output()
        partition = aws.get_partition_output()
        region = aws.get_region_output()
        pull_policy = aws.ecr.RepositoryPolicy(
            f"{name}-lambda-pull",
            repository=repository.name,
            policy=pulumi.Output.all(
                identity.account_id, partition.partition, region.region, args.function_name_prefix
            ).apply(lambda v: json.dumps(policies.ecr_lambda_pull_policy(v[0], v[1], v[2], v[3]))),
            opts=child,
        )

        token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
        # pulumi-docker's Image builds through the Docker Engine API, not the buildx CLI, so no
        # provenance/SBOM attestations are added and it pushes a single-platform image manifest
        # rather than an OCI index (which Lambda rejects: "image manifest ... media type is not
        # supported"). `platform` pins that one platform to the function's architecture. The
        # function gets the digest form (repo_digest), never the tag.
        image = docker.Image(
            f"{name}-image",
            image_name=repository.repository_url.apply(lambda url: f"{url}:{args.tag}"),
            build=docker.DockerBuildArgs(
                context=args.context,
                dockerfile=args.dockerfile,
                platform=args.platform,
                args=dict(args.build_args),
                builder_version=docker.BuilderVersion.BUILDER_BUILD_KIT,
            ),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            # The function is created from this image: let the pull policy exist first, or Lambda
            # tries to write the repository policy itself (which needs ecr:SetRepositoryPolicy).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[pull_policy]),
        )

        self.repository_url = repository.repository_url
        self.image_uri = image.repo_digest
        self.register_outputs({"repository_url": self.repository_url, "image_uri": self.image_uri})
