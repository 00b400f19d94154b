#!/usr/bin/env python3
"""Derive the deploy role's policy from what a deployment really calls: `make deployer-policy`.

In a throw-away copy of the project, with its own emulator, it runs what the pipelines run and what the deploy
role's proof runs (tests/helpers/deployflow.py: `up`, a no-change `plan` and `up`, `status`, a sample data set,
`retrain --wait`, `predict`, and `down`). vwt-deploy and Terraform sign with the deployer's key, and the
emulator records the IAM actions and resources of each request (vwt_deploy.emulator.enforcement). `vwt-deploy
local access --principal deployer --policy` turns the record into the policy template written to
environments/deployer-policy.json, which `vwt-deploy bootstrap` renders per environment. Review its diff before
committing it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.helpers import copy_project
    from tests.helpers.deployflow import run_deploy_flow
    from vwt_deploy.emulator.manager import Emulator

    tmp = Path(tempfile.mkdtemp(prefix="vwt-deployer-policy-"))
    project = copy_project(tmp)
    try:
        cli = run_deploy_flow(project)
        policy = json.loads(cli("local", "access", "--env", "local", "--principal", "deployer", "--policy"))
    finally:
        Emulator(project / ".vwt" / "emulator").stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = ROOT / "environments" / "deployer-policy.json"
    out.write_text(json.dumps(policy, indent=2) + "\n")
    actions = sorted({a for s in policy["Statement"] for a in s["Action"]})
    print(f"wrote {out.relative_to(ROOT)}: {len(policy['Statement'])} statements, {len(actions)} actions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
