"""The `vwt-deploy` command line. Commands parse options, build objects, call one method and report.

Heavy modules (pydantic, boto3, jinja2) are imported inside commands, so
`vwt-deploy --help` starts fast.
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Callable

import click

from . import __version__
from .errors import ConfigError, NotAvailableError, VwtError

ENV_HELP = "environment: local (the embedded emulator, default), dev, staging or prod"


class Group(click.Group):
    """Turns every error into one readable message and an exit code; --verbose adds the traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except VwtError as exc:
            _report(ctx, str(exc))
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: say so plainly, keep the traceback behind --verbose
            _report(ctx, f"unexpected error: {type(exc).__name__}: {exc}\n  -> rerun with --verbose and report it")
            ctx.exit(1)


def _report(ctx: click.Context, message: str) -> None:
    root = ctx.find_root()
    if root.params.get("verbose"):
        traceback.print_exc()
    click.secho(f"Error: {message}", err=True, fg="red")


def env_option(f: Callable) -> Callable:
    f = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="override a setting of the environment file, e.g. --set api.throttle_rate_limit=20")(f)
    return click.option("--env", "env_name", default="local", show_default=True, metavar="ENV", help=ENV_HELP)(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="print the result as JSON")(f)


def yes_option(f: Callable) -> Callable:
    return click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")(f)


class Context:
    """What every command shares: the project folder and the loaded environment."""

    def __init__(self, project_dir: str | None, verbose: bool):
        self.project_dir = project_dir
        self.verbose = verbose

    @property
    def project(self):
        from .project import Project

        return Project.find(self.project_dir)

    def environment(self, name: str, overrides: tuple[str, ...] = ()):
        from .config import load, parse_overrides

        return load(name, self.project.root, parse_overrides(overrides))

    def deployment(self, name: str, overrides: tuple[str, ...] = ()):
        from .deploy import Deployment

        env = self.environment(name, overrides)
        return Deployment(self.project, env, echo=click.echo)


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vwt-deploy")
@click.option("--verbose", "-v", is_flag=True, help="show tracebacks and more detail")
@click.option("--project-dir", type=click.Path(file_okay=False), envvar="VWT_PROJECT_DIR",
              help="the project folder (default: the nearest folder up with environments/ and terraform/)")
@click.pass_context
def main(ctx: click.Context, verbose: bool, project_dir: str | None) -> None:
    """Stand up, run and tear down the VWT machine-learning framework on AWS.

    `--env local` (the default) deploys the same Terraform to an AWS emulator on
    127.0.0.1: no AWS account needed.
    """
    ctx.obj = Context(project_dir, verbose)


def _emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        human(data)


# --------------------------------------------------------------------------- configuration


@main.command()
@env_option
@click.option("--skip-terraform", is_flag=True, help="check the configuration only")
@pass_ctx
def validate(ctx: Context, env_name: str, overrides: tuple[str, ...], skip_terraform: bool) -> None:
    """Check the configuration, then `terraform fmt -check` and `terraform validate`."""
    from .validate import validate_project

    env = ctx.environment(env_name, overrides)
    click.echo(f"configuration of {env.name}: ok ({len(env.catalogue.models)} models)")
    if skip_terraform:
        return
    problems = validate_project(ctx.project, env, echo=click.echo)
    if problems:
        raise VwtError("validation failed:\n  " + "\n  ".join(problems), "fix the problems listed above")
    click.echo("terraform fmt and validate: ok")


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@env_option
@json_option
@pass_ctx
def config_show(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Show the environment's configuration, with every default filled in."""
    env = ctx.environment(env_name, overrides)
    data = env.model_dump(mode="json")
    data["derived"] = {"buckets": env.bucket_names(),
                       "endpoints": {m.name: env.endpoint_name(m.name) for m in env.catalogue.models}}
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    import yaml

    click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())


# --------------------------------------------------------------------------- deploy


def _confirm_plan(yes: bool, typed_name: str | None = None) -> Callable:
    def confirm(plan) -> bool:
        for line in plan.lines():
            click.echo(line)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise ConfigError("confirmation needed but there is no terminal to ask", "pass --yes to proceed")
        if typed_name:
            answer = click.prompt(f"Type the environment name ({typed_name}) to confirm", default="", show_default=False)
            return answer.strip() == typed_name
        return click.confirm("Apply this plan?", default=False)

    return confirm


@main.command()
@env_option
@json_option
@pass_ctx
def plan(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Show what `up` would change, applying nothing."""
    deployment = ctx.deployment(env_name, overrides)
    summary = deployment.plan()
    if summary.path:
        summary.path.unlink(missing_ok=True)
    data = {"adds": summary.adds, "changes": summary.changes, "destroys": summary.destroys}
    _emit(data, as_json, lambda _: [click.echo(line) for line in summary.lines()])


@main.command()
@env_option
@yes_option
@pass_ctx
def up(ctx: Context, env_name: str, overrides: tuple[str, ...], yes: bool) -> None:
    """Deploy the framework: plan, show the summary, confirm, apply."""
    deployment = ctx.deployment(env_name, overrides)
    result = deployment.up(_confirm_plan(yes))
    if not result.applied:
        click.echo(f"{env_name} is up to date: no changes, nothing applied.")
    else:
        click.echo(f"{env_name} is up.")
    api = result.outputs.get("api_url")
    if api:
        click.echo(f"prediction API: {api}")


@main.command()
@env_option
@yes_option
@click.option("--destroy-data", is_flag=True, help="also destroy data and model buckets that still hold objects")
@pass_ctx
def down(ctx: Context, env_name: str, overrides: tuple[str, ...], yes: bool, destroy_data: bool) -> None:
    """Destroy everything the environment's deployment created."""
    deployment = ctx.deployment(env_name, overrides)
    typed = None if deployment.env.is_local else deployment.env.name
    summary = deployment.down(_confirm_plan(yes, typed))
    if not summary.has_changes:
        click.echo(f"{env_name}: nothing to destroy.")
    else:
        click.echo(f"{env_name} is down.")


@main.command()
@env_option
@json_option
@pass_ctx
def status(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """What is deployed: outputs (API URL, buckets, endpoints, ...) and the target."""
    data = ctx.deployment(env_name, overrides).status()

    def human(d: dict) -> None:
        for key, value in d.items():
            if key != "outputs":
                click.echo(f"{key}: {value}")
        outputs = d.get("outputs") or {}
        if not outputs:
            click.echo("nothing deployed")
        for key, value in sorted(outputs.items()):
            click.echo(f"  {key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")

    _emit(data, as_json, human)


# --------------------------------------------------------------------------- later stages


def _later(what: str, issue: str) -> Callable:
    def command(**_: Any) -> None:
        raise NotAvailableError(f"{what} is not available yet", f"it arrives with the {issue} issue")

    return command


def _stub(group: click.Group, name: str, help_text: str, issue: str, env: bool = True) -> None:
    cmd = _later(f"`vwt-deploy {group.name + ' ' if group is not main else ''}{name}`", issue)
    if env:
        cmd = env_option(cmd)
    group.command(name, help=f"{help_text} (not available yet)")(cmd)


@main.group("local")
def local_group() -> None:
    """Manage the local AWS emulator (127.0.0.1)."""


@main.group("data")
def data_group() -> None:
    """Data in the environment's data buckets."""


_stub(main, "render", "Render the Step Functions definitions from templates/.", "retraining pipeline")
@main.command()
@env_option
@json_option
@pass_ctx
def build(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Build and push the training/serving image to ECR (nothing when ECR already has its content tag)."""
    from .image import ImageBuilder

    result = ImageBuilder(ctx.project, ctx.environment(env_name, overrides), echo=click.echo).build()
    _emit(result.as_dict(), as_json, lambda r: click.echo(f"{r['message']} (tag {r['tag']})"))


_stub(main, "bootstrap", "Create the Terraform state bucket of an environment.", "embedded default")
_stub(main, "retrain", "Start the retraining pipeline of a model.", "local runtime")
_stub(main, "predict", "Get predictions from the deployed API.", "prediction pipeline")
for _name, _help in (("start", "Start the emulator."), ("stop", "Stop the emulator."), ("status", "Is the emulator running?")):
    _stub(local_group, _name, _help, "embedded default", env=False)
_stub(data_group, "sample", "Write a synthetic data set into the data buckets.", "local runtime")


if __name__ == "__main__":  # pragma: no cover
    main()
