"""The variables the tool writes (vwt_deploy.tfvars) and the ones the root configuration declares agree."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO, TERRAFORM
from vwt_deploy.config import ENVIRONMENTS, load
from vwt_deploy.deploy.tfvars import tfvars

DECLARED = set(re.findall(r'^variable "([^"]+)"', (TERRAFORM / "variables.tf").read_text(), re.M))
RETENTION = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_written_variable_is_declared(env):
    written = tfvars(
        load(env, REPO),
        {"lambda_package_path": "x.zip", "state_machines": {}, "image_tag": "abc", "initial_model_artifacts": {}},
    )
    assert set(written) <= DECLARED, f"undeclared: {sorted(set(written) - DECLARED)}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_values_pass_the_terraform_validations(env):
    values = tfvars(load(env, REPO))
    assert values["log_retention_days"] in RETENTION
    assert all(m["schedule_mode"] in ("train", "tune") for m in values["models"].values())
    sizing = values["training"]["sizing"]
    assert sizing[-1]["max_gb"] is None and all(row["max_gb"] is not None for row in sizing[:-1])
