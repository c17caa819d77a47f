"""The whole program (__main__.py) under mocks, with the dev and prod stack files."""

from __future__ import annotations

import json

import pytest

from local.program import Mocks, UnknownInvokeError, run
from tests.infra_helpers import inference_function, log_group_of, run_program


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pipeline_is_wired_end_to_end(stack: str) -> None:
    deployment = run_program(stack)
    bucket = deployment.one("aws:s3/bucket:Bucket")
    table = deployment.one("aws:dynamodb/table:Table")
    queue = deployment.one("aws:sqs/queue:Queue", "-queue")

    rule = json.loads(deployment.one("aws:cloudwatch/eventRule:EventRule").inputs["eventPattern"])
    target = deployment.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    mapping = deployment.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    function = inference_function(deployment).inputs
    environment = function["environment"]["variables"]

    assert rule["detail"]["bucket"]["name"] == [bucket["bucket"]]
    assert target["arn"] == queue["arn"] == mapping["eventSourceArn"]
    assert environment["TABLE_NAME"] == table["name"]
    assert environment["CLASS_NAMES"] == "AAW,ECLW,FAW"
    assert environment["TIMEZONE"] == "Africa/Lagos"
    assert environment["UPLOAD_PREFIX"] == "uploads/"
    assert environment["INFERENCE_RUNTIME"] == "litert"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "image-classifier"
    assert function["memorySize"] == 7168 and function["timeout"] == 300
    assert queue.inputs["visibilityTimeoutSeconds"] >= 6 * function["timeout"]
    assert function["imageUri"] == deployment.exports["image_uri"]
    assert "@sha256:" in function["imageUri"]


def test_image_platform_follows_the_function_architecture() -> None:
    for architecture, platform in (("x86_64", "linux/amd64"), ("arm64", "linux/arm64")):
        deployment = run_program("dev", {"image-classifier:architecture": architecture})

        image = deployment.one("docker:index/image:Image").inputs
        function = inference_function(deployment).inputs

        assert function["architectures"] == [architecture]
        assert image["build"]["platform"] == platform


def test_runtime_and_precision_are_one_setting_each_and_reach_the_image_build() -> None:
    default = run_program("dev").one("docker:index/image:Image").inputs["build"]["args"]
    tensorflow = run_program("dev", {"image-classifier:inferenceRuntime": "tensorflow"})
    int8 = run_program("dev", {"image-classifier:modelPrecision": "dynamic-int8"})

    assert (default["INFERENCE_RUNTIME"], default["MODEL_PRECISION"]) == ("litert", "float32")
    assert tensorflow.one("docker:index/image:Image").inputs["build"]["args"]["INFERENCE_RUNTIME"] == "tensorflow"
    assert inference_function(tensorflow).inputs["environment"]["variables"]["INFERENCE_RUNTIME"] == "tensorflow"
    assert int8.one("docker:index/image:Image").inputs["build"]["args"]["MODEL_PRECISION"] == "dynamic-int8"


def test_prod_protects_its_data_and_dev_can_be_torn_down() -> None:
    dev, prod = run_program("dev"), run_program("prod")

    for deployment, protected in ((dev, False), (prod, True)):
        bucket = deployment.one("aws:s3/bucket:Bucket")
        table = deployment.one("aws:dynamodb/table:Table")
        assert (bucket.protect, bucket.retain_on_delete) == (protected, protected)
        assert (table.protect, table.retain_on_delete) == (protected, protected)
        assert table.inputs["deletionProtectionEnabled"] is protected
        assert bucket.inputs["forceDestroy"] is (not protected)
        assert deployment.one("aws:ecr/repository:Repository").inputs["forceDelete"] is (not protected)
    assert (
        log_group_of(prod, inference_function(prod)).inputs["retentionInDays"]
        > log_group_of(dev, inference_function(dev)).inputs["retentionInDays"]
    )
    assert inference_function(prod).inputs["reservedConcurrentExecutions"] >= 1


def test_names_carry_project_and_stack_so_stacks_never_collide() -> None:
    dev, prod = run_program("dev"), run_program("prod")

    assert all(r.name.startswith("image-classifier-dev") for r in dev)
    assert all(r.name.startswith("image-classifier-prod") for r in prod)
    # A stage's name is its API's business ($default in each): only account-wide names count.
    scoped = {"aws:apigatewayv2/stage:Stage"}
    dev_names = {r["name"] for r in dev if r.custom and "name" in r.outputs and r.type not in scoped}
    prod_names = {r["name"] for r in prod if r.custom and "name" in r.outputs and r.type not in scoped}
    assert dev_names and not dev_names & prod_names


def test_stack_outputs_are_exported() -> None:
    exports = run_program("dev").exports

    assert set(exports) >= {
        "bucket",
        "upload_prefix",
        "table",
        "queue_url",
        "dlq_url",
        "function_name",
        "function_arn",
        "image_uri",
        "region",
    }
    assert exports["region"] == "eu-west-1"
    assert exports["function_name"] == "image-classifier-dev-classify"


def test_a_bad_setting_stops_the_program_before_any_resource() -> None:
    mocks = Mocks()
    with pytest.raises(Exception, match="functionMemoryMb: must be from 128 to 10240, got 20000"):
        run_program("dev", {"image-classifier:functionMemoryMb": "20000"}, mocks=mocks)

    assert mocks.declared == {}


def test_unknown_invokes_are_never_faked() -> None:
    import pulumi_aws as aws

    with pytest.raises(Exception, match="no mock answers the invoke aws:ec2/getVpc:getVpc"):
        run(lambda: aws.ec2.get_vpc(default=True))
    assert issubclass(UnknownInvokeError, RuntimeError)


def test_the_image_tag_covers_exactly_what_the_build_context_admits() -> None:
    """pulumi-docker rebuilds when the context changes; the immutable repository refuses a second
    push to a tag: so the tag's inputs and the .dockerignore allowlist must be the same set."""
    from local.program import PROJECT_ROOT

    namespace = runpy_globals()
    admitted = {
        line[1:].rstrip("/")
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    hashed = {source for source in namespace["IMAGE_SOURCES"] if source != "lambda_src/Dockerfile"} | {"models/.build"}

    assert admitted == hashed


def runpy_globals() -> dict:
    import ast

    from local.program import PROJECT_ROOT

    tree = ast.parse((PROJECT_ROOT / "__main__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "IMAGE_SOURCES":
            return {"IMAGE_SOURCES": ast.literal_eval(node.value)}
    raise AssertionError("__main__.py defines no IMAGE_SOURCES")
