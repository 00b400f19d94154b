"""`vwt-deploy validate`: the configuration (already loaded), `terraform fmt -check` and `terraform validate`."""

from __future__ import annotations

from collections.abc import Callable

from vwt_deploy.config import Environment
from vwt_deploy.deploy.terraform import Terraform
from vwt_deploy.process import Runner
from vwt_deploy.project import Project


def validate_project(
    project: Project,
    env: Environment,
    runner: Runner | None = None,
    echo: Callable[[str], None] = print,
    terraform: bool = True,
) -> list[str]:
    """Every problem found, as readable lines (empty when all is well): the rendered state machines and their
    policies, then (unless terraform=False) `terraform fmt -check` and `terraform validate`."""
    from vwt_deploy.build.statemachines import validate_rendered

    problems = validate_rendered(project, env)
    echo(f"state machines of {len(env.catalogue.models)} models: {'ok' if not problems else 'PROBLEMS'}")
    if not terraform:
        return problems
    tf = Terraform(
        project.terraform_root, project.state_dir / "validate" / "tfdata", runner or Runner(), project.terraform_env()
    )
    problems += [f"not formatted (run `terraform fmt -recursive terraform/`): {f}" for f in tf.fmt_check()]
    tf.init(backend=False)
    problems += [d for d in tf.validate() if d.startswith("error")]
    return problems
