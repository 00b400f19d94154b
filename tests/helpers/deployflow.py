"""What a deploy role runs, as one flow: the pipelines' commands (`up`, `plan`, an `up` that updates, `status`,
`down`) and the deploy role's proof (`retrain`, `predict`), on a project copy with its own emulator. Shared by
the script that derives the deploy role's policy (scripts/derive-deployer-policy.py: as the administrator, whose
calls the emulator records) and the system test that runs it as the deploy role (IAM enforced)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import yaml

MODEL = "gb-problem-gambling"
# a release: new function code (below), a changed state machine definition, log retention, a new tag on every
# resource (every service's tag-update call) and a smaller request batch (the API's request model, UpdateModel)
UPDATE = (
    "--set", "log_retention_days=30",
    "--set", "model_overrides.gb-marketing.hyperparameters.no_trees=40",
    "--set", "tags.cost-centre=ml-platform",
    "--set", "api.max_records=500",
)  # fmt: skip


#: the repository a project copy's local environment is deployed from, when the flow acts as its deploy role
REPOSITORY = "vwt/framework"


def cli_of(project: Path, environ: Mapping[str, str] | None = None) -> Callable[..., str]:
    """`cli(*args)`: run vwt-deploy on `project` (with `environ` added to this process's environment), return its
    output; AssertionError with its tail when it fails."""
    env = {**os.environ, **(environ or {})}

    def cli(*args: str) -> str:
        res = subprocess.run(
            [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=900,
            env=env,
        )
        if res.returncode:
            raise AssertionError(f"vwt-deploy {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res.stdout

    return cli


def run_deploy_flow(project: Path, as_deploy_role: bool = False) -> Callable[..., str]:
    """Deploy, retrain one model, predict, and destroy (data included), leaving the emulator running so that its
    record can be read; returns the project's `cli`. `as_deploy_role`: the local environment is deployed from
    REPOSITORY, `bootstrap` (as the administrator) makes its deploy role, and every command acts as that role
    (VWT_LOCAL_PRINCIPAL=deploy-role), as the shipped pipelines act on AWS."""
    if as_deploy_role:
        path = project / "environments" / "local.yaml"
        config = yaml.safe_load(path.read_text())
        config["delivery"] = {"github_repository": REPOSITORY}
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        cli_of(project)("bootstrap", "--env", "local")
    cli = cli_of(project, {"VWT_LOCAL_PRINCIPAL": "deploy-role"} if as_deploy_role else None)
    cli("up", "--env", "local", "--yes")
    cli("plan", "--env", "local")
    with (project / "lambdas" / "predict" / "__init__.py").open("a") as source:
        source.write("# a release\n")  # new code: every function's package changes
    cli("up", "--env", "local", "--yes", *UPDATE)  # the updates a release makes are recorded, not only creates
    cli("status", "--env", "local", "--json")
    cli("data", "sample", "--env", "local", "--rows", "2000", "--seed", "3")
    cli("retrain", "--env", "local", "--model", MODEL, "--wait")
    cli("predict", "--env", "local", "--model", MODEL, "--sample", "3")
    cli("down", "--env", "local", "--yes", "--destroy-data", "--keep-emulator")
    return cli
