"""What `down` must remove beyond Terraform: run-time resources and bucket contents.

The retraining pipeline creates SageMaker models and endpoint configurations
at run time; Terraform does not know them. After the Terraform destroy, every
model and endpoint configuration whose name starts with the environment's
prefix *and* whose `environment` tag names the environment is deleted, so
nothing is left behind. Both conditions must hold: nothing of another
environment or another team is touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vwt_deploy.config import Environment


def _tagged_for(sm: Any, arn: str, env: Environment) -> bool:
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn).get("Tags", [])}
    return tags.get("environment") == env.name


def _paged(call, key: str, **kwargs) -> Iterable[dict]:
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def runtime_leftovers(env: Environment, sm: Any) -> dict[str, list[str]]:
    """Models and endpoint configurations of this environment that still exist."""
    prefix = env.name_prefix
    configs = [
        c["EndpointConfigName"]
        for c in _paged(sm.list_endpoint_configs, "EndpointConfigs", NameContains=prefix)
        if c["EndpointConfigName"].startswith(prefix) and _tagged_for(sm, c["EndpointConfigArn"], env)
    ]
    models = [
        m["ModelName"]
        for m in _paged(sm.list_models, "Models", NameContains=prefix)
        if m["ModelName"].startswith(prefix) and _tagged_for(sm, m["ModelArn"], env)
    ]
    return {"endpoint_configs": sorted(configs), "models": sorted(models)}


def remove_runtime_leftovers(env: Environment, sm: Any) -> dict[str, list[str]]:
    """Delete them (endpoint configurations first: they name the models); return what was deleted."""
    found = runtime_leftovers(env, sm)
    for name in found["endpoint_configs"]:
        sm.delete_endpoint_config(EndpointConfigName=name)
    for name in found["models"]:
        sm.delete_model(ModelName=name)
    return found


def remove_model_versions(env: Environment, sm: Any) -> int:
    """Delete every version in the environment's model package groups (the registry), so that Terraform can
    delete the groups: a group that holds versions is not deleted. Run after `down` is confirmed, right before
    the destroy. Returns how many versions were deleted."""
    from botocore.exceptions import ClientError

    deleted = 0
    for model in env.catalogue.models:
        group = env.model_package_group(model.name)
        try:
            versions = [
                p["ModelPackageArn"]
                for p in _paged(sm.list_model_packages, "ModelPackageSummaryList", ModelPackageGroupName=group)
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            continue  # no such group (never deployed, or already gone)
        for arn in versions:
            sm.delete_model_package(ModelPackageName=arn)
            deleted += 1
    return deleted


def framework_buckets(env: Environment) -> list[str]:
    """The data and model buckets: what `down` refuses to destroy while they hold objects."""
    return sorted(name for key, name in env.bucket_names().items() if key.startswith(("data:", "model:")))


def non_empty_buckets(env: Environment, s3: Any) -> dict[str, int]:
    """Data and model buckets that hold objects (any version), with a count (at most 1,000 counted)."""
    from botocore.exceptions import ClientError

    found = {}
    for bucket in framework_buckets(env):
        try:
            page = s3.list_object_versions(Bucket=bucket, MaxKeys=1000)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchBucket", "404"):
                continue
            raise
        count = len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        if count:
            found[bucket] = count
    return found


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; return how many were deleted."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
    return deleted
