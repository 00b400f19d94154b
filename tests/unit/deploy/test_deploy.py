"""The deployment pipeline with a fake process seam: plan/up/down decisions and the account guard."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from tests.helpers.fakes import FakeRunner, show_json
from vwt_deploy.config import load
from vwt_deploy.deploy.pipeline import Deployment
from vwt_deploy.deploy.targets.aws import AwsTarget
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.project import Project

ACCOUNT_LOGGING_ROLE = "arn:aws:iam::123456789012:role/apigateway-logs"


class FakeTarget(AwsTarget):
    """An AWS target (it builds the image, guards data) whose account is moto's and whose terraform is fake."""

    def __init__(self) -> None:
        self.ready = 0
        self.env = None

    def ensure_ready(self) -> None:
        self.ready += 1

    def backend_config(self) -> dict:
        return {"bucket": "state", "key": "k", "use_lockfile": True}

    def terraform_env(self) -> dict:
        return {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}

    def describe(self, outputs=None) -> dict:
        return {"target": "fake"}

    def on_applied(self, destroyed: bool, keep_running: bool = False) -> None:
        self.applied = "destroyed" if destroyed else "applied"

    def client(self, service: str):
        return boto3.client(service, region_name="eu-west-1")  # moto (the autouse fixture `ecr`)


@pytest.fixture(autouse=True)
def ecr(project_dir: Path, moto):
    """AWS is moto here: the dev image registry exists and already holds the image of this code."""
    from vwt_deploy.build.image import content_tag

    boto3.client("apigateway", region_name="eu-west-1").update_account(  # the account's own logging role
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ACCOUNT_LOGGING_ROLE}]
    )
    client = boto3.client("ecr", region_name="eu-west-1")
    repo = load("dev", project_dir).image_repository_name
    client.create_repository(repositoryName=repo)
    tag = content_tag(project_dir / "containers" / "sklearn")
    client.put_image(
        repositoryName=repo,
        imageTag=tag,
        imageManifest=json.dumps(
            {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}
        ),
    )
    yield client, repo, tag


def deployment(project_dir: Path, runner: FakeRunner, env: str = "dev") -> Deployment:
    return Deployment(Project(project_dir), load(env, project_dir), runner, FakeTarget(), echo=lambda _: None)


CHANGES = {"plan": (2, ""), "show": (0, show_json(("aws_s3_bucket", ["create"])))}


def test_up_writes_variables_inits_plans_and_applies(project_dir: Path) -> None:
    runner = FakeRunner({**CHANGES, "output": (0, '{"api_url": {"value": "u"}}')})
    d = deployment(project_dir, runner)
    result = d.up(confirm=lambda plan: True)
    assert result.applied and result.outputs == {"api_url": "u"}
    # no Docker engine (the fake runner fails `docker info`) is fine: ECR has this code's image already
    assert runner.subcommands() == ["init", "plan", "show", "apply", "output"]
    tfvars = json.loads(d.var_file.read_text())
    assert tfvars["environment"] == "dev" and tfvars["allowed_account_ids"] == ["111111111111"]
    assert tfvars["models"]["gb-marketing"]["endpoint_name"] == "vwt-dev-gb-marketing"
    assert runner.envs[1]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert not (d.work / "up.tfplan").exists()  # never keep a saved plan


def test_up_adopts_what_an_interrupted_apply_created_then_plans_again(project_dir: Path) -> None:
    """The state holds resources, and the plan creates a role that exists (an apply killed after creating it):
    it is imported at its address before the apply, and the plan is made again."""
    iam = boto3.client("iam", region_name="eu-west-1")
    iam.create_role(RoleName="vwt-dev-gb-marketing-sfn", AssumeRolePolicyDocument="{}")
    interrupted = {
        "prior_state": {"values": {"root_module": {"child_modules": [{"address": "module.storage"}]}}},
        "resource_changes": [
            {
                "address": 'module.retraining.aws_iam_role.state_machine["gb-marketing"]',
                "mode": "managed",
                "type": "aws_iam_role",
                "change": {"actions": ["create"], "after": {"name": "vwt-dev-gb-marketing-sfn"}},
            },
            {
                "address": "module.retraining.aws_dynamodb_table.runs",
                "mode": "managed",
                "type": "aws_dynamodb_table",
                "change": {"actions": ["create"], "after": {"name": "vwt-dev-runs"}},
            },
        ],
    }
    boto3.client("apigateway", region_name="eu-west-1").create_rest_api(name="vwt-dev-predictions")  # an orphan
    interrupted["resource_changes"].append(
        {
            "address": "module.prediction_api.aws_api_gateway_rest_api.this",
            "mode": "managed",
            "type": "aws_api_gateway_rest_api",
            "change": {"actions": ["create"], "after": {"name": "vwt-dev-predictions"}},
        }
    )
    shows = iter([json.dumps(interrupted), show_json(("aws_dynamodb_table", ["create"]))])
    imports_file = project_dir / "terraform" / "zz_vwt_adopt_generated.tf"
    seen: list[str] = []

    def plan(argv):
        seen.append(imports_file.read_text() if imports_file.exists() else "")
        return 2, ""

    runner = FakeRunner({"plan": plan, "show": lambda argv: (0, next(shows))})
    said: list[str] = []
    d = Deployment(Project(project_dir), load("dev", project_dir), runner, FakeTarget(), echo=said.append)
    result = d.up(confirm=lambda plan: True)
    assert result.applied
    assert runner.subcommands() == ["init", "plan", "show", "plan", "show", "apply", "output"]
    assert seen[0] == ""  # the first plan finds them; the second imports them
    role = 'module.retraining.aws_iam_role.state_machine["gb-marketing"]'
    assert f'import {{\n  to = {role}\n  id = "vwt-dev-gb-marketing-sfn"\n}}' in seen[1]
    assert "aws_dynamodb_table" not in seen[1]  # it does not exist: it is created
    assert not imports_file.exists()  # only while the plan is made
    assert said[0] == f"adopting {role} (vwt-dev-gb-marketing-sfn): it exists but the state did not record it"
    orphan = result.orphans[0]
    assert (orphan.kind, orphan.name) == ("aws_api_gateway_rest_api", "vwt-dev-predictions")
    assert said[-1].startswith("left by an interrupted apply and not in the state (this apply made a new one)")
    assert said[-1].endswith(f"delete it with `aws apigateway delete-rest-api --rest-api-id {orphan.id}`")


def test_no_changes_applies_nothing(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (0, "")})
    result = deployment(project_dir, runner).up(confirm=lambda plan: pytest.fail("nothing to confirm"))
    assert not result.applied and "apply" not in runner.subcommands()


def test_refused_confirmation_applies_nothing(project_dir: Path) -> None:
    runner = FakeRunner(CHANGES)
    with pytest.raises(VwtError, match="not confirmed"):
        deployment(project_dir, runner).up(confirm=lambda plan: False)
    assert "apply" not in runner.subcommands()


def test_init_runs_again_only_when_something_changed(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (0, "")})
    d = deployment(project_dir, runner)
    (d.work / "tfdata").mkdir(parents=True, exist_ok=True)
    d.plan()
    d.plan()
    assert runner.subcommands().count("init") == 1
    (project_dir / "terraform" / "extra.tf").write_text("# changed\n")
    d.plan()
    assert runner.subcommands().count("init") == 2


def test_down_lifts_the_data_guard_of_empty_buckets_then_destroys(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (2, ""), "show": (0, show_json(("aws_s3_bucket", ["delete"])))})
    d = deployment(project_dir, runner)
    summary = d.down(confirm=lambda plan: True)
    assert summary.destroys == {"aws_s3_bucket": 1}
    plans = [c for c in runner.calls if FakeRunner._sub(c) == "plan"]
    assert ["-destroy" in p for p in plans] == [True, False, True]  # shown, guard lifted, destroyed
    assert runner.subcommands()[-1] == "apply"
    assert json.loads(d.var_file.read_text())["allow_data_destroy"] is True
    assert d.target.applied == "destroyed"


def test_down_refuses_while_data_buckets_hold_objects(project_dir: Path) -> None:
    env = load("dev", project_dir)
    s3 = boto3.client("s3", region_name="eu-west-1")
    bucket = env.data_bucket_name("gambling-behaviour")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="training/players.csv", Body=b"x")
    runner = FakeRunner({"plan": (2, ""), "show": (0, show_json(("aws_s3_bucket", ["delete"])))})
    with pytest.raises(VwtError) as exc:
        deployment(project_dir, runner).down(confirm=lambda plan: True)
    assert f"{bucket} (1 objects)" in str(exc.value) and "--destroy-data" in str(exc.value)
    assert "apply" not in runner.subcommands() and "plan" not in runner.subcommands()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 1  # nothing lost


def test_down_with_destroy_data_destroys_them(project_dir: Path) -> None:
    env = load("dev", project_dir)
    s3 = boto3.client("s3", region_name="eu-west-1")
    bucket = env.data_bucket_name("gambling-behaviour")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket=bucket, Key="training/players.csv", Body=b"x")
    runner = FakeRunner({"plan": (2, ""), "show": (0, show_json(("aws_s3_bucket", ["delete"])))})
    deployment(project_dir, runner).down(confirm=lambda plan: True, destroy_data=True)
    assert runner.subcommands().count("apply") == 2  # the guard lifted, then the destroy


def test_down_not_confirmed_lifts_nothing(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (2, ""), "show": (0, show_json(("aws_s3_bucket", ["delete"])))})
    d = deployment(project_dir, runner)
    with pytest.raises(VwtError, match="nothing destroyed"):
        d.down(confirm=lambda plan: False)
    assert "apply" not in runner.subcommands()
    assert "allow_data_destroy" not in json.loads(d.var_file.read_text())


def test_lock_error_is_translated(project_dir: Path) -> None:
    runner = FakeRunner({"plan": (1, "Error: Error acquiring the state lock\nLock Info: ...")})
    with pytest.raises(VwtError) as exc:
        deployment(project_dir, runner).plan()
    assert "is locked" in str(exc.value) and "nothing was changed" in str(exc.value)


def _sts(account: str):
    client = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    stub = Stubber(client)
    stub.add_response("get_caller_identity", {"Account": account, "Arn": "arn:aws:iam::x:user/u", "UserId": "u"})
    stub.activate()
    return client


def test_account_guard_refuses_another_account(repo: Path) -> None:
    target = AwsTarget(load("prod", repo), lambda: _sts("999999999999"))
    with pytest.raises(VwtError) as exc:
        target.ensure_ready()
    assert "refusing to touch AWS account 999999999999" in str(exc.value) and "333333333333" in str(exc.value)


def test_account_guard_accepts_the_environment_account(repo: Path) -> None:
    target = AwsTarget(load("prod", repo), lambda: _sts("333333333333"))
    target.ensure_ready()
    assert target.describe()["account"] == "333333333333"
    cfg = target.backend_config()
    assert (
        cfg["bucket"] == "vwt-prod-tfstate-333333333333-eu-west-1"
        and cfg["use_lockfile"] is True
        and cfg["encrypt"] is True
    )


def test_guard_runs_before_terraform(project_dir: Path) -> None:
    runner = FakeRunner()
    d = Deployment(
        Project(project_dir),
        load("prod", project_dir),
        runner,
        AwsTarget(load("prod", project_dir), lambda: _sts("999999999999")),
    )
    with pytest.raises(VwtError, match="refusing"):
        d.plan()
    assert runner.calls == []


def test_no_credentials_is_one_clear_message(repo: Path) -> None:
    def broken():
        raise RuntimeError("Unable to locate credentials")

    with pytest.raises(VwtError, match="configure credentials"):
        AwsTarget(load("dev", repo), broken).ensure_ready()


def test_first_up_creates_the_registry_then_builds_the_image(project_dir: Path, ecr) -> None:
    client, repo, tag = ecr
    client.delete_repository(repositoryName=repo, force=True)
    runner = FakeRunner(dict(CHANGES))

    def plan(argv):
        if any(a == "-target=module.registry" for a in argv):  # the targeted apply creates the repository
            client.create_repository(repositoryName=repo)
        return (2, "")

    runner.answers["plan"] = plan
    result = deployment(project_dir, runner).up(confirm=lambda p: True)
    assert result.applied
    subs = runner.subcommands()
    assert subs[:4] == ["init", "plan", "show", "apply"] and "-target=module.registry" in runner.calls[1]
    docker = [c for c in runner.calls if c[0] == "docker"]
    assert [c[1] for c in docker] == ["info", "build", "push"]
    assert any(a.endswith(f":{tag}") for a in docker[1])
    tfvars = json.loads((project_dir / ".vwt/envs/dev/terraform.tfvars.json").read_text())
    assert tfvars["image_tag"] == tag
    assert set(tfvars["initial_model_artifacts"]) == {
        "bid-problem-gambling",
        "gb-problem-gambling",
        "gb-marketing",
        "gb-unusual-behaviour",
    }


def test_status_and_outputs_build_nothing(project_dir: Path) -> None:
    """Read-only commands read Terraform's outputs; they render, package and build nothing."""
    runner = FakeRunner({"output": (0, '{"api_url": {"value": "u"}}')})
    d = deployment(project_dir, runner)
    data = d.status()
    assert data["outputs"] == {"api_url": "u"} and data["target"] == "fake"
    assert runner.subcommands() == ["init", "output"]
    assert not d.var_file.exists()
    assert not (d.work / "build").exists() and not (d.work / "render").exists()
    assert d.outputs() == {"api_url": "u"} and runner.subcommands() == ["init", "output"]  # cached


def test_up_refuses_an_account_without_an_api_logging_role_and_changes_nothing(project_dir: Path) -> None:
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}]  # none set
    )
    runner = FakeRunner(CHANGES)
    with pytest.raises(ConfigError) as exc:
        deployment(project_dir, runner).up(confirm=lambda plan: True)
    assert "name no CloudWatch role" in exc.value.message and "manage_account_logging_role: true" in exc.value.hint
    assert "plan" not in runner.subcommands() and "apply" not in runner.subcommands()


def test_the_account_logging_role_is_set_by_terraform_only_when_asked(project_dir: Path) -> None:
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}]  # none set
    )
    dev = project_dir / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("api:\n", "api:\n  manage_account_logging_role: true\n", 1))
    runner = FakeRunner({**CHANGES, "output": (0, "{}")})
    d = deployment(project_dir, runner)
    assert d.up(confirm=lambda plan: True).applied
    tfvars = json.loads(d.var_file.read_text())
    assert tfvars["manage_api_gateway_account"] is True and "manage_account_logging_role" not in tfvars["api"]


def test_up_names_the_bootstrap_command_when_the_deploy_role_is_missing(project_dir: Path) -> None:
    """A deployment from a GitHub repository needs the deploy role and the OIDC provider: one message, nothing
    planned or applied; after `bootstrap` the check passes."""
    from vwt_deploy.deploy.deployrole import bootstrap_deploy_role

    path = project_dir / "environments" / "dev.yaml"
    path.write_text(path.read_text() + "\ndelivery:\n  github_repository: vwt/framework\n")
    runner = FakeRunner(CHANGES)
    with pytest.raises(ConfigError) as err:
        deployment(project_dir, runner).up(confirm=lambda plan: True)
    assert "the deploy role vwt-dev-deploy and the account's GitHub OIDC provider" in err.value.message
    assert "`vwt-deploy bootstrap --env dev`" in (err.value.hint or "")
    assert "plan" not in runner.subcommands()
    template = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}'
    )
    bootstrap_deploy_role(load("dev", project_dir), boto3.client("iam"), template, "123456789012")
    assert deployment(project_dir, runner).up(confirm=lambda plan: True).applied


@pytest.mark.parametrize(
    ("value", "principal"),
    [
        (None, "administrator"),
        ("", "administrator"),
        ("Deploy-Role", "deploy-role"),
        ("administrator", "administrator"),
    ],
)
def test_the_local_target_acts_as_whom_vwt_local_principal_names(value, principal) -> None:
    from vwt_deploy.deploy.targets.local import PRINCIPAL_ENV, principal_from

    assert principal_from({} if value is None else {PRINCIPAL_ENV: value}) == principal


def test_an_unknown_local_principal_is_one_message_with_the_choices() -> None:
    from vwt_deploy.deploy.targets.local import PRINCIPAL_ENV, principal_from

    with pytest.raises(ConfigError) as err:
        principal_from({PRINCIPAL_ENV: "root"})
    assert "VWT_LOCAL_PRINCIPAL='root' names no principal" in err.value.message
    assert "deploy-role" in (err.value.hint or "")
