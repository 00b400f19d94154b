"""vwt_deploy.dataguard: what `vwt-deploy down` reads from a destroy plan, and the variables it lifts the guard with."""

from __future__ import annotations

import re

from tests.helpers import TERRAFORM
from vwt_deploy.deploy.dataguard import DESTROY_DATA_VARS, PROTECTED_TAG, protected_deletions, refusal
from vwt_deploy.errors import VwtError


def _bucket(name: str, actions: list[str], protected: str | None, where: str = "tags_all") -> dict:
    tags = {"environment": "dev"} if protected is None else {"environment": "dev", PROTECTED_TAG: protected}
    return {
        "address": f'module.storage.aws_s3_bucket.this["data:{name}"]',
        "mode": "managed",
        "type": "aws_s3_bucket",
        "change": {"actions": actions, "before": {"bucket": name, where: tags}, "after": None},
    }


def test_protected_buckets_in_a_destroy_plan_are_named():
    doc = {
        "resource_changes": [
            _bucket("vwt-dev-data-b", ["delete"], "true"),
            _bucket("vwt-dev-model-a", ["delete", "create"], "true", where="tags"),  # a replacement deletes too
            _bucket("vwt-dev-access-logs", ["delete"], None),  # the log bucket is not protected
            _bucket("vwt-local-data-x", ["delete"], "false"),  # local: disarmed
            _bucket("vwt-dev-data-c", ["update"], "true"),  # not deleted
            {
                "address": "module.storage.terraform_data.destroy_guard",
                "type": "terraform_data",
                "change": {"actions": ["delete"], "before": {}},
            },
        ]
    }
    assert protected_deletions(doc) == ["vwt-dev-data-b", "vwt-dev-model-a"]


def test_nothing_to_refuse():
    assert protected_deletions({}) == []
    assert protected_deletions({"resource_changes": [_bucket("b", ["no-op"], "true")]}) == []


def test_refusal_says_what_and_how():
    err = refusal("prod", ["vwt-prod-data-a"])
    assert isinstance(err, VwtError)
    assert "vwt-prod-data-a" in str(err) and "--destroy-data" in err.hint


def test_guard_names_match_the_terraform():
    storage = (TERRAFORM / "modules" / "storage" / "main.tf").read_text()
    assert f'"{PROTECTED_TAG}" = tostring(var.protect_data)' in storage
    variables = (TERRAFORM / "variables.tf").read_text()
    for name in DESTROY_DATA_VARS:
        assert re.search(rf'^variable "{name}"', variables, re.M)
