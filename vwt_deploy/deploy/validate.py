"""`vwt-deploy validate`: the configuration (already loaded), `terraform fmt -check` and `terraform validate`."""

from __future__ import annotations

from collections.abc import Callable

from vwt_deploy.config import Environment
from vwt_deploy.deploy.terraform import Terraform
from vwt_deploy.errors import ConfigError
from vwt_deploy.process import Runner
from vwt_deploy.project import Project

# environments whose alarms and approval requests must reach a person: no admin_email, no deployment
NOTIFIED_ENVIRONMENTS = ("staging", "prod")


def require_admin_email(env: Environment) -> None:
    """Refuse staging and prod without admin_email: their alarms and pending approvals would reach nobody.

    Checked by validate, plan and up, not when the configuration is loaded: config show, rendering and the
    tests read staging and prod without an address, and down must work whatever the configuration."""
    if env.name in NOTIFIED_ENVIRONMENTS and not env.admin_email:
        raise ConfigError(
            f"refusing {env.name} without admin_email: its alarms and approval requests would reach nobody",
            f"set admin_email: <address> in environments/{env.name}.yaml (or pass --set admin_email=<address>); "
            "the address must confirm the SNS subscription e-mail after the first up",
        )


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

    require_admin_email(env)
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
