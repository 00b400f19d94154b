"""The local default end to end: first `up --env local`, a no-change `up`, and a bare `terraform plan`.

Goals (issue "the embedded default"): the first `up` under 60 s on these 2-core machines; a no-change
`up` at most 1.2 x a bare `terraform plan` of the same configuration, measured in the same run.
Runs in a throw-away copy of the project, with its own emulator, stopped at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _timed(argv: list[str], **kw) -> float:
    started = time.perf_counter()
    res = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kw)
    took = time.perf_counter() - started
    if res.returncode not in (0, 2):
        raise SystemExit(f"{' '.join(argv[:6])} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return took


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import copy_project
    from vwt_deploy.config import load
    from vwt_deploy.deploy.targets.local import LocalTarget
    from vwt_deploy.emulator.manager import Emulator
    from vwt_deploy.project import Project

    tmp = Path(tempfile.mkdtemp(prefix="vwt-local-bench-"))
    project = copy_project(tmp)
    cli = [sys.executable, "-m", "vwt_deploy.cli", "--project-dir", str(project)]
    try:
        first = _timed([*cli, "up", "--env", "local", "--yes"])
        again = _timed([*cli, "up", "--env", "local", "--yes"])
        target = LocalTarget(load("local", project), project / ".vwt", start=False)
        target.ensure_ready()
        env = {
            **dict(__import__("os").environ),
            **Project(project).terraform_env(),
            **target.terraform_env(),
            "TF_DATA_DIR": str(project / ".vwt/envs/local/tfdata"),
            "TF_IN_AUTOMATION": "1",
        }
        plan = _timed(
            [
                "terraform",
                f"-chdir={project / 'terraform'}",
                "plan",
                "-input=false",
                "-no-color",
                "-detailed-exitcode",
                f"-var-file={project / '.vwt/envs/local/terraform.tfvars.json'}",
            ],
            env=env,
        )
        down = _timed([*cli, "down", "--env", "local", "--yes"])
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = again / plan
    rows = [
        ("first up --env local", first, "< 60 s", first < 60),
        ("no-change up", again, "", None),
        ("bare terraform plan (same config)", plan, "", None),
        ("no-change up / bare plan", ratio, "<= 1.2", ratio <= 1.2),
        ("down --env local", down, "", None),
    ]
    for name, value, goal, met in rows:
        unit = "x" if "/" in name else "s"
        print(f"{name:<36} {value:>7.2f} {unit}  {goal:<8} {'' if met is None else ('met' if met else 'MISSED')}")
    return {
        "first_up_s": round(first, 1),
        "no_change_up_s": round(again, 1),
        "bare_plan_s": round(plan, 1),
        "no_change_up_over_plan": round(ratio, 2),
        "down_s": round(down, 1),
    }


if __name__ == "__main__":
    main(sys.argv[1:])
