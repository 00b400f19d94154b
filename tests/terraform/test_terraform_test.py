"""`terraform test` (terraform/tests/*.tftest.hcl): plans with a mocked AWS provider, no account, no network.

The root configuration is planned with the dev environment's real variables (vwt_deploy.tfvars from
environments/dev.yaml and the catalogue) plus a Lambda package and baseline artifacts.
"""

from __future__ import annotations

import json

from tests.helpers import REPO, TERRAFORM
from vwt_deploy.config import load
from vwt_deploy.deploy.tfvars import tfvars


def test_terraform_test_passes(terraform, artifacts, tmp_path):
    var_file = tmp_path / "dev.tfvars.json"
    var_file.write_text(json.dumps(tfvars(load("dev", REPO), artifacts)))
    res = terraform("test", "-no-color", f"-var-file={var_file}", ok_codes=(0, 1))
    summary = [line for line in res.output.splitlines() if line.startswith(("Success!", "Failure!"))]
    assert res.returncode == 0, f"terraform test failed:\n{res.output[-6000:]}"
    assert summary and summary[-1].startswith("Success!") and " 0 failed" in summary[-1], res.output[-3000:]


def test_every_module_and_the_root_have_test_runs():
    files = {p.name for p in (TERRAFORM / "tests").glob("*.tftest.hcl")}
    assert {
        "root.tftest.hcl",
        "storage.tftest.hcl",
        "prediction_api.tftest.hcl",
        "consumers.tftest.hcl",
        "retraining.tftest.hcl",
        "registry.tftest.hcl",
        "sagemaker_policy.tftest.hcl",
        "sagemaker.tftest.hcl",
    } <= files
