"""Fixtures of the Terraform tests: the project's Terraform environment with a temporary data dir."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import zipfile

import pytest

from tests.helpers import REPO, TERRAFORM
from vwt_deploy.process import Runner


def _need_terraform() -> None:
    if shutil.which("terraform") is None:
        pytest.fail("terraform is not on PATH: the Terraform checks need it (see README: make install)")


@pytest.fixture(scope="session")
def tf_env(project, tmp_path_factory) -> dict[str, str]:
    """The environment vwt-deploy gives terraform (its CLI config: provider mirror) with a throw-away TF_DATA_DIR."""
    _need_terraform()
    data_dir = tmp_path_factory.mktemp("tfdata")
    return {
        **project.terraform_env(),
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }


@pytest.fixture(scope="session")
def terraform(tf_env):
    """Run `terraform -chdir=terraform <args>` through the project's process seam; returns the Result."""
    runner = Runner(sink=lambda line: None)
    initialised = []

    def run(*args: str, ok_codes=(0,)):
        if not initialised:
            runner.run(
                ["terraform", f"-chdir={TERRAFORM}", "init", "-backend=false", "-input=false", "-no-color"],
                env=tf_env,
                stream=False,
            )
            initialised.append(True)
        return runner.run(["terraform", f"-chdir={TERRAFORM}", *args], env=tf_env, stream=False, ok_codes=ok_codes)

    return run


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> dict:
    """What vwt-deploy builds before Terraform runs: a Lambda package and one baseline model.tar.gz per model.

    Stand-ins with the real shapes (the real builders land with the Lambda and container issues):
    Terraform only hashes and uploads them.
    """
    from vwt_deploy.config import load

    out = tmp_path_factory.mktemp("artifacts")
    package = out / "lambda.zip"
    with zipfile.ZipFile(package, "w") as zf:
        for name in (
            "predict/__init__.py",
            "predict/handler.py",
            "pipeline/__init__.py",
            "pipeline/size.py",
            "pipeline/label.py",
        ):
            zf.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), "def handler(event, context):\n    return {}\n")
    env = load("dev", REPO)
    models = {}
    for model in env.catalogue.models:
        path = out / f"{model.name}.model.tar.gz"
        body = json.dumps({"format": "baseline", "model": model.name, "version": "baseline"}).encode()
        with tarfile.open(path, "w:gz") as tar:
            info = tarfile.TarInfo("model.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        models[model.name] = str(path)
    return {"lambda_package_path": str(package), "initial_model_artifacts": models}
