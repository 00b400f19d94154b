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


DOMAIN = "predictions.vwt-local.example"


def run_deploy_flow(project: Path, as_deploy_role: bool = False) -> Callable[..., str]:
    """Deploy, retrain one model, predict, and destroy (data included), leaving the emulator running so that its
    record can be read; returns the project's `cli`. The local environment has what staging and prod have or may
    have: device tokens (the authorizer and its route), a WAF web ACL, and a custom domain (DOMAIN, with a
    certificate and a hosted zone the administrator made first, as an account's owner does). `as_deploy_role`:
    the local environment is deployed from REPOSITORY,
    `bootstrap` (as the administrator) makes its deploy role, and every command acts as that role
    (VWT_LOCAL_PRINCIPAL=deploy-role), as the shipped pipelines act on AWS."""
    admin = cli_of(project)
    admin("local", "start")
    certificate, zone = _domain_prerequisites(project)
    path = project / "environments" / "local.yaml"
    config = yaml.safe_load(path.read_text())
    config.setdefault("api", {}).update(
        waf={"enabled": True},  # staging's and prod's default: their deploy roles manage it
        domain={"name": DOMAIN, "certificate_arn": certificate, "hosted_zone_id": zone},
        device_tokens={"enabled": True},  # the device route and its authorizer (no token is asked for here)
    )
    catalogue = project / "environments" / "models.yaml"
    models = yaml.safe_load(catalogue.read_text())
    issuer = "https://login.operator.example/"
    models["operators"][0]["identity"] = {"issuer": issuer, "audience": "vwt", "jwks_url": issuer + "jwks.json"}
    catalogue.write_text(yaml.safe_dump(models, sort_keys=False))
    if as_deploy_role:
        config["delivery"] = {"github_repository": REPOSITORY}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    if as_deploy_role:
        admin("bootstrap", "--env", "local")
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


def _domain_prerequisites(project: Path) -> tuple[str, str]:
    """(an ISSUED certificate ARN for DOMAIN, the id of a hosted zone of its parent domain), made in the project's
    running emulator as the administrator: what exists in an account before its API gets a custom domain."""
    import json

    import boto3

    from tests.helpers.certificates import imported_certificate

    info = json.loads((project / ".vwt" / "emulator" / "server.json").read_text())
    keys = {"endpoint_url": f"http://127.0.0.1:{info['port']}", "region_name": "eu-west-1",
            "aws_access_key_id": "test", "aws_secret_access_key": "test"}  # fmt: skip
    certificate = imported_certificate(boto3.client("acm", **keys), DOMAIN)
    zone = boto3.client("route53", **keys).create_hosted_zone(
        Name=DOMAIN.split(".", 1)[1], CallerReference=f"vwt-{info['boot_id']}"
    )["HostedZone"]["Id"]
    return certificate, zone.rsplit("/", 1)[-1]
