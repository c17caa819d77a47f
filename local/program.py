"""Run the Pulumi program in-process under Pulumi's mocks and record what it declares.

No Pulumi CLI, engine or cloud: every resource the program registers is answered by `Mocks`
(plausible ids, names and ARNs, the way AWS forms them) and recorded with its resolved inputs,
parent and options. Tests assert on the record; the local cloud deploys it into the emulator.
Invokes (data sources) are answered only when known here: an unknown one raises, so a new data
source is never silently faked.
"""

from __future__ import annotations

import hashlib
import runpy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

PROJECT = "image-classifier"
ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "eu-west-1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class UnknownInvokeError(RuntimeError):
    """The program called a data source these mocks do not answer."""


@dataclass
class Declared:
    """One resource as the program declared it: inputs resolved, plus what the mock answered."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent_urn: str = ""
    urn: str = ""
    protect: bool = False
    retain_on_delete: bool = False
    custom: bool = True
    secret_inputs: set[str] = field(default_factory=set)
    """Top-level inputs the program marked secret (their values are revealed in `inputs`)."""

    def __getitem__(self, key: str) -> Any:
        return self.outputs[key]


@dataclass
class Deployment:
    resources: list[Declared] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name_suffix: str = "") -> Declared:
        found = [r for r in self.of_type(type_token) if r.name.endswith(name_suffix)]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"expected one {type_token} ending {name_suffix!r}, found {names}")
        return found[0]

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)

    def __iter__(self) -> Iterator[Declared]:
        return iter(self.resources)


class Mocks(pulumi.runtime.Mocks):
    """Answers resources like AWS would name them; answers only the invokes it knows."""

    def __init__(self, region: str = DEFAULT_REGION, account_id: str = ACCOUNT_ID) -> None:
        self.region = region
        self.account_id = account_id
        self.declared: dict[tuple[str, str], Declared] = {}

    # -- resources -------------------------------------------------------------------------
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        secrets = {key for key, value in args.inputs.items() if _is_secret(value)}
        inputs = {key: _reveal(value) for key, value in args.inputs.items()}
        physical = inputs.get("name") or _autoname(args.name)
        outputs = {**inputs, **self._attributes(args.typ, physical, inputs)}
        resource_id = outputs.pop("__id", physical)
        self.declared[(args.typ, args.name)] = Declared(
            args.typ, args.name, inputs, {**outputs, "id": resource_id}, custom=bool(args.custom), secret_inputs=secrets
        )
        return resource_id, outputs

    def _attributes(self, typ: str, physical: str, inputs: dict[str, Any]) -> dict[str, Any]:
        r, a = self.region, self.account_id
        if typ == "aws:s3/bucket:Bucket":
            bucket = inputs.get("bucket") or physical.lower()
            return {"__id": bucket, "bucket": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        if typ == "aws:sqs/queue:Queue":
            return {
                "__id": f"https://sqs.{r}.amazonaws.com/{a}/{physical}",
                "name": physical,
                "arn": f"arn:aws:sqs:{r}:{a}:{physical}",
                "url": f"https://sqs.{r}.amazonaws.com/{a}/{physical}",
            }
        if typ == "aws:dynamodb/table:Table":
            return {"name": physical, "arn": f"arn:aws:dynamodb:{r}:{a}:table/{physical}"}
        if typ == "aws:cloudwatch/eventRule:EventRule":
            return {"name": physical, "arn": f"arn:aws:events:{r}:{a}:rule/{physical}"}
        if typ == "aws:iam/role:Role":
            return {"name": physical, "arn": f"arn:aws:iam::{a}:role/{physical}"}
        if typ == "aws:cloudwatch/logGroup:LogGroup":
            return {"name": physical, "arn": f"arn:aws:logs:{r}:{a}:log-group:{physical}"}
        if typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{r}:{a}:function:{physical}"
            version = "1" if inputs.get("publish") else "$LATEST"
            return {
                "name": physical,
                "arn": arn,
                "version": version,
                "qualifiedArn": f"{arn}:{version}",
                "invokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/{arn}/invocations",
            }
        if typ == "aws:apigatewayv2/api:Api":
            api_id = _short_id(physical)
            return {
                "__id": api_id,
                "arn": f"arn:aws:apigateway:{r}::/apis/{api_id}",
                "apiEndpoint": f"https://{api_id}.execute-api.{r}.amazonaws.com",
                "executionArn": f"arn:aws:execute-api:{r}:{a}:{api_id}",
            }
        if typ == "aws:apigatewayv2/stage:Stage":
            stage = "" if inputs["name"] == "$default" else f"{inputs['name']}/"
            return {"invokeUrl": f"https://{inputs['apiId']}.execute-api.{r}.amazonaws.com/{stage}"}
        if typ in ("aws:apigatewayv2/integration:Integration", "aws:apigatewayv2/authorizer:Authorizer"):
            return {"__id": _short_id(physical)}
        if typ == "aws:lambda/alias:Alias":
            function = inputs["functionName"]
            return {"arn": f"arn:aws:lambda:{r}:{a}:function:{function}:{inputs['name']}"}
        if typ == "aws:ecr/repository:Repository":
            return {
                "name": physical,
                "arn": f"arn:aws:ecr:{r}:{a}:repository/{physical}",
                "registryId": a,
                "repositoryUrl": f"{a}.dkr.ecr.{r}.amazonaws.com/{physical}",
            }
        if typ == "docker:index/image:Image":
            image_name = inputs["imageName"]
            digest = hashlib.sha256(image_name.encode()).hexdigest()
            return {"repoDigest": f"{image_name.rsplit(':', 1)[0]}@sha256:{digest}"}
        return {}

    # -- invokes ---------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        # A bare dict: the SDK's MockMonitor cannot take a (result, None) tuple.
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:aws:iam::{self.account_id}:user/deployer",
                "userId": "AIDADEPLOYER",
                "id": self.account_id,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:index/getRegion:getRegion":
            return {"region": self.region, "name": self.region, "id": self.region}
        if token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                "userName": "AWS",
                "password": "mock-ecr-password",
                "authorizationToken": "bW9jaw==",
                "proxyEndpoint": f"https://{self.account_id}.dkr.ecr.{self.region}.amazonaws.com",
                "id": self.region,
            }
        if token == "aws:ssm/getParameter:getParameter":
            return self._parameter(args.args["name"])
        raise UnknownInvokeError(f"no mock answers the invoke {token}; add one to local/program.py")

    def _parameter(self, name: str) -> dict[str, Any]:
        """Only the public parameters Powertools publishes for its layers (one per release)."""
        parts = name.split("/")
        if parts[:5] != ["", "aws", "service", "powertools", "python"] or len(parts) != 8:
            raise UnknownInvokeError(f"no mock answers the SSM parameter {name}")
        architecture, python = parts[5], parts[6].replace(".", "")
        value = f"arn:aws:lambda:{self.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python}-{architecture}:1"
        return {"name": name, "value": value, "insecureValue": value, "type": "String", "id": name, "arn": name}


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records what MockResourceArgs leaves out: parent, protect, retainOnDelete."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self._recording = mocks
        self.order: list[Declared] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        declared = self._recording.declared.get((request.type, request.name))
        if declared is None:  # component resources are not passed to new_resource
            declared = Declared(request.type, request.name, {}, {}, custom=False)
        declared.urn = response.urn
        declared.parent_urn = request.parent
        declared.protect = bool(request.protect)
        declared.retain_on_delete = bool(request.retainOnDelete)
        self.order.append(declared)
        return response


def run(
    program: Callable[[], Any],
    *,
    stack: str = "dev",
    config: Mapping[str, str] | None = None,
    mocks: Mocks | None = None,
) -> Deployment:
    """Run `program` under mocks with the given config and return what it declared."""
    mocks = mocks or Mocks()
    monitor = _RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config or {}))
    exports: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def _run() -> Any:
        program()
        root = pulumi.runtime.get_root_resource()
        outputs = getattr(root, "outputs", None) if root is not None else None
        return pulumi.Output.from_input(dict(outputs or {})).apply(exports.update)

    _run()
    return Deployment(monitor.order, exports)


def stack_config(stack: str) -> dict[str, str]:
    """The config a stack file (Pulumi.<stack>.yaml) gives the program, as flat strings."""
    import yaml

    data = yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = data.get("config") or {}
    return {key: value if isinstance(value, str) else _json(value) for key, value in config.items()}


def _json(value: Any) -> str:
    import json

    return (
        json.dumps(value)
        if isinstance(value, (list, dict))
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def run_stack(stack: str, extra_config: Mapping[str, str] | None = None, mocks: Mocks | None = None) -> Deployment:
    """Run __main__.py exactly as `pulumi up` would for the stack, under mocks."""
    config = {**stack_config(stack), **(extra_config or {})}
    return run(
        lambda: runpy.run_path(str(PROJECT_ROOT / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=config,
        mocks=mocks,
    )


_SIG_KEY = pulumi.runtime.rpc._special_sig_key
_SECRET_SIG = pulumi.runtime.rpc._special_secret_sig  # how a secret value travels on the wire


def _is_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(_SIG_KEY) == _SECRET_SIG or any(_is_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_secret(v) for v in value)
    return False


def _reveal(value: Any) -> Any:
    """Inputs with the secret wrapper removed, at any depth."""
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return _reveal(value["value"])
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value


def _short_id(physical: str) -> str:
    """An id in the style API Gateway gives (10 lowercase alphanumerics), stable per name."""
    return hashlib.sha256(physical.encode()).hexdigest()[:10]


def _autoname(logical: str) -> str:
    """Pulumi's auto-naming: the logical name plus a random-looking suffix (stable here)."""
    return f"{logical}-{hashlib.sha256(logical.encode()).hexdigest()[:7]}"
