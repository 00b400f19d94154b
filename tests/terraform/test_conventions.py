"""The module conventions: same files in every module, every variable described, typed and validated,
provider bounds (modules >= 5.0, root ~> 5.100), a README naming every input and output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import TERRAFORM

MODULES = ["storage", "registry", "sagemaker", "prediction_api", "retraining", "monitoring", "consumers"]


def _blocks(text: str, kind: str) -> dict[str, str]:
    """Top-level `kind "name" { ... }` blocks by name (brace matching; strings hold no braces here)."""
    out = {}
    for m in re.finditer(rf'^{kind} "([^"]+)" \{{', text, re.M):
        depth, i = 0, m.end() - 1
        for i in range(m.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
        out[m.group(1)] = text[m.start() : i + 1]
    return out


def _dirs() -> list[Path]:
    return [TERRAFORM] + [TERRAFORM / "modules" / m for m in MODULES]


def test_the_modules_exist():
    assert sorted(p.name for p in (TERRAFORM / "modules").iterdir() if p.is_dir()) == sorted(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_module_files(module):
    path = TERRAFORM / "modules" / module
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md"):
        assert (path / name).is_file(), f"modules/{module} lacks {name}"
    versions = (path / "versions.tf").read_text()
    assert re.search(r'source\s*=\s*"hashicorp/aws"', versions) and re.search(r'version\s*=\s*">= 5\.0"', versions)


def test_root_bounds_the_provider():
    assert re.search(r'version\s*=\s*"~> 5\.100"', (TERRAFORM / "versions.tf").read_text())


@pytest.mark.parametrize("path", _dirs(), ids=lambda p: p.name)
def test_every_variable_is_described_typed_and_validated(path):
    for name, block in _blocks((path / "variables.tf").read_text(), "variable").items():
        assert re.search(r"^\s*description\s*=", block, re.M), f"{path.name}: variable {name} needs a description"
        assert re.search(r"^\s*type\s*=", block, re.M), f"{path.name}: variable {name} needs a type"
        # a bool's type is its whole domain: it needs no validation block
        if not re.search(r"^\s*type\s*=\s*bool\s*$", block, re.M):
            assert "validation {" in block, f"{path.name}: variable {name} needs a validation block"


@pytest.mark.parametrize("module", MODULES)
def test_readme_names_every_input_and_output(module):
    path = TERRAFORM / "modules" / module
    readme = (path / "README.md").read_text()
    for name in _blocks((path / "variables.tf").read_text(), "variable"):
        assert f"`{name}`" in readme, f"modules/{module}/README.md does not describe input {name}"
    for name in _blocks((path / "outputs.tf").read_text(), "output"):
        assert f"`{name}`" in readme, f"modules/{module}/README.md does not describe output {name}"


CONTRACT_OUTPUTS = [
    "api_url",
    "api_key_ids",
    "data_bucket_names",
    "model_bucket_names",
    "endpoint_names",
    "state_machine_arns",
    "ecr_repository_url",
    "admin_topic_arn",
    "intervention_topic_arn",
    "intervention_queue_url",
    "operator_topic_arn",
    "operator_queue_urls",
    "lambda_function_names",
]
CONTRACT_VARIABLES = ["lambda_package_path", "state_machines", "image_tag", "initial_model_artifacts", "model_schemas"]


def test_root_has_the_contract_outputs_and_variables():
    outputs = _blocks((TERRAFORM / "outputs.tf").read_text(), "output")
    variables = _blocks((TERRAFORM / "variables.tf").read_text(), "variable")
    assert set(CONTRACT_OUTPUTS) <= set(outputs)
    for name in CONTRACT_VARIABLES:
        assert "default" in variables[name], f"{name} needs a default so validate and plan work without it"


def test_templatefile_vars_are_the_contracts():
    text = (TERRAFORM / "main.tf").read_text() + (TERRAFORM / "modules" / "retraining" / "main.tf").read_text()
    from vwt_deploy.contract import TEMPLATE_VARS

    contract = set(TEMPLATE_VARS)  # the one list the renderer and the ASL checks use
    root_block = re.search(r"template_vars = \{(.*?)\n  \}", text, re.S).group(1)
    given = set(re.findall(r"^\s*(\w+)\s*=", root_block, re.M))
    retraining = {
        "size_function_arn",
        "label_function_arn",
        "scoring_check_function_arn",
        "scoring_publish_function_arn",
        "drift_function_arn",
    }
    assert given | retraining == contract  # the retraining module adds its functions' ARNs
