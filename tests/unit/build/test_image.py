"""`vwt-deploy build`: the content tag, and build/push through a fake process seam against moto's ECR."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from tests.helpers import REPO
from vwt_deploy.build.image import ImageBuilder, content_tag
from vwt_deploy.cli import main
from vwt_deploy.config import load
from vwt_deploy.deploy.pipeline import Deployment
from vwt_deploy.deploy.targets.aws import AwsTarget
from vwt_deploy.errors import ProcessError, VwtError
from vwt_deploy.process import Result
from vwt_deploy.project import Project

ACCOUNT = "123456789012"  # moto's account


class FakeRunner:
    """Records every argv (and the Docker config a push sees); fails the commands it is told to."""

    def __init__(self, fail: dict[str, ProcessError] | None = None):
        self.calls: list[list[str]] = []
        self.push_config: dict | None = None
        self.fail = fail or {}

    def run(self, argv, *, cwd=None, env=None, stream=True, ok_codes=(0,), hint=None):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        key = " ".join(argv[:2])
        if key in self.fail:
            raise self.fail[key]
        if argv[:2] == ["docker", "push"]:
            config_dir = Path(env["DOCKER_CONFIG"])
            self.push_config = json.loads((config_dir / "config.json").read_text())
            assert oct((config_dir / "config.json").stat().st_mode & 0o777) == "0o600"
        return Result(tuple(argv), 0, "")

    def commands(self) -> list[str]:
        return [" ".join(c[:2]) for c in self.calls]


@pytest.fixture
def scratch_project(tmp_path) -> Project:
    """A copy of the project (environments, terraform, the image's context) so the tests can change files."""
    for name in ("environments", "terraform"):
        shutil.copytree(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "containers", tmp_path / "containers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return Project(tmp_path)


@pytest.fixture
def dev(scratch_project):
    return load("dev", scratch_project.root, {"allowed_account_ids": [ACCOUNT]})


def builder(scratch_project, env, runner, guard=None):
    return ImageBuilder(scratch_project, env, guard or AwsTarget(env).ensure_ready, runner=runner, echo=lambda _: None)


def test_the_tag_is_a_content_hash(scratch_project):
    context = scratch_project.containers_dir / "sklearn"
    tag = content_tag(context)
    assert tag == content_tag(context) and len(tag) == 20
    (context / "vwt_model" / "__pycache__").mkdir(exist_ok=True)
    (context / "vwt_model" / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert content_tag(context) == tag  # caches are not part of the image's code
    (context / "vwt_model" / "serve.py").write_text((context / "vwt_model" / "serve.py").read_text() + "\n# changed\n")
    assert content_tag(context) != tag
    assert content_tag(REPO / "containers" / "sklearn") == tag  # the copy is the repository's code


def test_builds_and_pushes_a_new_tag(scratch_project, dev, moto):
    ecr = boto3.client("ecr", region_name=dev.region)
    url = ecr.create_repository(repositoryName=dev.image_repository_name)["repository"]["repositoryUri"]
    runner = FakeRunner()
    result = builder(scratch_project, dev, runner, guard=lambda: None).build()

    tag = content_tag(scratch_project.containers_dir / "sklearn")
    assert result.built and result.pushed and result.tag == tag and result.image_uri == f"{url}:{tag}"
    assert runner.commands() == ["docker info", "docker build", "docker push"]
    build_argv = runner.calls[1]
    assert build_argv[build_argv.index("--tag") + 1] == f"{url}:{tag}"
    assert build_argv[-1] == str(scratch_project.containers_dir / "sklearn")
    assert runner.calls[2] == ["docker", "push", f"{url}:{tag}"]
    ((registry, auth),) = runner.push_config["auths"].items()
    assert registry in url and auth["auth"]
    assert not any("password" in a.lower() or auth["auth"] in a for call in runner.calls for a in call)


def test_skips_build_and_push_when_the_tag_is_already_in_ecr(scratch_project, dev, moto):
    ecr = boto3.client("ecr", region_name=dev.region)
    ecr.create_repository(repositoryName=dev.image_repository_name)
    tag = content_tag(scratch_project.containers_dir / "sklearn")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 1,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName=dev.image_repository_name, imageManifest=json.dumps(manifest), imageTag=tag)
    runner = FakeRunner(fail={"docker info": ProcessError(["docker", "info"], 1, "no engine")})
    result = builder(scratch_project, dev, runner, guard=lambda: None).build()
    assert not result.built and not result.pushed and "already in ECR" in result.message
    assert runner.calls == []  # not even `docker info`: nothing to do, no engine needed


def test_no_docker_engine_is_one_clear_error(scratch_project, dev, moto):
    boto3.client("ecr", region_name=dev.region).create_repository(repositoryName=dev.image_repository_name)
    tail = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
    runner = FakeRunner(fail={"docker info": ProcessError(["docker", "info"], 1, tail)})
    with pytest.raises(VwtError) as caught:
        builder(scratch_project, dev, runner, guard=lambda: None).build()
    assert "no Docker engine answers" in caught.value.message and "Cannot connect" in caught.value.message
    assert "start Docker" in caught.value.hint
    assert runner.commands() == ["docker info"]


def test_a_failing_build_pushes_nothing(scratch_project, dev, moto):
    boto3.client("ecr", region_name=dev.region).create_repository(repositoryName=dev.image_repository_name)
    runner = FakeRunner(fail={"docker build": ProcessError(["docker", "build"], 1, "pip failed")})
    with pytest.raises(VwtError, match="pip failed"):
        builder(scratch_project, dev, runner, guard=lambda: None).build()
    assert runner.commands() == ["docker info", "docker build"]


def test_a_missing_repository_says_to_deploy_the_registry(scratch_project, dev, moto):
    with pytest.raises(VwtError) as caught:
        builder(scratch_project, dev, FakeRunner(), guard=lambda: None).build()
    assert dev.image_repository_name in caught.value.message and "vwt-deploy up --env dev" in caught.value.hint


def test_the_account_guard_runs_before_ecr(scratch_project, moto):
    wrong = load("dev", scratch_project.root)  # allows 111111111111 only; moto's account is 123456789012
    with pytest.raises(VwtError, match="refusing to touch AWS account 123456789012"):
        builder(scratch_project, wrong, FakeRunner()).build()


def test_local_needs_no_image(scratch_project):
    local = load("local", scratch_project.root)
    runner = FakeRunner()
    result = Deployment(scratch_project, local, runner).build_image()
    assert not result.built and "needs no image" in result.message and runner.calls == []
    assert result.tag == content_tag(scratch_project.containers_dir / "sklearn")


def test_cli_build_for_local_exits_zero(scratch_project):
    done = CliRunner().invoke(main, ["--project-dir", str(scratch_project.root), "build", "--env", "local", "--json"])
    assert done.exit_code == 0, done.output
    out = json.loads(done.output)
    assert out["built"] is False and out["tag"] == content_tag(scratch_project.containers_dir / "sklearn")


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_the_real_runner_reports_a_missing_engine(scratch_project, dev, moto, monkeypatch):
    from vwt_deploy.process import Runner

    monkeypatch.setenv("DOCKER_HOST", f"unix://{scratch_project.root}/no-such-docker.sock")
    boto3.client("ecr", region_name=dev.region).create_repository(repositoryName=dev.image_repository_name)
    with pytest.raises(VwtError, match="no Docker engine answers"):
        builder(scratch_project, dev, Runner(sink=lambda _: None), guard=lambda: None).build()


def test_cli_help_does_not_load_the_ml_stack():
    code = (
        "import sys, vwt_deploy.cli; heavy = {'sklearn', 'numpy', 'onnxruntime', 'pyarrow', 'boto3'} & "
        "set(sys.modules); print(sorted(heavy))"
    )
    done = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
