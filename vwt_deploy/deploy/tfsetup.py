"""`make install` step: check terraform, and point it at a provider mirror when this machine has one.

Writes `.vwt/terraform.rc` (a Terraform CLI configuration the tool passes to
every terraform call): a filesystem mirror for hashicorp providers when one is
found ($VWT_TF_PLUGIN_MIRROR, else the standard places in
`terraform.MIRROR_CANDIDATES`), and a plugin cache shared by all environments.
Without a mirror terraform uses the public registry as usual.
"""

from __future__ import annotations

import shutil
import sys

from vwt_deploy.deploy.terraform import MIN_VERSION, Terraform, cli_config_text, find_mirror
from vwt_deploy.errors import VwtError
from vwt_deploy.process import Runner
from vwt_deploy.project import Project


def main() -> int:
    project = Project.find()
    needed = ".".join(map(str, MIN_VERSION))
    if shutil.which("terraform") is None:
        print(
            f"error: terraform is not on PATH. vwt-deploy needs terraform >= {needed}: "
            "https://developer.hashicorp.com/terraform/install (or your package manager), "
            "then run `make install` again",
            file=sys.stderr,
        )
        return 1
    version = Terraform(
        project.terraform_root, project.state_dir / "tfsetup", Runner(), {"TF_CLI_CONFIG_FILE": ""}
    ).version()
    if version[:2] < MIN_VERSION:
        print(
            f"error: terraform {'.'.join(map(str, version))} is too old; vwt-deploy needs >= {needed} (the S3 "
            "backend's use_lockfile)",
            file=sys.stderr,
        )
        return 1
    try:
        mirror = find_mirror()
    except VwtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    cache = project.state_dir / "plugin-cache"
    cache.mkdir(parents=True, exist_ok=True)
    project.cli_config.write_text(cli_config_text(mirror, cache))
    where = f"provider mirror {mirror}" if mirror else "the public Terraform registry"
    print(f"terraform {'.'.join(map(str, version))}: providers from {where} ({project.cli_config})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
