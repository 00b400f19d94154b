"""The process seam and the terraform wrapper."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.helpers.fakes import FakeRunner, show_json
from vwt_deploy.deploy.terraform import PlanSummary, Terraform, cli_config_text, find_mirror, is_lock_error
from vwt_deploy.errors import ProcessError, VwtError
from vwt_deploy.process import Runner


def test_runner_streams_lines_and_returns_output() -> None:
    seen: list[str] = []
    res = Runner(sink=seen.append).run([sys.executable, "-c", "print('one'); print('two')"])
    assert res.returncode == 0 and res.output == "one\ntwo\n"
    assert seen == ["one\n", "two\n"]


def test_runner_failure_carries_command_and_tail() -> None:
    script = "import sys\nfor i in range(100): print(f'line {i}')\nsys.exit(3)"
    with pytest.raises(ProcessError) as exc:
        Runner(sink=lambda _: None).run([sys.executable, "-c", script], hint="do this")
    err = exc.value
    assert err.returncode == 3 and err.argv[0] == sys.executable
    assert "line 99" in err.tail and "line 0\n" not in err.tail  # only the tail
    assert "exited with 3" in str(err) and "do this" in str(err)


def test_runner_missing_binary() -> None:
    with pytest.raises(ProcessError) as exc:
        Runner().run(["definitely-not-a-binary-vwt"])
    assert exc.value.returncode is None and "not on PATH" in str(exc.value)


def test_runner_accepts_listed_exit_codes() -> None:
    res = Runner(sink=lambda _: None).run([sys.executable, "-c", "raise SystemExit(2)"], ok_codes=(0, 2))
    assert res.returncode == 2


def tf(runner: FakeRunner, tmp_path: Path) -> Terraform:
    return Terraform(tmp_path / "terraform", tmp_path / "data", runner, {"EXTRA": "1"}, binary=sys.executable)


def test_init_passes_backend_config_as_argv(tmp_path: Path) -> None:
    runner = FakeRunner()
    tf(runner, tmp_path).init({"bucket": "b", "use_lockfile": True, "encrypt": False})
    argv = runner.calls[0]
    assert argv[1] == f"-chdir={tmp_path / 'terraform'}" and argv[2] == "init"
    assert "-input=false" in argv and "-backend-config=bucket=b" in argv
    assert "-backend-config=use_lockfile=true" in argv and "-backend-config=encrypt=false" in argv
    env = runner.envs[0]
    assert env["TF_IN_AUTOMATION"] == "1" and env["TF_DATA_DIR"] == str((tmp_path / "data").resolve())
    assert env["EXTRA"] == "1"


def test_plan_saves_and_summarises(tmp_path: Path) -> None:
    runner = FakeRunner(
        {
            "plan": (2, "Plan: 3 to add"),
            "show": (
                0,
                show_json(
                    ("aws_s3_bucket", ["create"]),
                    ("aws_s3_bucket", ["create"]),
                    ("aws_iam_role", ["update"]),
                    ("aws_sagemaker_model", ["delete", "create"]),
                ),
            ),
        }
    )
    summary = tf(runner, tmp_path).plan(tmp_path / "vars.json", tmp_path / "out.tfplan")
    plan_argv = runner.calls[0]
    assert "-detailed-exitcode" in plan_argv and f"-out={(tmp_path / 'out.tfplan').resolve()}" in plan_argv
    assert summary.adds == {"aws_s3_bucket": 2, "aws_sagemaker_model": 1}
    assert summary.changes == {"aws_iam_role": 1} and summary.destroys == {"aws_sagemaker_model": 1}
    assert summary.totals == (3, 1, 1)
    assert summary.lines()[0] == "Plan: 3 to add, 1 to change, 1 to destroy."


def test_plan_without_changes_skips_show(tmp_path: Path) -> None:
    runner = FakeRunner({"plan": (0, "No changes.")})
    summary = tf(runner, tmp_path).plan(tmp_path / "v.json", tmp_path / "p")
    assert not summary.has_changes and runner.subcommands() == ["plan"]
    assert "No changes" in summary.lines()[0]


def test_destroy_plan(tmp_path: Path) -> None:
    runner = FakeRunner({"plan": (0, "")})
    tf(runner, tmp_path).plan(tmp_path / "v.json", tmp_path / "p", destroy=True)
    assert "-destroy" in runner.calls[0]


def test_apply_uses_the_saved_plan(tmp_path: Path) -> None:
    runner = FakeRunner()
    tf(runner, tmp_path).apply(tmp_path / "p.tfplan")
    assert runner.calls[0][-1] == str((tmp_path / "p.tfplan").resolve())
    assert "-auto-approve" in runner.calls[0]


def test_output_json_is_parsed(tmp_path: Path) -> None:
    runner = FakeRunner({"output": (0, '{"api_url": {"value": "http://x", "type": "string", "sensitive": false}}')})
    assert tf(runner, tmp_path).output() == {"api_url": "http://x"}


def test_validate_diagnostics(tmp_path: Path) -> None:
    doc = (
        '{"valid": false, "diagnostics": [{"severity": "error", "summary": "Unsupported argument", '
        '"detail": "x", "range": {"filename": "main.tf", "start": {"line": 3}}}]}'
    )
    runner = FakeRunner({"validate": (1, doc)})
    assert tf(runner, tmp_path).validate() == ["error: main.tf:3: Unsupported argument: x"]


def test_typed_error_on_failure(tmp_path: Path) -> None:
    runner = FakeRunner({"apply": (1, "Error: something broke\n")})
    with pytest.raises(ProcessError) as exc:
        tf(runner, tmp_path).apply(tmp_path / "p")
    assert "something broke" in exc.value.tail


def test_missing_terraform_binary(tmp_path: Path) -> None:
    t = Terraform(tmp_path, tmp_path / "d", FakeRunner(), binary="terraform-missing-vwt")
    with pytest.raises(VwtError, match="terraform is not on PATH"):
        t.version()


def test_lock_error_detection() -> None:
    err = ProcessError(["terraform", "plan"], 1, "Error: Error acquiring the state lock\n")
    assert is_lock_error(err)
    assert not is_lock_error(ProcessError(["terraform", "plan"], 1, "Error: other"))


def test_summary_ignores_data_sources() -> None:
    doc = {"resource_changes": [{"type": "aws_iam_policy_document", "mode": "data", "change": {"actions": ["read"]}}]}
    assert not PlanSummary.from_show_json(doc).has_changes


def test_mirror_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.terraform.io/hashicorp/aws").mkdir(parents=True)
    monkeypatch.setenv("VWT_TF_PLUGIN_MIRROR", str(tmp_path))
    assert find_mirror() == tmp_path
    text = cli_config_text(tmp_path, tmp_path / "cache")
    assert f'path    = "{tmp_path}"' in text and "plugin_cache_dir" in text and "direct" in text
    monkeypatch.setenv("VWT_TF_PLUGIN_MIRROR", str(tmp_path / "nope"))
    with pytest.raises(VwtError, match="holds no registry.terraform.io"):
        find_mirror()


def test_no_mirror_means_registry(tmp_path: Path) -> None:
    text = cli_config_text(None, tmp_path)
    assert "provider_installation" not in text


def test_output_only_changes_count_as_changes() -> None:
    doc = {
        "resource_changes": [],
        "output_changes": {"api_url": {"actions": ["create"]}, "same": {"actions": ["no-op"]}},
    }
    summary = PlanSummary.from_show_json(doc)
    assert summary.has_changes and summary.totals == (0, 0, 0)
    assert "Outputs change too." in summary.lines()[0]
    assert not PlanSummary.from_show_json({"output_changes": {"x": {"actions": ["no-op"]}}}).has_changes


def test_the_plan_summary_as_markdown_has_a_row_per_type_and_action() -> None:
    summary = PlanSummary(adds={"aws_s3_bucket": 2}, changes={"aws_lambda_function": 1}, imports={"aws_iam_role": 3})
    assert summary.markdown("vwt-deploy plan --env dev") == [
        "### vwt-deploy plan --env dev",
        "",
        "Plan: 3 to import, 2 to add, 1 to change, 0 to destroy.",
        "",
        "| action | resource type | count |",
        "|---|---|---:|",
        "| import | `aws_iam_role` | 3 |",
        "| add | `aws_s3_bucket` | 2 |",
        "| change | `aws_lambda_function` | 1 |",
    ]
    assert PlanSummary().markdown("t")[-1] == "No changes: the infrastructure matches the configuration."
