"""Rendering each model's state machine: what it calls, with what, and that it is the same every time."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.helpers import model_entry
from vwt_deploy.asl import check_policy, validate_definition
from vwt_deploy.build.statemachines import TEMPLATE_VARS, artifacts, job_prefix, render, render_definition
from vwt_deploy.config import load
from vwt_model.evaluate import champion_name
from vwt_model.spec import METRICS, parse_risk_groups

MODELS = ("bid-problem-gambling", "gb-problem-gambling", "gb-marketing", "gb-unusual-behaviour")


def _states(definition):
    return definition["States"]


def _render(project, env_name, model):
    env = load(env_name, project.root)
    return env, env.catalogue.model(model), render_definition(env, env.catalogue.model(model), project.templates_dir)


@pytest.mark.parametrize("env_name", ["local", "prod"])
@pytest.mark.parametrize("model", MODELS)
def test_every_model_renders_valid_with_a_matching_policy(project, tmp_path, env_name, model):
    env = load(env_name, project.root)
    paths = render(project, env, model, tmp_path)
    assert [p.name for p in paths] == [f"{model}.asl.json", f"{model}.policy.json"]
    text = paths[0].read_text()
    definition = json.loads(text)
    assert validate_definition(text) == []
    assert check_policy(definition, json.loads(paths[1].read_text())) == []
    # only the contract's template variables, and no template directives
    for path in paths:
        found = set(re.findall(r"\$\{([^}]*)\}", path.read_text()))
        assert found <= set(TEMPLATE_VARS), found - set(TEMPLATE_VARS)
        assert "%{" not in path.read_text()


def test_train_is_a_training_job_and_tuning_is_an_alternative_not_a_follow_up(project):
    env, model, d = _render(project, "dev", "gb-marketing")
    states = _states(d)
    assert states["Train"]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert states["Tune"]["Resource"] == "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync"
    # the seed's transform after training is gone; batch scoring is its own branch (mode score)
    assert [n for n, s in states.items() if "createTransformJob" in json.dumps(s)] == ["Score"]
    assert states["Train"]["Next"] == "CheckMetric"  # the seed tuned after training
    assert states["ChooseMode"]["Choices"] == [{"Variable": "$.mode", "StringEquals": "tune", "Next": "Tune"}]
    assert states["Tune"]["Next"] == "DescribeBestTrainingJob"
    assert states["DescribeBestTrainingJob"]["Parameters"] == {"TrainingJobName.$": "$.tuning.best_training_job"}
    assert states["DescribeBestTrainingJob"]["Next"] == "CheckMetric"


def test_training_job_parameters_come_from_the_configuration(project):
    env, model, d = _render(project, "dev", "bid-problem-gambling")
    train = _states(d)["Train"]["Parameters"]
    assert train["AlgorithmSpecification"]["TrainingImage"] == "${image_uri}"
    hp = dict(train["HyperParameters"])
    # the catalogue's risk groups, for the evaluation report's per-group numbers (vwt_model.spec parses them)
    groups = [{"name": g.name, "min_score": g.min_score} for g in env.catalogue.intervention.risk_groups]
    assert parse_risk_groups(hp.pop("risk_groups")) == groups
    assert hp == model.training_hyperparameters() and hp["no_trees"] == "10"
    registered = _states(d)["Register"]["Parameters"]["CustomerMetadataProperties"]
    assert "hp.risk_groups.$" not in registered and "hp.no_trees.$" in registered  # JSON is no metadata value
    assert train["RoleArn"] == "${sagemaker_role_arn}"
    assert train["EnableNetworkIsolation"] is True and train["EnableInterContainerTrafficEncryption"] is True
    assert train["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{env.model_bucket_name(model.name)}/training/",
        "KmsKeyId": "${kms_key_arn}",
    }
    assert train["ResourceConfig"]["VolumeKmsKeyId"] == "${kms_key_arn}"
    assert train["ResourceConfig"]["InstanceType.$"] == "$.size.instance_type"
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": env.training.max_runtime_seconds}
    assert "VpcConfig" not in train  # none configured
    assert {"Key": "model", "Value": model.name} in train["Tags"]
    assert {"Key": "environment", "Value": "dev"} in train["Tags"]
    # the input channel is the model's data prefix (or its labelled copy)
    channel = train["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.data.s3_uri"
    start = _states(d)["Start"]["Parameters"]
    assert start["data"]["s3_uri"] == f"s3://{env.data_bucket_name(model.data_bucket)}/{model.data_prefix}"
    # the feature schema (written from the catalogue, uploaded by Terraform) is the `schema` channel
    schema = train["InputDataConfig"][1]
    assert schema["ChannelName"] == "schema"
    assert schema["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{env.model_bucket_name(model.name)}/schema/"


@pytest.mark.parametrize("model", MODELS)
def test_metric_definitions_match_what_the_container_logs(project, model):
    env, m, d = _render(project, "dev", model)
    definitions = _states(d)["Train"]["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]
    names = [x["Name"] for x in definitions]
    assert names == [n for name in METRICS[m.task] for n in (name, champion_name(name))] + ["champion:scored"]
    for x in definitions:
        # the challenger's regex never reads the champion's line, which the job logs too
        other = "champion:" + x["Name"].split(":", 1)[1] if x["Name"].startswith("validation:") else None
        if other:
            assert re.search(x["Regex"], f"{other}=0.5\n") is None
        logged = f"epoch 1\n{x['Name']}=0.8123\nother:metric=5\n"
        assert re.search(x["Regex"], logged).group(1) == "0.8123"
        assert re.search(x["Regex"], "validationXauc=1") is None


def test_tuning_job_uses_the_ranges_objective_and_limits(project):
    env, model, d = _render(project, "dev", "gb-marketing")
    tune = _states(d)["Tune"]["Parameters"]
    config = tune["HyperParameterTuningJobConfig"]
    assert config["HyperParameterTuningJobObjective"] == {"MetricName": "validation:rmse", "Type": "Minimize"}
    assert config["Strategy"] == "Bayesian"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2}
    assert config["ParameterRanges"]["IntegerParameterRanges"] == [
        {"Name": "no_trees", "MinValue": "50", "MaxValue": "400", "ScalingType": "Auto"}
    ]
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.01", "MaxValue": "0.3", "ScalingType": "Logarithmic"}
    ]
    static = tune["TrainingJobDefinition"]["StaticHyperParameters"]
    assert "no_trees" not in static and "learning_rate" not in static
    assert static["max_depth"] == "3" and static["algorithm"] == "gradient_boosting"
    assert tune["TrainingJobDefinition"]["EnableNetworkIsolation"] is True
    # tuning job names are at most 32 characters: <prefix>-<8 hex>
    assert len(job_prefix(env, model.name)) + 9 <= 32


def test_a_model_without_tuning_accepts_only_train(project_copy):
    def drop_tuning(data):
        m = model_entry(data, "gb-problem-gambling")
        del m["tuning"]

    project = project_copy(models=drop_tuning)
    env, model, d = _render(project, "local", "gb-problem-gambling")
    assert "Tune" not in _states(d)
    modes = _states(d)["CheckInput"]["Choices"][0]["And"][3]["Or"]
    assert modes == [{"Variable": "$.mode", "StringEquals": "train"}]
    assert validate_definition(d) == []


def test_gate_direction_follows_the_metric_and_compares_with_the_champion(project):
    _, _, auc = _render(project, "dev", "gb-problem-gambling")
    _, _, rmse = _render(project, "dev", "gb-marketing")
    unscored = _states(auc)["Gate"]["Choices"][0]
    assert unscored == {"Variable": "$.training.champion_scored[0]", "NumericEquals": 0, "Next": "GateUnscoredChampion"}
    higher = _states(auc)["Gate"]["Choices"][1]
    lower = _states(rmse)["Gate"]["Choices"][1]
    assert higher["NumericGreaterThanEqualsPath"] == "$.training.champion_values[0]"
    assert lower["NumericLessThanEqualsPath"] == "$.training.champion_values[0]"
    extract = _states(auc)["ExtractMetric"]["Parameters"]
    assert "'validation:auc'" in extract["metric_values.$"] and "'champion:auc'" in extract["champion_values.$"]
    read = _states(auc)["ReadChampion"]
    assert read["Resource"] == "arn:aws:states:::aws-sdk:ssm:getParameter"
    assert read["Parameters"]["Name"] == "${current_model_parameter_prefix}/gb-problem-gambling"
    # the champion's metrics are defined for the training job, apart from the challenger's
    names = [d["Name"] for d in _states(auc)["Train"]["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]]
    assert {"validation:auc", "champion:auc", "champion:scored"} <= set(names)
    assert _states(auc)["GateRefused"]["Next"] == "RegisterRejected"
    assert _states(auc)["RegisterRejected"]["Parameters"]["ModelApprovalStatus"] == "Rejected"
    assert _states(auc)["Kept"]["Type"] == "Succeed"


def test_the_unsupervised_model_trains_on_its_anchor_and_gates_on_anchor_auc(project):
    env, model, d = _render(project, "dev", "gb-unusual-behaviour")
    train = _states(d)["Train"]["Parameters"]
    assert train["HyperParameters"] == {
        "algorithm": "isolation_forest",
        "anchor": "self_excluded",
        "contamination": "0.05",
        "no_trees": "100",
        "risk_groups": train["HyperParameters"]["risk_groups"],  # the catalogue's (checked above)
        "task": "unsupervised",
    }
    names = [x["Name"] for x in train["AlgorithmSpecification"]["MetricDefinitions"]]
    assert {"validation:anchor_auc", "champion:anchor_auc", "validation:anomaly_rate", "champion:scored"} <= set(names)
    extract = _states(d)["ExtractMetric"]["Parameters"]
    assert "'validation:anchor_auc'" in extract["metric_values.$"]
    assert "'champion:anchor_auc'" in extract["champion_values.$"]
    assert _states(d)["Gate"]["Choices"][1]["NumericGreaterThanEqualsPath"] == "$.training.champion_values[0]"
    assert _states(d)["CheckFloor"]["Choices"][0]["NumericLessThan"] == model.min_metric
    assert "Tune" not in _states(d) and "LabelSelfExclusion" not in _states(d)  # not tuned; the anchor is no label
    assert validate_definition(d) == []


@pytest.mark.parametrize(
    "env_name, status, after",
    [
        ("dev", "Approved", "ReleaseFromRun"),
        ("staging", "PendingManualApproval", "NotifyPendingApproval"),
        ("prod", "PendingManualApproval", "NotifyPendingApproval"),
    ],
)
def test_approval_per_environment(project, env_name, status, after):
    _, _, d = _render(project, env_name, "gb-problem-gambling")
    register = _states(d)["Register"]
    assert register["Parameters"]["ModelApprovalStatus"] == status and register["Next"] == after
    assert ("AwaitingApproval" in _states(d)) == (status == "PendingManualApproval")
    if status == "PendingManualApproval":  # the admin is told how to review, approve and reject the version
        message = _states(d)["NotifyPendingApproval"]["Parameters"]["Message.$"]
        assert f"vwt-deploy models approve --env {env_name} --model gb-problem-gambling --version {{}}" in message
        assert "vwt-deploy models show" in message and "vwt-deploy models reject" in message
    assert validate_definition(d) == []


def test_deploy_updates_the_endpoint_and_polls_until_in_service(project):
    env, model, d = _render(project, "dev", "gb-marketing")
    s = _states(d)
    assert s["UpdateEndpoint"]["Parameters"]["EndpointName"] == env.endpoint_name(model.name)
    assert s["UpdateEndpoint"]["Parameters"]["RetainDeploymentConfig"] is True
    assert s["CreateEndpointConfig"]["Parameters"]["KmsKeyId"] == "${kms_key_arn}"
    assert s["WaitForEndpoint"]["Type"] == "Wait" and s["WaitForEndpoint"]["Next"] == "DescribeEndpoint"
    assert s["CheckEndpoint"]["Default"] == "WaitForEndpoint"
    targets = {c["Next"] for c in s["CheckEndpoint"]["Choices"]}
    assert targets == {"ResumeAutoScalingIfSuspended", "EndpointRolledBack", "EndpointFailed", "EndpointTimedOut"}
    # success and every failure pass the auto scaling an instance-type change suspended, then go on
    assert {s[f]["Next"] for f in ("EndpointRolledBack", "EndpointFailed", "EndpointTimedOut")} == {
        "ResumeAutoScalingIfSuspended"
    }
    assert s["ResumeAutoScalingIfSuspended"]["Default"] == "ComposeRecord"
    assert s["ChangesInstanceType"]["Choices"][0]["StringEquals"] == env.endpoints.instance_type
    assert (
        s["SuspendAutoScaling"]["Parameters"]["ResourceId"]
        == f"endpoint/{env.endpoint_name(model.name)}/variant/AllTraffic"
    )
    policy = s["RestoreScalingPolicy"]["Parameters"]
    assert policy["PolicyName"] == f"{env.endpoint_name(model.name)}-invocations"  # Terraform's policy
    assert (
        policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        == env.endpoints.target_invocations_per_instance
    )
    assert s["RecordModel"]["Resource"] == "arn:aws:states:::aws-sdk:ssm:putParameter"
    assert s["RecordModel"]["Parameters"]["Name"] == "${current_model_parameter_prefix}/gb-marketing"
    assert s["NotifyAdmin"]["Parameters"]["TopicArn"] == "${admin_topic_arn}"
    assert s["NotifyAdmin"]["Next"] == "Deployed"  # a deployment is an internal record: never on the operators' topic
    assert not any("operator_topic_arn" in json.dumps(state) for state in s.values())


@pytest.mark.parametrize("model", MODELS)
def test_every_task_retries_times_out_and_is_caught_into_a_report_and_fail(project, model):
    _, _, d = _render(project, "dev", model)
    s = _states(d)
    tasks = {n: st for n, st in s.items() if st["Type"] == "Task"}
    assert len(tasks) >= 10
    for name, st in tasks.items():
        errors = {e for r in st["Retry"] for e in r["ErrorEquals"]}
        assert "ThrottlingException" in errors, name
        assert all(r["BackoffRate"] > 1 for r in st["Retry"]), name
        if "sagemaker" in st["Resource"]:
            assert "SageMaker.ResourceLimitExceededException" in errors, name
            # throttling, as the optimized integrations report it, is retried before the error is caught
            assert "SageMaker.AmazonSageMakerException" in st["Retry"][0]["ErrorEquals"], name
        assert st["TimeoutSeconds"] > 0, name
        targets = {c["Next"] for c in st["Catch"] if "States.ALL" in c["ErrorEquals"]}
        assert targets == ({"ClassifyFailure"} if name == "ReportFailure" else {"ReportFailure"}), name
    assert s["ReportFailure"]["Next"] == "ClassifyFailure"
    assert s["ClassifyFailure"]["Default"] == "Failed"
    assert s["ClassifyFailure"]["Choices"][0]["Next"] == "StepFailed"
    assert s["Failed"] == {
        "Type": "Fail",
        "Comment": s["Failed"]["Comment"],
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_labeling_follows_the_model_labeling_mode(project, project_copy):
    _, _, self_excl = _render(project, "dev", "bid-problem-gambling")
    s = _states(self_excl)
    assert s["MeasureData"]["Next"] == "LabelSelfExclusion"
    payload = s["LabelSelfExclusion"]["Parameters"]["Payload"]
    assert payload["action"] == "self_exclusion" and payload["source_column"] == "self_excluded"
    assert s["LabelSelfExclusion"]["Parameters"]["FunctionName"] == "${label_function_arn}"
    assert s["LabelSelfExclusion"]["ResultPath"] == "$.data"
    _, _, none = _render(project, "dev", "gb-marketing")
    assert _states(none)["MeasureData"]["Next"] == "ChooseMode"
    assert not {"LabelSelfExclusion", "PrepareLabeling"} & set(_states(none))

    def ground_truth(data):
        m = model_entry(data, "gb-problem-gambling")
        m["labeling"] = {
            "mode": "ground_truth",
            "automated_min_objects": 5000,
            "workteam_arn": "arn:aws:sagemaker:eu-west-1:111111111111:workteam/private-crowd/risk",
        }

    copy = project_copy(models=ground_truth)
    _, _, gt = _render(copy, "dev", "gb-problem-gambling")
    s = _states(gt)
    assert validate_definition(gt) == []
    assert s["MeasureData"]["Next"] == "PrepareLabeling"
    assert s["ChooseLabeling"]["Choices"] == [
        {"Variable": "$.size.rows", "NumericGreaterThanEquals": 5000, "Next": "LabelAutomated"}
    ]
    assert s["ChooseLabeling"]["Default"] == "LabelHuman"
    for name in ("LabelAutomated", "LabelHuman"):
        assert s[name]["Resource"] == "arn:aws:states:::sagemaker:createLabelingJob.sync"
        assert s[name]["Parameters"]["HumanTaskConfig"]["WorkteamArn"].endswith("workteam/private-crowd/risk")
        assert s[name]["Next"] == "MergeLabels"
    assert "LabelingJobAlgorithmsConfig" in s["LabelAutomated"]["Parameters"]
    assert "LabelingJobAlgorithmsConfig" not in s["LabelHuman"]["Parameters"]
    assert s["MergeLabels"]["Next"] == "ChooseMode"


def test_vpc_only_when_configured_with_real_ids(project_copy):
    def vpc(data):
        data.setdefault("training", {})["vpc"] = {
            "subnet_ids": ["subnet-0123456789abcdef0"],
            "security_group_ids": ["sg-0123456789abcdef0"],
        }

    project = project_copy(env=("local", vpc))
    env, model, d = _render(project, "local", "gb-marketing")
    expected = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}
    s = _states(d)
    assert s["Train"]["Parameters"]["VpcConfig"] == expected
    assert s["Tune"]["Parameters"]["TrainingJobDefinition"]["VpcConfig"] == expected
    assert s["CreateModel"]["Parameters"]["VpcConfig"] == expected


def test_rendering_is_byte_identical_and_rewrites_nothing_unchanged(project, tmp_path):
    env = load("staging", project.root)
    first = {p.name: p.read_bytes() for p in render(project, env, out_dir=tmp_path / "a")}
    second_paths = render(project, load("staging", project.root), out_dir=tmp_path / "b")
    assert first == {p.name: p.read_bytes() for p in second_paths}
    assert len(first) == 2 * len(MODELS)
    stamps = {p: p.stat().st_mtime_ns for p in second_paths}
    render(project, env, out_dir=tmp_path / "b")
    assert stamps == {p: p.stat().st_mtime_ns for p in second_paths}
    text = first["gb-marketing.asl.json"].decode()
    assert text.endswith("}\n") and json.loads(text)
    assert list(json.loads(text)["States"]) == sorted(json.loads(text)["States"])  # sorted keys


def test_environments_differ_only_in_their_values_and_their_approval(project):
    _, _, dev = _render(project, "dev", "gb-marketing")
    _, _, prod = _render(project, "prod", "gb-marketing")
    # auto approval deploys the run's version; manual approval tells the admin and waits for a person
    assert set(_states(dev)) - set(_states(prod)) == {"ReleaseFromRun"}
    assert set(_states(prod)) - set(_states(dev)) == {"NotifyPendingApproval", "AwaitingApproval"}
    assert _states(prod)["UpdateEndpoint"]["Parameters"]["EndpointName"] == "vwt-prod-gb-marketing"


def test_default_output_and_artifacts_for_terraform(project_copy):
    project = project_copy()
    env = load("local", project.root)
    tfvars = artifacts(project, env)
    machines = tfvars["state_machines"]
    assert set(machines) == set(MODELS)
    for name, paths in machines.items():
        assert paths["definition_path"].endswith(f".vwt/envs/local/render/{name}.asl.json")
        assert paths["policy_path"].endswith(f".vwt/envs/local/render/{name}.policy.json")
        assert json.loads(Path(paths["definition_path"]).read_text())["StartAt"] == "CheckInput"
        assert set(paths) == {"definition_path", "policy_path"}
        # what up deploys is drawn beside it
        assert Path(paths["definition_path"]).with_name(f"{name}.mmd").read_text().startswith(f'---\ntitle: "{name}')


def test_cli_render(project_copy, tmp_path):
    from vwt_deploy.cli import main

    project = project_copy()
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        main,
        ["--project-dir", str(project.root), "render", "--env", "local", "--model", "gb-marketing", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["gb-marketing.asl.json", "gb-marketing.policy.json"]
    bad = runner.invoke(main, ["--project-dir", str(project.root), "render", "--env", "local", "--model", "nope"])
    assert bad.exit_code == 2
    assert "unknown model 'nope'" in bad.output


def test_a_broken_template_is_reported_and_nothing_is_written(project_copy, tmp_path):
    from vwt_deploy.errors import VwtError

    project = project_copy()
    gate = project.templates_dir / "steps" / "gate.j2"
    gate.write_text(gate.read_text().replace('"Next": "RegisterRejected"', '"Next": "NoSuchState"', 1))
    with pytest.raises(VwtError) as err:
        render(project, load("local", project.root), out_dir=tmp_path / "out")
    assert "state 'GateBelowFloor': Next 'NoSuchState' names no state" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_separate_processes_render_the_same_bytes(project, tmp_path):
    """No dependence on hash seeds, dict order or time: what Terraform sees only changes with the configuration."""
    import os
    import subprocess
    import sys

    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"run{seed}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "vwt_deploy.cli",
                "--project-dir",
                str(project.root),
                "render",
                "--env",
                "dev",
                "--out",
                str(out),
            ],
            check=True,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            timeout=120,
        )
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 2 * len(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_mode_score_checks_the_players_transforms_them_and_publishes(project, model):
    from vwt_deploy.asl import derive_policy

    env, m, d = _render(project, "prod", model)
    s = _states(d)
    score = next(c for c in s["CheckInput"]["Choices"] if c["Next"] == "StartScore")
    assert {"Variable": "$.mode", "StringEquals": "score"} in score["And"]
    assert s["StartScore"]["Next"] == "ReadServing" and s["HasServingModel"]["Choices"][0]["Next"] == "CheckScoringData"
    check = s["CheckScoringData"]["Parameters"]
    assert check["FunctionName"] == "${scoring_check_function_arn}"
    assert check["Payload"]["bucket"] == env.data_bucket_name(m.data_bucket)
    assert check["Payload"]["prefix"] == f"scoring/{model}/"
    assert check["Payload"]["operators"] == ["northbet", "lucky-lane"]
    assert check["Payload"]["sizing"] == {
        "instance_type": "ml.m5.xlarge",
        "records_per_instance": 2000000,
        "max_instances": 4,
    }
    transform = s["Score"]["Parameters"]
    assert s["Score"]["Resource"] == "arn:aws:states:::sagemaker:createTransformJob.sync"
    assert transform["ModelName.$"] == "$.serving.record.model_name"
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{env.data_bucket_name(m.data_bucket)}/scoring/{model}/"
    )
    assert transform["TransformInput"]["SplitType"] == "Line" and transform["BatchStrategy"] == "MultiRecord"
    assert transform["DataProcessing"] == {"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"}
    assert (
        transform["TransformOutput"]["KmsKeyId"]
        == transform["TransformResources"]["VolumeKmsKeyId"]
        == "${kms_key_arn}"
    )
    assert s["Score"]["Next"] == "PublishScores" and s["PublishScores"]["Next"] == "ReportScored"
    publish = s["PublishScores"]["Parameters"]["Payload"]
    assert publish["results_bucket"] == env.results_bucket_name and publish["bucket"] == env.model_bucket_name(model)
    for state in ("ReadServing", "CheckScoringData", "Score", "PublishScores", "ReportScored"):
        assert s[state]["Catch"][0]["Next"] == "ReportFailure", state
    # the role may run and follow this model's transform jobs only, through the Transform jobs' rule
    policy = derive_policy(d)
    statements = {st["Sid"]: st for st in policy["Statement"]}
    transform_sid = next(sid for sid, st in statements.items() if "sagemaker:CreateTransformJob" in st["Action"])
    prefix = job_prefix(env, model)
    assert statements[transform_sid]["Resource"] == [
        f"arn:aws:sagemaker:${{region}}:${{account_id}}:transform-job/{prefix}-*"
    ]
    assert {"sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"} <= set(statements[transform_sid]["Action"])
    assert statements["SyncRuleForTransformJobs"]["Resource"] == [
        "arn:aws:events:${region}:${account_id}:rule/StepFunctionsGetEventsForSageMakerTransformJobsRule"
    ]


def test_mode_drift_finds_the_capture_checks_it_in_a_processing_job_and_publishes(project):
    from vwt_deploy.asl import derive_policy

    env, m, d = _render(project, "prod", "gb-problem-gambling")
    s = _states(d)
    assert any(c["Next"] == "StartDrift" for c in s["CheckInput"]["Choices"])
    find = s["FindCapturedData"]["Parameters"]["Payload"]
    assert find == {
        "action": "capture",
        "bucket": env.model_bucket_name(m.name),
        "prefix": f"data-capture/{env.endpoint_name(m.name)}/",
        "since_hours": 24,
    }
    assert s["HasCapturedData"]["Default"] == "NoCapturedData" and s["NoCapturedData"]["Next"] == "ReportDrift"
    job = s["CheckDrift"]["Parameters"]
    assert s["CheckDrift"]["Resource"] == "arn:aws:states:::sagemaker:createProcessingJob.sync"
    assert job["AppSpecification"] == {
        "ImageUri": "${image_uri}",
        "ContainerArguments": ["drift", "--since-hours", "24"],
    }
    assert [i["S3Input"]["LocalPath"] for i in job["ProcessingInputs"]] == [
        "/opt/ml/processing/model",
        "/opt/ml/processing/capture",
    ]
    assert job["ProcessingInputs"][0]["S3Input"]["S3Uri.$"] == "$.serving.record.model_data_url"
    assert job["ProcessingOutputConfig"]["KmsKeyId"] == "${kms_key_arn}"
    publish = s["PublishDrift"]["Parameters"]["Payload"]
    assert (publish["threshold"], publish["retrain"]) == (0.25, False)
    assert publish["state_machine"] == (
        f"arn:aws:states:${{region}}:${{account_id}}:stateMachine:{env.name_prefix}-{m.name}-retraining"
    )
    statements = {st["Sid"]: st for st in derive_policy(d)["Statement"]}
    assert statements["SyncRuleForProcessingJobs"]["Resource"] == [
        "arn:aws:events:${region}:${account_id}:rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule"
    ]
    processing = next(st for st in statements.values() if "sagemaker:CreateProcessingJob" in st["Action"])
    assert processing["Resource"] == [
        f"arn:aws:sagemaker:${{region}}:${{account_id}}:processing-job/{job_prefix(env, m.name)}-*"
    ]
