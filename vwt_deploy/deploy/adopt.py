"""Adopt what an interrupted apply created but did not record.

Terraform records a resource in the state after AWS created it; an apply killed in between (a cancelled CI runner,
a closed laptop, `kill -9`) leaves resources that exist but are not in the state, and the next apply tries to
create them again: AWS answers "already exists" (EntityAlreadyExists, ResourceAlreadyExistsException,
BucketAlreadyOwnedByYou, ...) and the apply fails, or, for Lambda's ResourceConflictException, the provider retries
for minutes first. Before `up` applies, each resource the plan would create, of a kind named below, is looked up
by the name the plan gives it; one that exists is adopted by planning again with an `import` block for it (its
address, and the import ID the provider's documentation of the resource gives), so the apply imports it instead
of creating it. Import blocks, not the `terraform import` command: the command evaluates the whole configuration
and refuses a partial state's unknown `for_each` keys ("Invalid for_each argument"), which a plan resolves.

Only kinds whose create fails on an existing name are here, and the KMS key (found by its description: a second
key would cost money and hold nothing). Creates that are upserts (PutRolePolicy, PutRule, PutMetricAlarm,
CreateTopic with the same attributes, the S3 bucket's settings) go through on their own. The REST API, its API
keys and usage plans are named with IDs AWS makes, their names need not be unique, and adopting the REST API
would make its resources and methods collide: the next apply makes new ones, and the old ones are reported as
orphans with the command that deletes each (`find_orphans`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: error codes by which AWS says "no such resource" to the lookups below
_NOT_FOUND = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchEntity",
        "ResourceNotFoundException",
        "ValidationException",  # SageMaker: "Could not find ..."
        "ParameterNotFound",
        "NotFoundException",
        "RepositoryNotFoundException",
        "StateMachineDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)


@dataclass(frozen=True)
class Adopter:
    """How to find one kind of resource by its planned values: `key` (planned values, region, account) is what to
    look for, `lookup` (client, key) answers the import ID `terraform import` takes, or raises a not-found error."""

    service: str
    key: Callable[[Mapping[str, Any], str, str], str]
    lookup: Callable[[Any, str], str]


def _name(key: str) -> Callable[[Mapping[str, Any], str, str], str]:
    return lambda after, region, account: after[key]


def _same(call: Callable[[Any, str], Any]) -> Callable[[Any, str], str]:
    """A lookup whose import ID is the name it looked up (it raises when there is none)."""

    def lookup(client: Any, name: str) -> str:
        call(client, name)
        return name

    return lookup


def _log_group(client: Any, name: str) -> str:
    groups = client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    if not any(g["logGroupName"] == name for g in groups):
        raise _not_found()
    return name


def _kms_key(client: Any, description: str) -> str:
    """The one enabled customer managed key with this description (the KMS key has no name; its description names
    the environment): its key ID. None, or several (nothing can tell which), is not found."""
    matches = []
    for page in client.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = client.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if (meta.get("KeyManager"), meta.get("KeyState"), meta.get("Description")) == (
                "CUSTOMER",
                "Enabled",
                description,
            ):
                matches.append(meta["KeyId"])
    if len(matches) != 1:
        raise _not_found()
    return matches[0]


def _not_found() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "not found"}}, "lookup")


#: resource type -> its adopter (import IDs: the AWS provider's documentation of each resource, "Import")
ADOPTERS: Mapping[str, Adopter] = {
    "aws_s3_bucket": Adopter("s3", _name("bucket"), _same(lambda c, i: c.head_bucket(Bucket=i))),
    "aws_iam_role": Adopter("iam", _name("name"), _same(lambda c, i: c.get_role(RoleName=i))),
    "aws_lambda_function": Adopter(
        "lambda", _name("function_name"), _same(lambda c, i: c.get_function(FunctionName=i))
    ),
    "aws_cloudwatch_log_group": Adopter("logs", _name("name"), _log_group),
    "aws_sagemaker_model": Adopter("sagemaker", _name("name"), _same(lambda c, i: c.describe_model(ModelName=i))),
    "aws_sagemaker_endpoint_configuration": Adopter(
        "sagemaker", _name("name"), _same(lambda c, i: c.describe_endpoint_config(EndpointConfigName=i))
    ),
    "aws_sagemaker_endpoint": Adopter(
        "sagemaker", _name("name"), _same(lambda c, i: c.describe_endpoint(EndpointName=i))
    ),
    "aws_sagemaker_model_package_group": Adopter(
        "sagemaker",
        _name("model_package_group_name"),
        _same(lambda c, i: c.describe_model_package_group(ModelPackageGroupName=i)),
    ),
    "aws_dynamodb_table": Adopter("dynamodb", _name("name"), _same(lambda c, i: c.describe_table(TableName=i))),
    "aws_ssm_parameter": Adopter("ssm", _name("name"), _same(lambda c, i: c.get_parameter(Name=i))),
    "aws_kms_key": Adopter("kms", _name("description"), _kms_key),
    "aws_kms_alias": Adopter("kms", _name("name"), _same(lambda c, i: c.describe_key(KeyId=i))),
    "aws_ecr_repository": Adopter(
        "ecr", _name("name"), _same(lambda c, i: c.describe_repositories(repositoryNames=[i]))
    ),
    "aws_sfn_state_machine": Adopter(
        "stepfunctions",
        lambda after, region, account: f"arn:aws:states:{region}:{account}:stateMachine:{after['name']}",
        _same(lambda c, i: c.describe_state_machine(stateMachineArn=i)),
    ),
    "aws_sqs_queue": Adopter("sqs", _name("name"), lambda c, i: c.get_queue_url(QueueName=i)["QueueUrl"]),
}


@dataclass(frozen=True)
class Orphan:
    """A resource an interrupted apply made that cannot be adopted (AWS names it with an ID it makes, and its name
    need not be unique): the next apply makes another, and this one is left, named here with how to delete it."""

    kind: str
    name: str
    id: str
    delete: str


def _by_name(call: Callable[[Any], list[dict]]) -> Callable[[Any, str], list[str]]:
    return lambda client, name: [item["id"] for item in call(client) if item.get("name") == name]


#: resource type -> (service, planned name key, existing IDs by name, the AWS CLI command that deletes one)
ORPHANS: Mapping[str, tuple[str, str, Callable[[Any, str], list[str]], str]] = {
    "aws_api_gateway_rest_api": (
        "apigateway",
        "name",
        _by_name(lambda c: [i for p in c.get_paginator("get_rest_apis").paginate() for i in p["items"]]),
        "aws apigateway delete-rest-api --rest-api-id {id}",
    ),
    "aws_api_gateway_api_key": (
        "apigateway",
        "name",
        _by_name(lambda c: [i for p in c.get_paginator("get_api_keys").paginate() for i in p["items"]]),
        "aws apigateway delete-api-key --api-key {id}",
    ),
    "aws_api_gateway_usage_plan": (
        "apigateway",
        "name",
        _by_name(lambda c: [i for p in c.get_paginator("get_usage_plans").paginate() for i in p["items"]]),
        "aws apigateway delete-usage-plan --usage-plan-id {id}",
    ),
}


@dataclass(frozen=True)
class Found:
    address: str
    import_id: str


def planned_creates(show: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(address, type, planned values) of every managed resource a plan (`terraform show -json`) creates."""
    return [
        (rc["address"], rc["type"], rc.get("change", {}).get("after") or {})
        for rc in show.get("resource_changes") or []
        if rc.get("mode") == "managed" and "create" in rc.get("change", {}).get("actions", [])
    ]


def has_prior_state(show: Mapping[str, Any]) -> bool:
    """Whether the plan started from a state that holds resources (a pristine first deployment does not)."""
    root = (show.get("prior_state") or {}).get("values", {}).get("root_module") or {}
    return bool(root.get("resources") or root.get("child_modules"))


def find_unrecorded(show: Mapping[str, Any], client: Callable[[str], Any], region: str, account: str) -> list[Found]:
    """The resources a plan would create that already exist under their planned names (kinds of ADOPTERS)."""
    found = []
    for address, kind, after in planned_creates(show):
        adopter = ADOPTERS.get(kind)
        if adopter is None:
            continue
        try:
            key = adopter.key(after, region, account)
        except KeyError:  # a name only known after apply: nothing to look up
            continue
        if isinstance(key, str):
            import_id = _found(adopter.lookup, client(adopter.service), key)
            if import_id is not None:
                found.append(Found(address, import_id))
    return found


def find_orphans(show: Mapping[str, Any], client: Callable[[str], Any]) -> list[Orphan]:
    """Existing resources of the kinds of ORPHANS named as ones the plan creates: the plan makes new ones."""
    orphans = []
    for _, kind, after in planned_creates(show):
        if kind not in ORPHANS or not isinstance(after.get(ORPHANS[kind][1]), str):
            continue
        service, key, existing, delete = ORPHANS[kind]
        name = after[key]
        for found_id in _found(existing, client(service), name) or []:
            orphans.append(Orphan(kind, name, found_id, delete.format(id=found_id)))
    return orphans


def _found(lookup: Callable[..., Any], *args: Any) -> Any:
    """What `lookup(*args)` answers, or None when AWS says there is no such resource (or it is not ours)."""
    from botocore.exceptions import ClientError

    try:
        return lookup(*args)
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if exc.response.get("Error", {}).get("Code") in _NOT_FOUND or status in (403, 404):
            return None  # absent, or not ours (another account's bucket)
        raise


#: the generated file of import blocks, in the root module only while the plan that adopts is made
IMPORTS_FILE = "zz_vwt_adopt_generated.tf"


def import_blocks(found: list[Found]) -> str:
    """Terraform `import` blocks (Terraform >= 1.5) for the resources found."""
    blocks = [f"import {{\n  to = {f.address}\n  id = {json.dumps(f.import_id)}\n}}\n" for f in found]
    return "# Generated by vwt-deploy for one plan (vwt_deploy/deploy/adopt.py); deleted after it.\n\n" + "\n".join(
        blocks
    )
