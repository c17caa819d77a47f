"""Helpers for tests of the Pulumi program under mocks."""

from __future__ import annotations

import json
from typing import Any

from local.program import PROJECT_ROOT, Declared, Deployment, Mocks, run_stack

# A stand-in model folder for program tests: the program hashes the model into the image tag, so
# it must exist, but these tests never build the image. Kept apart from models/demo so a test run
# never passes for the real demo model.
TEST_MODEL = "models/.pulumi-test"


def run_program(stack: str, extra_config: dict[str, str] | None = None, mocks: Mocks | None = None) -> Deployment:
    """__main__.py under mocks with the stack's file, plus the stand-in model and any extras."""
    model = PROJECT_ROOT / TEST_MODEL
    model.mkdir(parents=True, exist_ok=True)
    (model / "metadata.json").write_text("{}\n")
    config = {"image-classifier:modelSource": TEST_MODEL, **(extra_config or {})}
    return run_stack(stack, config, mocks=mocks)


def policy_of(resource: Declared, key: str = "policy") -> dict[str, Any]:
    """A policy input, parsed: the program passes documents as JSON strings."""
    value = resource.inputs[key]
    return json.loads(value) if isinstance(value, str) else value


def children_of(deployment: Deployment, component_type: str) -> list[Declared]:
    component = next(r for r in deployment if r.type == component_type)
    return [r for r in deployment if r.parent_urn == component.urn]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def function_named(deployment: Deployment, suffix: str) -> Declared:
    """The one Lambda function whose name ends with `suffix` (-classify, -api)."""
    (function,) = [f for f in deployment.of_type("aws:lambda/function:Function") if f["name"].endswith(suffix)]
    return function


def inference_function(deployment: Deployment) -> Declared:
    return function_named(deployment, "-classify")


def api_function(deployment: Deployment) -> Declared:
    return function_named(deployment, "-api")


def role_of(deployment: Deployment, function: Declared) -> Declared:
    (role,) = [r for r in deployment.of_type("aws:iam/role:Role") if r["arn"] == function.inputs["role"]]
    return role


def log_group_of(deployment: Deployment, function: Declared) -> Declared:
    (group,) = [
        g
        for g in deployment.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g["name"] == f"/aws/lambda/{function['name']}"
    ]
    return group
