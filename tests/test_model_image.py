"""ModelImage under mocks: secure repository, platform pinned, digest-form URI, pull policy."""

from __future__ import annotations

import json

import pytest

from components.model_image import ModelImage, ModelImageArgs
from local.program import Deployment, run


def image_args(**overrides: object) -> ModelImageArgs:
    values: dict = {
        "context": "/src",
        "dockerfile": "/src/lambda_src/Dockerfile",
        "platform": "linux/amd64",
        "function_name_prefix": "image-classifier-test-classify",
        "tag": "sha-0123456789abcdef01234567",
        "build_args": {"MODEL_DIR": "models/demo"},
    }
    values.update(overrides)
    return ModelImageArgs(**values)


def deploy(**overrides: object) -> tuple[Deployment, ModelImage]:
    made: list[ModelImage] = []
    deployment = run(lambda: made.append(ModelImage("model", image_args(**overrides))))
    return deployment, made[0]


def test_repository_scans_on_push_with_immutable_encrypted_tags() -> None:
    repository = deploy()[0].one("aws:ecr/repository:Repository").inputs

    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"][0]["encryptionType"] in ("AES256", "KMS")


def test_lifecycle_keeps_the_last_n_images() -> None:
    deployment, _ = deploy(keep_images=4)

    rule = json.loads(deployment.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs["policy"])["rules"][0]

    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 4
    assert rule["action"] == {"type": "expire"}


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_builds_the_dockerfile_for_the_function_platform_and_pushes_with_ecr_credentials(platform: str) -> None:
    deployment, _ = deploy(platform=platform)
    repository = deployment.one("aws:ecr/repository:Repository")

    image = deployment.one("docker:index/image:Image").inputs

    assert image["build"]["platform"] == platform
    assert image["build"]["dockerfile"] == "/src/lambda_src/Dockerfile"
    assert image["build"]["args"] == {"MODEL_DIR": "models/demo"}
    assert image["imageName"] == f"{repository['repositoryUrl']}:sha-0123456789abcdef01234567"
    assert image["registry"]["server"] == repository["repositoryUrl"]
    assert image["registry"]["username"] == "AWS"
    assert "registry" in deployment.one("docker:index/image:Image").secret_inputs, "the ECR password stays secret"


def test_exposes_the_digest_form_uri() -> None:
    deployment, _ = deploy()
    repository_url = deployment.one("aws:ecr/repository:Repository")["repositoryUrl"]
    uris: list[str] = []

    run(lambda: ModelImage("model", image_args()).image_uri.apply(uris.append))

    assert uris and uris[0].startswith(f"{repository_url}@sha256:")
    assert ":" not in uris[0].split("@", 1)[0].rsplit("/", 1)[-1], "no tag may ride along with the digest"


def test_only_this_stacks_functions_may_pull() -> None:
    policy = json.loads(deploy()[0].one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"])

    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert sorted(statement["Action"]) == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert statement["Condition"]["StringLike"]["aws:sourceArn"] == (
        "arn:aws:lambda:eu-west-1:123456789012:function:image-classifier-test-classify*"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"platform": "linux/386"}, "platform must be one of linux/amd64, linux/arm64"),
        ({"tag": "bad tag"}, "is not a valid image tag"),
        ({"keep_images": 0}, "keep_images must be at least 1"),
    ],
)
def test_bad_inputs_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deploy(**overrides)
