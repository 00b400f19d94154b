"""Where things are: the project folder and the tool's state folder (`.vwt/`, never committed)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vwt_deploy.errors import ConfigError


def _is_project(path: Path) -> bool:
    return (path / "environments").is_dir() and (path / "terraform").is_dir()


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def find(cls, explicit: str | os.PathLike | None = None) -> Project:
        """--project-dir, else $VWT_PROJECT_DIR, else the nearest folder up from here with environments/
        and terraform/."""
        given = explicit or os.environ.get("VWT_PROJECT_DIR")
        if given:
            root = Path(given).expanduser().resolve()
            if not _is_project(root):
                raise ConfigError(f"{root} is not a vwt-deploy project (it needs environments/ and terraform/)")
            return cls(root)
        here = Path.cwd().resolve()
        for path in (here, *here.parents):
            if _is_project(path):
                return cls(path)
        source = Path(__file__).resolve().parent.parent  # an editable install of the repository
        if _is_project(source):
            return cls(source)
        raise ConfigError(
            "no vwt-deploy project here (a folder with environments/ and terraform/)",
            "run from the repository, or pass --project-dir / set VWT_PROJECT_DIR",
        )

    @property
    def state_dir(self) -> Path:
        return self.root / ".vwt"

    @property
    def terraform_root(self) -> Path:
        return self.root / "terraform"

    @property
    def deployer_policy(self) -> Path:
        """The deploy role's policy template, derived from a local run (scripts/derive-deployer-policy.py)."""
        return self.root / "environments" / "deployer-policy.json"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def lambdas_dir(self) -> Path:
        return self.root / "lambdas"

    @property
    def containers_dir(self) -> Path:
        return self.root / "containers"

    @property
    def cli_config(self) -> Path:
        """Terraform CLI configuration written by `make install` (provider mirror + plugin cache)."""
        return self.state_dir / "terraform.rc"

    def env_dir(self, env: str) -> Path:
        path = self.state_dir / "envs" / env
        path.mkdir(parents=True, exist_ok=True)
        return path

    def terraform_env(self) -> dict[str, str]:
        """Variables every terraform call gets: the project's CLI config when `make install` wrote one."""
        if self.cli_config.exists():
            return {"TF_CLI_CONFIG_FILE": str(self.cli_config)}
        user = os.environ.get("TF_CLI_CONFIG_FILE")
        if user and not Path(user).exists():
            # a variable naming a missing file makes terraform warn on every call
            return {"TF_CLI_CONFIG_FILE": ""}
        return {}
