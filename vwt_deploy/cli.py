"""The `vwt-deploy` command line. Commands parse options, build objects, call one method and report.

Heavy modules (pydantic, boto3, jinja2) are imported inside commands, so
`vwt-deploy --help` starts fast.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import click

from vwt_deploy import __version__
from vwt_deploy.errors import ConfigError, VwtError

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
            _report(
                ctx,
                f"unexpected error: {type(exc).__name__}: {exc}\n"
                "  -> rerun as `vwt-deploy --verbose <command> ...` and report it",
            )
            ctx.exit(1)


def _report(ctx: click.Context, message: str) -> None:
    root = ctx.find_root()
    if root.params.get("verbose"):
        traceback.print_exc()
    click.secho(f"Error: {message}", err=True, fg="red")


def env_option(f: Callable) -> Callable:
    f = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="override a setting of the environment file, e.g. --set api.throttle_rate_limit=20",
    )(f)
    return click.option("--env", "env_name", default="local", show_default=True, metavar="ENV", help=ENV_HELP)(f)


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="print the result as JSON")(f)


def dir_option(flag: str, name: str, help_text: str) -> Callable:
    return click.option(flag, name, type=click.Path(file_okay=False), metavar="DIR", help=help_text)


def diagram_option(f: Callable) -> Callable:
    return click.option(
        "--diagram",
        is_flag=True,
        help="with --wait: draw the path the run took, .vwt/envs/<env>/runs/<execution>.mmd (a Mermaid flowchart)",
    )(f)


def yes_option(f: Callable) -> Callable:
    return click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")(f)


class Context:
    """What every command shares: the project folder and the loaded environment."""

    def __init__(self, project_dir: str | None, verbose: bool):
        self.project_dir = project_dir
        self.verbose = verbose

    @property
    def project(self):
        from vwt_deploy.project import Project

        return Project.find(self.project_dir)

    def environment(self, name: str, overrides: tuple[str, ...] = ()):
        from vwt_deploy.config import load, parse_overrides

        return load(name, self.project.root, parse_overrides(overrides))

    def deployment(self, name: str, overrides: tuple[str, ...] = ()):
        from vwt_deploy.deploy.pipeline import Deployment

        env = self.environment(name, overrides)
        return Deployment(self.project, env, echo=click.echo)


pass_ctx = click.make_pass_decorator(Context)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vwt-deploy")
@click.option("--verbose", "-v", is_flag=True, help="show tracebacks and more detail")
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False),
    envvar="VWT_PROJECT_DIR",
    help="the project folder (default: the nearest folder up with environments/ and terraform/)",
)
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


def _echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)


# --------------------------------------------------------------------------- configuration


@main.command()
@env_option
@click.option("--skip-terraform", is_flag=True, help="check the configuration and the state machines only")
@pass_ctx
def validate(ctx: Context, env_name: str, overrides: tuple[str, ...], skip_terraform: bool) -> None:
    """Check the configuration, the rendered state machines, `terraform fmt -check` and `terraform validate`."""
    from vwt_deploy.deploy.validate import require_admin_email, validate_project

    env = ctx.environment(env_name, overrides)
    require_admin_email(env)
    click.echo(f"configuration of {env.name}: ok ({len(env.catalogue.models)} models)")
    problems = validate_project(ctx.project, env, echo=click.echo, terraform=not skip_terraform)
    if problems:
        raise VwtError("validation failed:\n  " + "\n  ".join(problems), "fix the problems listed above")
    if not skip_terraform:
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
    data["derived"] = {
        "buckets": env.bucket_names(),
        "endpoints": {m.name: env.endpoint_name(m.name) for m in env.catalogue.models},
    }
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
            answer = click.prompt(
                f"Type the environment name ({typed_name}) to confirm", default="", show_default=False
            )
            return answer.strip() == typed_name
        return click.confirm("Apply this plan?", default=False)

    return confirm


@main.command()
@env_option
@json_option
@click.option("--markdown", is_flag=True, help="print the summary as a Markdown table (a CI job's summary)")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="exit 2 when the plan has changes (0 when none), as terraform plan -detailed-exitcode: a drift check",
)
@pass_ctx
def plan(
    ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool, markdown: bool, detailed_exitcode: bool
) -> None:
    """Show what `up` would change, applying nothing."""
    from vwt_deploy.deploy.validate import require_admin_email

    deployment = ctx.deployment(env_name, overrides)
    require_admin_email(deployment.env)
    summary = deployment.plan()
    summary.discard()
    data = {
        "adds": summary.adds,
        "changes": summary.changes,
        "destroys": summary.destroys,
        "has_changes": summary.has_changes,
    }
    if markdown:
        _echo_lines(summary.markdown(f"vwt-deploy plan --env {env_name}"))
    else:
        _emit(data, as_json, lambda _: _echo_lines(summary.lines()))
    if detailed_exitcode and summary.has_changes:
        sys.exit(2)


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
    outputs = dict(result.outputs)
    if outputs.get("api_url"):
        click.echo(f"prediction API: {deployment.target.api_url(outputs)}")
    for line in deployment.target.next_steps(outputs):
        click.echo(line)


@main.command()
@env_option
@yes_option
@click.option("--destroy-data", is_flag=True, help="also destroy data and model buckets that still hold objects")
@click.option("--keep-emulator", is_flag=True, help="local: leave the (now empty) emulator running")
@pass_ctx
def down(
    ctx: Context, env_name: str, overrides: tuple[str, ...], yes: bool, destroy_data: bool, keep_emulator: bool
) -> None:
    """Destroy everything the environment's deployment created (dev/staging/prod: type its name to confirm)."""
    deployment = ctx.deployment(env_name, overrides)
    summary = deployment.down(
        _confirm_plan(yes, deployment.target.confirm_name()), destroy_data=destroy_data, keep_running=keep_emulator
    )
    if not summary.has_changes:
        click.echo(f"{env_name}: nothing to destroy.")
    else:
        click.echo(f"{env_name} is down.")


@main.command()
@env_option
@json_option
@pass_ctx
def status(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """What is deployed: outputs (API URL, buckets, endpoints, ...), the target, and per model what serves, its
    last training, scoring and drift check, and its alarms in ALARM."""
    from vwt_deploy.operate import overview

    deployment = ctx.deployment(env_name, overrides)
    data = deployment.status()
    if data.get("outputs"):
        data["overview"] = overview.overview(deployment, data["outputs"])

    def human(d: dict) -> None:
        for key, value in d.items():
            if key not in ("outputs", "overview"):
                click.echo(f"{key}: {value}")
        outputs = d.get("outputs") or {}
        if not outputs:
            click.echo("nothing deployed")
        for key, value in sorted(outputs.items()):
            click.echo(f"  {key}: {json.dumps(value) if isinstance(value, (dict, list)) else value}")
        if d.get("overview"):
            _echo_lines(overview.lines(d["overview"]))

    _emit(data, as_json, human)


@main.command()
@env_option
@yes_option
@pass_ctx
def unlock(ctx: Context, env_name: str, overrides: tuple[str, ...], yes: bool) -> None:
    """Release the Terraform state's lock left by a run that was killed (never one whose run still goes on)."""
    deployment = ctx.deployment(env_name, overrides)

    def confirm(lock) -> bool:
        click.echo(f"the state of {deployment.env.name} is locked: {lock.describe()}")
        return yes or click.confirm(
            "release it? Only if no `up` or `down` of this environment still runs", default=False
        )

    released = deployment.unlock(confirm)
    if released is None:
        click.echo(f"the Terraform state of {deployment.env.name} is not locked: nothing to release")
        return
    click.echo(f"released {released.describe()}; run `vwt-deploy up --env {deployment.env.name}` again")


@main.command()
@env_option
@pass_ctx
def bootstrap(ctx: Context, env_name: str, overrides: tuple[str, ...]) -> None:
    """Create the environment's Terraform state bucket (versioned, encrypted, private, TLS-only); on AWS, where
    delivery.github_repository is set, also the account's GitHub OIDC provider and the environment's deploy role."""
    deployment = ctx.deployment(env_name, overrides)
    role = deployment.bootstrap()  # locally this starts the emulator
    click.echo(f"state bucket {deployment.env.state_bucket_name} is ready")
    if role is not None:
        click.echo(f"deploy role {role.arn} is ready: GitHub Actions of {role.subject} may assume it")
        click.echo(f"  set the variable VWT_{deployment.env.name.upper()}_DEPLOY_ROLE_ARN to {role.arn}")


@main.group("local")
def local_group() -> None:
    """Manage the local AWS emulator (127.0.0.1)."""


def _emulator(ctx: Context):
    from vwt_deploy.emulator.manager import Emulator

    return Emulator(ctx.project.state_dir / "emulator")


@local_group.command("start")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="port on 127.0.0.1 (default: a free one the system picks)"
)
@pass_ctx
def local_start(ctx: Context, port: int) -> None:
    """Start the emulator in the background (or say where it runs)."""
    info = _emulator(ctx).start(port)
    click.echo(f"emulator running at {info.url} (pid {info.pid})")


@local_group.command("stop")
@pass_ctx
def local_stop(ctx: Context) -> None:
    """Stop the emulator. Everything deployed to it is gone with it."""
    stopped = _emulator(ctx).stop()
    click.echo("emulator stopped" if stopped else "emulator was not running")


@local_group.command("status")
@json_option
@pass_ctx
def local_status(ctx: Context, as_json: bool) -> None:
    """Is the emulator running, and where?"""
    emulator = _emulator(ctx)
    state, info = emulator.status()
    health = emulator.health(info) if state == "running" and info else None
    data = {
        "state": state,
        "url": info.url if info else None,
        "pid": info.pid if info else None,
        "iam": (health or {}).get("iam"),  # VWT_LOCAL_IAM as the emulator started: enforce, soft or off
        "log": str(emulator.log),
    }
    where = " at {url} (pid {pid}, IAM {iam})"
    _emit(data, as_json, lambda d: click.echo(f"emulator {state}" + (where.format(**d) if health else "")))
    if state == "not answering":
        ctx_exit = click.get_current_context()
        ctx_exit.exit(1)


@local_group.command("access")
@env_option
@click.option(
    "--principal",
    metavar="ROLE",
    help="only this role's (its ARN), or `deployer`: what vwt-deploy and Terraform asked for",
)
@click.option(
    "--policy",
    "as_policy",
    is_flag=True,
    help="with --principal deployer: the deploy role's policy derived from those calls (a template: "
    "${account_id}, ${region}, ${name_prefix})",
)
@json_option
@pass_ctx
def local_access(
    ctx: Context, env_name: str, overrides: tuple[str, ...], principal: str | None, as_policy: bool, as_json: bool
) -> None:
    """Per role: each action and resource it used in this emulator's run, and each permission never used."""
    from vwt_deploy.emulator.iam.report import lines
    from vwt_deploy.emulator.manager import DEPLOYER

    report = _emulator(ctx).access()
    if principal:
        report = [r for r in report if r.role == principal]
        if not report:
            raise ConfigError(
                f"the emulator recorded no call of {principal}",
                "run the framework locally first (`vwt-deploy up`, `retrain --wait`, `predict`, `down`)",
            )
    if as_policy:
        from vwt_deploy.deploy.deployrole import derive_policy
        from vwt_deploy.emulator.runtime import ACCOUNT_ID

        if principal != DEPLOYER:
            raise ConfigError("--policy derives the deploy role's policy", f"pass --principal {DEPLOYER}")
        env = ctx.environment(env_name, overrides)
        click.echo(json.dumps(derive_policy(report[0].used, env.name_prefix, ACCOUNT_ID, env.region), indent=2))
        return
    _emit([r.as_dict() for r in report], as_json, lambda _: _echo_lines(lines(report)))


@local_group.command("tick")
@env_option
@click.option("--all", "fire_all", is_flag=True, help="fire every enabled schedule, due or not")
@json_option
@pass_ctx
def local_tick(ctx: Context, env_name: str, overrides: tuple[str, ...], fire_all: bool, as_json: bool) -> None:
    """Fire the EventBridge schedules that are due (the emulator never fires them)."""
    from vwt_deploy.operate.schedules import ticker

    deployment = ctx.deployment(env_name, overrides)
    result = ticker(deployment).tick(fire_all=fire_all)
    _emit(result.as_dict(), as_json, lambda _: _echo_lines(result.lines()))


@main.group("data")
def data_group() -> None:
    """Data in the environment's data buckets."""


@main.command()
@env_option
@click.option("--model", "model", metavar="MODEL", help="render only this model (default: every model)")
@dir_option("--out", "out_dir", "write here instead of .vwt/envs/<env>/render/")
@click.option("--diagram", is_flag=True, help="also draw each definition as a Mermaid flowchart, <model>.mmd")
@pass_ctx
def render(
    ctx: Context, env_name: str, overrides: tuple[str, ...], model: str | None, out_dir: str | None, diagram: bool
) -> None:
    """Render the Step Functions definitions (and their IAM policies) from templates/, validated."""
    from vwt_deploy.build.statemachines import render as render_files

    for path in render_files(ctx.project, ctx.environment(env_name, overrides), model, out_dir, diagram):
        click.echo(str(path))


@main.command()
@env_option
@json_option
@pass_ctx
def build(ctx: Context, env_name: str, overrides: tuple[str, ...], as_json: bool) -> None:
    """Build and push the training/serving image to ECR (nothing when ECR already has its content tag)."""
    result = ctx.deployment(env_name, overrides).build_image()
    _emit(result.as_dict(), as_json, lambda r: click.echo(f"{r['message']} (tag {r['tag']})"))


@main.command()
@env_option
@click.option("--model", "model_name", required=True, metavar="MODEL", help="the catalogue model to retrain")
@click.option("--tune", is_flag=True, help="tune its hyperparameters (the model's tuning section) instead of training")
@click.option("--wait", is_flag=True, help="follow the execution: print each step, then the outcome")
@diagram_option
@json_option
@pass_ctx
def retrain(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    tune: bool,
    wait: bool,
    diagram: bool,
    as_json: bool,
) -> None:
    """Start the retraining pipeline (train or tune, gate, deploy) of a model."""
    from vwt_deploy.operate.retrain import Retrain

    _wait_for_diagram(wait, diagram)
    retrainer = Retrain(ctx.deployment(env_name, overrides))
    arn = retrainer.start(model_name, tune)
    _started(retrainer, arn, wait, as_json, diagram)


@main.command()
@env_option
@click.option("--model", "model_name", required=True, metavar="MODEL", help="the catalogue model to score with")
@click.option("--wait", is_flag=True, help="follow the execution: print each step, then the counts and results")
@diagram_option
@json_option
@pass_ctx
def score(
    ctx: Context, env_name: str, overrides: tuple[str, ...], model_name: str, wait: bool, diagram: bool, as_json: bool
) -> None:
    """Score every player of a model's scoring prefix now (the nightly batch scoring, by hand)."""
    from vwt_deploy.operate.retrain import Retrain

    _wait_for_diagram(wait, diagram)
    retrainer = Retrain(ctx.deployment(env_name, overrides))
    arn = retrainer.start_mode(model_name, "score")
    _started(retrainer, arn, wait, as_json, diagram)


@main.command("drift")
@env_option
@click.option("--model", "model_name", required=True, metavar="MODEL", help="the catalogue model to check")
@click.option("--wait", is_flag=True, help="follow the execution: print each step, then the PSI and what was done")
@diagram_option
@json_option
@pass_ctx
def drift_check(
    ctx: Context, env_name: str, overrides: tuple[str, ...], model_name: str, wait: bool, diagram: bool, as_json: bool
) -> None:
    """Check now whether a model's players have drifted from its training data (the daily drift check, by hand)."""
    from vwt_deploy.operate.retrain import Retrain

    _wait_for_diagram(wait, diagram)
    retrainer = Retrain(ctx.deployment(env_name, overrides))
    arn = retrainer.start_mode(model_name, "drift")
    _started(retrainer, arn, wait, as_json, diagram)


def _drawing(retrainer, arn: str, taken: list[str]) -> tuple[dict[str, str], list[str]]:
    """The drawing of the path a run took, as output and lines. A drawing that cannot be made is said, and the run's
    outcome (which decides the exit code) is still reported."""
    try:
        path = str(retrainer.draw(arn, taken))
    except VwtError as exc:
        return {"diagram_error": exc.message}, [f"  no drawing: {exc.message} ({exc.hint})"]
    return {"diagram": path}, [f"  the path it took, drawn: {path}"]


def _wait_for_diagram(wait: bool, diagram: bool) -> None:
    """--diagram draws the path a followed run took: without --wait there is none yet (checked before starting)."""
    if diagram and not wait:
        raise click.UsageError("--diagram draws the path the run took, so it needs --wait: add --wait")


def _started(retrainer, arn: str, wait: bool, as_json: bool, diagram: bool = False) -> None:
    """Report an execution just started: its ARN, or with --wait each state and then the outcome."""
    if not wait:
        _emit(
            {"execution_arn": arn, "status": "RUNNING"},
            as_json,
            lambda _: click.echo(f"started {arn}\n  follow it with --wait, or in the Step Functions console"),
        )
        return
    if not as_json:
        click.echo(f"started {arn}")
    _follow(retrainer, arn, as_json, diagram=diagram)


def _follow(retrainer, arn: str, as_json: bool, extra: dict[str, Any] | None = None, diagram: bool = False) -> None:
    """Print each state of a running execution, then its outcome (with `diagram`, also draw the path it took);
    exit 1 when it did not succeed."""
    taken: list[str] = []

    def entered(name: str) -> None:
        taken.append(name)
        if not as_json:
            click.echo(f"  > {name}")

    try:
        outcome = retrainer.follow(arn, on_state=entered)
    except KeyboardInterrupt:
        raise VwtError(
            f"stopped following {arn}; the execution goes on",
            "stop it with `aws stepfunctions stop-execution --execution-arn ...` if it should not",
        ) from None
    drawn, lines = _drawing(retrainer, arn, taken) if diagram else ({}, [])
    _emit({**(extra or {}), **outcome.as_dict(), **drawn}, as_json, lambda _: _echo_lines(outcome.lines() + lines))
    if not outcome.ok:
        click.get_current_context().exit(1)


@main.command()
@env_option
@click.option("--model", "model_name", required=True, help="the catalogue model to ask, e.g. gb-problem-gambling")
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False),
    help='records: a JSON list (or {"records": [...]}) or a CSV file with a header; each with user_id',
)
@click.option(
    "--sample",
    "sample",
    type=int,
    metavar="N",
    help="instead of --input: N records drawn from the model's data set (a smoke test; not on prod)",
)
@click.option("--seed", type=int, help="with --sample: which records are drawn (default 0)")
@click.option(
    "--operator",
    "operator_id",
    metavar="ID",
    help="ask with this operator's API key: its players' events reach its feed (default: the catalogue's first)",
)
@click.option(
    "--token",
    envvar="VWT_TOKEN",
    metavar="JWT",
    help="ask as a player's device: this bearer token of the operator's identity provider, on the device route "
    "(api.device_tokens), instead of the operator's API key (default: $VWT_TOKEN)",
)
@json_option
@pass_ctx
def predict(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    input_path: str | None,
    sample: int | None,
    seed: int | None,
    operator_id: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Get predictions from the deployed API, with an operator's API key, or as a player's device with a token."""
    from pathlib import Path

    from vwt_deploy.operate.predict import (
        PredictionClient,
        api_key_value,
        check_sample_size,
        format_table,
        read_records,
        refuse_sample_on_prod,
        sample_records,
    )

    if (input_path is None) == (sample is None):
        raise ConfigError(
            "give either --input FILE (your records) or --sample N (records drawn from the model's "
            "data set)" + (", not both" if sample is not None else "")
        )
    if seed is not None and sample is None:
        raise ConfigError("--seed goes with --sample", "drop --seed, or add --sample N")
    if sample is not None:
        check_sample_size(sample)
    deployment = ctx.deployment(env_name, overrides)
    env = deployment.env
    if token and not env.api.device_tokens.enabled:
        raise ConfigError(
            f"{env.name} takes no device tokens, so --token has no route to call",
            "set api.device_tokens.enabled: true (and the operators' identity providers), or drop --token",
        )
    model = env.catalogue.model(model_name)
    operator = env.catalogue.operator(operator_id) if operator_id else env.catalogue.operators[0]
    types = {f.name: f.type for f in model.features}
    if input_path is not None:
        records = read_records(Path(input_path), types)
        deployment.require_deployed()  # the account guard, as for every command that touches AWS
    else:
        assert sample is not None  # exactly one of --input and --sample, checked above
        refuse_sample_on_prod(env)
        target = deployment.require_deployed()
        records = sample_records(
            target.client("s3"),
            env.data_bucket_name(model.data_bucket),
            model.data_prefix,
            types,
            sample,
            seed or 0,
            env.name,
        )
        if len(records) < sample:
            click.echo(f"the data set holds {len(records)} records: predicting them all", err=True)
    outputs = deployment.outputs()
    if token:
        client = PredictionClient(deployment.target.api_url(outputs), token=token, operator=operator.id)
    else:
        key = api_key_value(
            outputs.get("api_key_ids") or {}, operator.id, env.region, deployment.target.client("apigateway")
        )
        client = PredictionClient(deployment.target.api_url(outputs), key)
    result = client.predict(model.name, records, chunk_size=env.api.max_records)
    _emit(result, as_json, lambda r: _echo_lines(format_table(r)))


@data_group.command("sample")
@env_option
@click.option("--rows", type=int, default=5000, show_default=True, help="rows per data bucket (1 to 1,000,000)")
@click.option("--seed", type=int, default=0, show_default=True, help="the same seed writes the same bytes")
@click.option(
    "--bucket",
    "buckets",
    multiple=True,
    metavar="NAME",
    help="only this data bucket (its catalogue key or bucket name); repeat for more (default: all)",
)
@click.option(
    "--shift",
    is_flag=True,
    help="a drifted population: every player's latent risk 1.5 standard deviations higher (to see drift checks fire)",
)
@json_option
@pass_ctx
def data_sample(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    rows: int,
    seed: int,
    buckets: tuple[str, ...],
    shift: bool,
    as_json: bool,
) -> None:
    """Write a synthetic data set (documented, seeded) into the data buckets, under each model's data prefix.

    Never on prod. The columns, how they are drawn and how the labels are made: docs/operations.md, "Synthetic data"
    (and vwt_deploy/sample.py).
    """
    from vwt_deploy.operate.sample import bucket_keys, check_size, refuse_prod, write_samples

    deployment = ctx.deployment(env_name, overrides)
    env = deployment.env
    refuse_prod(env)  # the arguments are checked before anything touches an account
    bucket_keys(env, buckets)
    check_size(rows, seed)
    target = deployment.require_deployed()
    written = write_samples(env, target.client("s3"), buckets, rows, seed, shift)

    def human(items: list[dict]) -> None:
        for w in items:
            if not w["schema_key"]:  # the players batch scoring scores: no header, no labels
                click.echo(f"wrote s3://{w['bucket']}/{w['key']}: {w['rows']:,} players to score ({w['encryption']})")
                continue
            labels = ", ".join(f"{k} {v:g}" for k, v in w["labels"].items())
            click.echo(
                f"wrote s3://{w['bucket']}/{w['key']}: {w['rows']:,} rows, {w['bytes']:,} bytes "
                f"({w['encryption']}), with {w['schema_key']}; {labels}"
            )

    _emit([w.as_dict() for w in written], as_json, human)


@main.group("models")
def models_group() -> None:
    """A model's versions in the registry: list, show, approve, reject, roll back."""


def model_option(f: Callable) -> Callable:
    return click.option("--model", "model_name", required=True, metavar="MODEL", help="the catalogue model")(f)


def version_option(required: bool, help_text: str) -> Callable:
    return click.option(
        "--version", "number", type=click.IntRange(min=1), required=required, metavar="N", help=help_text
    )


def wait_option(f: Callable) -> Callable:
    return click.option("--wait", is_flag=True, help="follow the deployment it starts, then print the outcome")(f)


def reason_option(f: Callable) -> Callable:
    return click.option("--reason", metavar="TEXT", help="why: recorded on the version with who decided and when")(f)


def _registry(ctx: Context, env_name: str, overrides: tuple[str, ...]):
    from vwt_deploy.operate.models import Registry

    return Registry(ctx.deployment(env_name, overrides))


@models_group.command("list")
@env_option
@model_option
@json_option
@pass_ctx
def models_list(ctx: Context, env_name: str, overrides: tuple[str, ...], model_name: str, as_json: bool) -> None:
    """The model's versions, newest first: status, numbers, the gate's decision, and which one serves."""
    versions = _registry(ctx, env_name, overrides).versions(model_name)

    def human(rows: list[dict]) -> None:
        if not rows:
            click.echo(f"{model_name} has no registered versions yet (the baseline serves)")
        for r in rows:
            click.echo(
                f"{'*' if r['serving'] else ' '} {r['version']:>4}  {r['status']:<22} {r['metric']} {r['value']} "
                f"(champion {r['champion_value']})  gate: {r['gate_decision']}  {r['created']}"
            )

    _emit([v.summary() for v in versions], as_json, human)


@models_group.command("show")
@env_option
@model_option
@version_option(False, "the version (default: the newest)")
@dir_option("--report", "report_dir", "also fetch its evaluation report (HTML, pictures, JSON) into DIR/report/")
@json_option
@pass_ctx
def models_show(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    number: int | None,
    report_dir: str | None,
    as_json: bool,
) -> None:
    """A version's lineage, metrics, the gate's decision, who or what approved it, and its evaluation report."""
    from pathlib import Path

    registry = _registry(ctx, env_name, overrides)
    version = registry.version(model_name, number)
    data = version.as_dict()
    lines = version.lines()
    if report_dir:
        page = registry.fetch_report(version, Path(report_dir))
        data["report_page"] = str(page)
        lines.append(f"  report fetched: {page}")
    _emit(data, as_json, lambda _: _echo_lines(lines))


@models_group.command("approve")
@env_option
@model_option
@version_option(True, "the version to approve")
@reason_option
@wait_option
@json_option
@pass_ctx
def models_approve(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    number: int,
    reason: str | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Approve a version that passed the gate: it is deployed (the registry's event starts the deployment)."""
    from datetime import datetime, timedelta, timezone

    from vwt_deploy.operate.retrain import Retrain

    registry = _registry(ctx, env_name, overrides)
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    version, execution = registry.approve(model_name, number, reason)
    if not wait:
        data = {**version.summary(), "approval": version.approved_by, "execution_arn": execution}
        started = f"deployment started: {execution}" if execution else "the registry's event starts its deployment"
        _emit(data, as_json, lambda _: click.echo(f"approved version {number} of {model_name}; {started}"))
        return
    execution = execution or registry.deployment_started_by_event(model_name, version.arn, since)
    if not as_json:
        click.echo(f"approved version {number} of {model_name}; deploying: {execution}")
    _follow(Retrain(registry.deployment), execution, as_json, {"version": number})


@models_group.command("reject")
@env_option
@model_option
@version_option(True, "the version to reject")
@reason_option
@json_option
@pass_ctx
def models_reject(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    number: int,
    reason: str | None,
    as_json: bool,
) -> None:
    """Reject a version: it is never deployed (a serving version cannot be rejected; roll back first)."""
    version = _registry(ctx, env_name, overrides).reject(model_name, number, reason)
    _emit(
        {**version.summary(), "approval": version.approved_by},
        as_json,
        lambda _: click.echo(f"rejected version {number} of {model_name}: {version.approved_by}"),
    )


@models_group.command("rollback")
@env_option
@model_option
@version_option(False, "the approved version to return to (default: the newest approved one older than the serving)")
@wait_option
@json_option
@pass_ctx
def models_rollback(
    ctx: Context,
    env_name: str,
    overrides: tuple[str, ...],
    model_name: str,
    number: int | None,
    wait: bool,
    as_json: bool,
) -> None:
    """Deploy an earlier approved version through the same zero-downtime endpoint update."""
    from vwt_deploy.operate.retrain import Retrain

    registry = _registry(ctx, env_name, overrides)
    target, execution = registry.rollback(model_name, number)
    if not wait:
        _emit(
            {**target.summary(), "execution_arn": execution},
            as_json,
            lambda _: click.echo(f"rolling back {model_name} to version {target.number}: {execution}"),
        )
        return
    if not as_json:
        click.echo(f"rolling back {model_name} to version {target.number}: {execution}")
    _follow(Retrain(registry.deployment), execution, as_json, {"version": target.number})


if __name__ == "__main__":  # pragma: no cover
    main()
