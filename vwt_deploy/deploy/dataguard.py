"""The destroy guard of the data and model buckets, as the tool honours it (`vwt-deploy down`).

Terraform's own guard (terraform/modules/storage/README.md, "The destroy guard") refuses to
destroy a protected bucket: a `terraform_data.destroy_guard` per bucket fails on destroy while
`protect_data` is on, which keeps the bucket, its settings and the KMS key. The tool checks the
destroy plan first, so that `down` stops with a clear message before anything is destroyed:

    plan = deployment.plan(destroy=True)            # PlanSummary; its .path is the saved plan
    doc = json of `terraform show -json <plan>`
    buckets = protected_deletions(doc)
    if buckets and not destroy_data: raise refusal(env_name, buckets)

With `--destroy-data` (after its own confirmation naming the buckets) the tool first applies with
`DESTROY_DATA_VARS` (an in-place update: guards disarmed, force_destroy on), then plans and applies
the destroy with the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vwt_deploy.errors import VwtError

#: the tag the storage module puts on every data and model bucket
PROTECTED_TAG = "vwt:protected"

#: the variables that lift the guard (root variable `allow_data_destroy`)
DESTROY_DATA_VARS: dict[str, Any] = {"allow_data_destroy": True}


def protected_deletions(show_json: Mapping[str, Any]) -> list[str]:
    """Names of the protected buckets a plan (`terraform show -json`) would delete or replace, sorted."""
    names = set()
    for rc in show_json.get("resource_changes") or []:
        if rc.get("type") != "aws_s3_bucket" or rc.get("mode", "managed") != "managed":
            continue
        change = rc.get("change") or {}
        if "delete" not in (change.get("actions") or []):
            continue
        before = change.get("before") or {}
        tags = {**(before.get("tags_all") or {}), **(before.get("tags") or {})}
        if str(tags.get(PROTECTED_TAG, "")).lower() == "true":
            names.add(before.get("bucket") or rc.get("address", "?"))
    return sorted(names)


def refusal(env_name: str, buckets: list[str]) -> VwtError:
    """The error `down` raises when the plan would delete protected buckets without --destroy-data."""
    return VwtError(
        f"refusing to destroy the data and model buckets of {env_name} (they hold the training data and the "
        f"models): {', '.join(buckets)}",
        f"nothing was destroyed; to delete them and everything in them run `vwt-deploy down --env {env_name} "
        "--destroy-data`",
    )
