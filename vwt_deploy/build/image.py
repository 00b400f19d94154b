"""The training/serving image: content-hash tag, ECR login, `docker build` / `docker push` through the runner.

The tag is a hash of `containers/sklearn/` (same code -> same tag), so a build
is skipped when the repository already holds that tag (ECR tags are immutable).
The Docker CLI runs through `vwt_deploy.process.Runner` (the one seam for
subprocesses). The ECR password never appears on a command line: it goes into
a private, temporary Docker config folder used by the push and removed after.

"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.contract import IMAGE_CONTEXT
from vwt_deploy.errors import ProcessError, VwtError
from vwt_deploy.process import Runner
from vwt_deploy.project import Project

TAG_LENGTH = 20
_IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"}
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", "~", ".md")  # what .dockerignore keeps out of the image


def context_files(context: Path) -> list[Path]:
    """Files that make up the image's build context, sorted (caches and editor files left out)."""
    files = []
    for path in sorted(context.rglob("*")):
        rel = path.relative_to(context)
        if any(part in _IGNORED_DIRS for part in rel.parts) or path.name.endswith(_IGNORED_SUFFIXES):
            continue
        if path.is_file():
            files.append(path)
    return files


def content_tag(context: Path) -> str:
    """A hash of every file's relative path, executable bit and bytes: the same code gives the same tag."""
    if not (context / "Dockerfile").is_file():
        raise VwtError(f"{context} has no Dockerfile", "run from the vwt-deploy repository (containers/sklearn/)")
    digest = hashlib.sha256()
    for path in context_files(context):
        rel = path.relative_to(context).as_posix()
        executable = bool(path.stat().st_mode & stat.S_IXUSR)
        data = path.read_bytes()
        digest.update(f"{rel}\0{int(executable)}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:TAG_LENGTH]


@dataclass(frozen=True)
class BuildResult:
    tag: str
    image_uri: str | None
    built: bool
    pushed: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImageBuilder:
    """Builds and pushes the image of one environment. Tests pass a fake runner and moto's ECR."""

    def __init__(
        self,
        project: Project,
        env: Environment,
        guard: Callable[[], None],
        runner: Runner | None = None,
        ecr_client: Any = None,
        echo: Callable[[str], None] = print,
    ):
        self.project = project
        self.env = env
        self.runner = runner or Runner()
        self._ecr = ecr_client
        self._guard = guard
        self.echo = echo

    @property
    def context(self) -> Path:
        return self.project.containers_dir / IMAGE_CONTEXT

    @property
    def tag(self) -> str:
        return content_tag(self.context)

    @property
    def repository(self) -> str:
        return self.env.image_repository_name

    @property
    def ecr(self):
        if self._ecr is None:
            import boto3  # lazy: keeps `vwt-deploy --help` fast

            self._ecr = boto3.client("ecr", region_name=self.env.region)
        return self._ecr

    # ---- ECR
    def repository_uri(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self.ecr.describe_repositories(repositoryNames=[self.repository])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
                raise VwtError(
                    f"the ECR repository {self.repository} does not exist in {self.env.region}",
                    f"deploy the registry first (`vwt-deploy up --env {self.env.name}` creates it), then build",
                ) from None
            raise VwtError(f"cannot read the ECR repository {self.repository}: {exc}") from None
        except BotoCoreError as exc:
            raise VwtError(
                f"cannot reach ECR in {self.env.region}: {exc}", "check your network and credentials"
            ) from None
        return found["repositories"][0]["repositoryUri"]

    def repository_exists(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.ecr.describe_repositories(repositoryNames=[self.repository])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RepositoryNotFoundException":
                return False
            raise VwtError(f"cannot read the ECR repository {self.repository}: {exc}") from None
        return True

    def tag_exists(self, tag: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            found = self.ecr.describe_images(repositoryName=self.repository, imageIds=[{"imageTag": tag}])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ImageNotFoundException":
                return False
            raise VwtError(f"cannot list the images of {self.repository}: {exc}") from None
        return bool(found.get("imageDetails"))

    def _docker_config(self, folder: Path) -> dict[str, str]:
        """A private Docker config holding the ECR credentials (never on a command line); keeps the user's context."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            auth = self.ecr.get_authorization_token()["authorizationData"][0]
        except (ClientError, BotoCoreError, KeyError, IndexError) as exc:
            raise VwtError(
                f"cannot get an ECR login token: {exc}", "check the credentials' ecr:GetAuthorizationToken permission"
            ) from None
        user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
        registry = auth["proxyEndpoint"].removeprefix("https://").removeprefix("http://")
        config: dict[str, Any] = {
            "auths": {registry: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}}
        }
        user_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
        try:
            current = json.loads((user_dir / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError, AttributeError):
            current = None
        if current:
            config["currentContext"] = current
        if (user_dir / "contexts").is_dir():
            (folder / "contexts").symlink_to(user_dir / "contexts")
        path = folder / "config.json"
        path.touch(mode=0o600)
        path.write_text(json.dumps(config))
        return {"DOCKER_CONFIG": str(folder)}

    # ---- docker
    def check_engine(self) -> None:
        try:
            self.runner.run(["docker", "info", "--format", "{{.ServerVersion}}"], stream=False)
        except ProcessError as exc:
            detail = (exc.tail.strip().splitlines() or ["`docker` is not on PATH"])[-1]
            raise VwtError(
                f"no Docker engine answers, so the image of {self.env.name} cannot be built ({detail.strip()})",
                "start Docker (or point DOCKER_HOST at an engine) and run `vwt-deploy build` again; "
                "the local environment needs no image",
            ) from None

    def skipped(self, message: str) -> BuildResult:
        """Nothing built or pushed (the target runs the code itself): only the tag."""
        return BuildResult(self.tag, None, False, False, message)

    def build(self) -> BuildResult:
        """Build and push the image, unless ECR already holds its tag. `guard` (the account check) runs first."""
        tag = self.tag
        self._guard()
        uri = f"{self.repository_uri()}:{tag}"
        if self.tag_exists(tag):
            return BuildResult(tag, uri, False, False, f"{uri} is already in ECR: nothing to build or push")
        self.check_engine()
        self.echo(f"building {uri} from {self.context}")
        try:
            self.runner.run(
                [
                    "docker",
                    "build",
                    "--platform",
                    "linux/amd64",
                    "--label",
                    f"vwt.content-hash={tag}",
                    "--tag",
                    uri,
                    str(self.context),
                ],
                hint="fix the Dockerfile or requirements in containers/sklearn/ and build again",
            )
            folder = Path(tempfile.mkdtemp(prefix="vwt-docker-"))
            try:
                env = self._docker_config(folder)
                self.echo(f"pushing {uri}")
                self.runner.run(
                    ["docker", "push", uri],
                    env=env,
                    hint="check that the credentials may push to the repository (ecr:PutImage and friends)",
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        except ProcessError as exc:
            raise VwtError(str(exc.message), exc.hint) from None
        return BuildResult(tag, uri, True, True, f"built and pushed {uri}")
