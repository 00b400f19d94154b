"""What a deploy role runs, as one flow: the pipelines' commands (`up`, `plan`, an `up` that updates, `status`,
`down`) and the deploy role's proof (`retrain`, `predict`), on a project copy with its own emulator. Shared by
the script that derives the deploy role's policy (scripts/derive-deployer-policy.py) and the system test that
checks it still covers them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

MODEL = "gb-problem-gambling"
# a release: new function code (below), a changed state machine definition, log retention. Not a change of tags
# or of the API's request model: moto's API Gateway tags only stages and cannot update a model, so either change
# fails locally (README, the deploy role)
UPDATE = ("--set", "log_retention_days=30", "--set", "model_overrides.gb-marketing.hyperparameters.no_trees=40")


def cli_of(project: Path) -> Callable[..., str]:
    """`cli(*args)`: run vwt-deploy on `project`, return its output; SystemExit with its tail when it fails."""

    def cli(*args: str) -> str:
        res = subprocess.run(
            [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project), *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=900,
        )
        if res.returncode:
            raise AssertionError(f"vwt-deploy {' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
        return res.stdout

    return cli


def run_deploy_flow(project: Path) -> Callable[..., str]:
    """Deploy, retrain one model, predict, and destroy (data included), leaving the emulator running so that its
    record can be read; returns the project's `cli`."""
    cli = cli_of(project)
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
