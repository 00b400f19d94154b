"""The rendered retraining pipeline of a model runs on moto's server with the runtime's SageMaker integration:
train (.sync), gate, create model and endpoint configuration, update the endpoint, poll it with a Wait loop,
record the model (SSM) and report (SNS). The size and label Lambdas are replaced by Pass states with their
results (the Lambda runtime is tested elsewhere); the training job logs the gate metric, as the local
training runtime parses it from the container's output.
"""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest
from moto.core.responses import ActionResult
from moto.sagemaker.responses import SageMakerResponse

from tests.helpers import ACCOUNT, REGION
from tests.helpers.sfn_harness import create_runs_table, fill
from tests.helpers.stepfunctions import run, sagemaker_backend
from vwt_deploy.build.statemachines import dumps, render_definition
from vwt_deploy.config import load
from vwt_deploy.operate.retrain import Retrain

MODEL = "gb-problem-gambling"
PREFIX = "/vwt-local/current-model"
BASELINE = {
    "model": MODEL,
    "version": "baseline",
    "model_data_url": "s3://models/baseline/model.tar.gz",
    "metric": None,
}


@pytest.fixture
def pipeline(moto_server, repo, monkeypatch):
    """The model's pipeline deployed as Terraform would deploy it, with the endpoint it updates."""
    from vwt_deploy.project import Project

    project = Project(repo)
    env = load("local", project.root)
    model = env.catalogue.model(MODEL)
    sm, sns = moto_server("sagemaker"), moto_server("sns")
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt-local-sklearn:1"
    role = f"arn:aws:iam::{ACCOUNT}:role/vwt-local-sagemaker"
    endpoint = env.endpoint_name(MODEL)
    if endpoint not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]:
        sm.create_model(
            ModelName="baseline",
            ExecutionRoleArn=role,
            PrimaryContainer={"Image": image, "ModelDataUrl": "s3://models/baseline/model.tar.gz"},
        )
        sm.create_endpoint_config(
            EndpointConfigName="baseline",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "baseline",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName="baseline")
    topics = {who: sns.create_topic(Name=f"vwt-local-{who}")["TopicArn"] for who in ("admin", "operator")}

    definition = render_definition(env, model, project.templates_dir)
    data = f"s3://{env.model_bucket_name(MODEL)}/labelled/run/"
    definition["States"]["MeasureData"] = {
        "Type": "Pass",
        "ResultPath": "$.size",
        "Next": "LabelSelfExclusion",
        "Result": {
            "bytes": 6000,
            "objects": 1,
            "rows": 60,
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "volume_gb": 5,
        },
    }
    definition["States"]["LabelSelfExclusion"] = {
        "Type": "Pass",
        "ResultPath": "$.data",
        "Next": "ChooseMode",
        "Result": {
            "bucket": env.model_bucket_name(MODEL),
            "prefix": "labelled/run/",
            "s3_uri": data,
            "rows": 60,
            "positives": 30,
        },
    }
    values = {
        "account_id": ACCOUNT,
        "region": REGION,
        "name_prefix": "vwt-local",
        "sagemaker_role_arn": role,
        "image_uri": image,
        "kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
        "size_function_arn": "unused",
        "label_function_arn": "unused",
        "scoring_check_function_arn": "unused",
        "scoring_publish_function_arn": "unused",
        "drift_function_arn": "unused",
        "admin_topic_arn": topics["admin"],
        "operator_topic_arn": topics["operator"],
        "current_model_parameter_prefix": PREFIX,
    }
    definition = json.loads(fill(dumps(definition), values))
    definition["States"]["WaitForEndpoint"]["Seconds"] = 1
    metric = {"value": 0.71, "champion": 0.5}
    backend = sagemaker_backend()
    create = backend.create_training_job
    group = env.model_package_group(MODEL)
    if group not in backend.model_package_groups:
        from vwt_deploy.emulator import fixes

        fixes.sagemaker_model_registry()
        sm.create_model_package_group(ModelPackageGroupName=group)  # Terraform's (modules/retraining)

    def created(*args, **kwargs):  # the metrics the local training runtime parses from the container's log
        job = create(*args, **kwargs)
        job.final_metric_data_list = [
            {"MetricName": model.gate_metric, "Value": metric["value"]},
            {"MetricName": "champion:auc", "Value": metric["champion"]},
            {"MetricName": "champion:scored", "Value": 1.0},
        ]
        return job

    monkeypatch.setattr(backend, "create_training_job", created)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _update_endpoint, raising=False)
    from vwt_deploy.emulator import fixes

    fixes.stepfunctions_context_start_time()  # as the emulator: $$.Execution.StartTime is AWS's ISO string
    fixes.stepfunctions_sdk_pascal_case()  # and aws-sdk:sfn takes ExecutionArn
    create_runs_table(moto_server("dynamodb"), env.runs_table_name)
    ssm = moto_server("ssm")
    return SimpleNamespace(
        definition=definition,
        env=env,
        metric=metric,
        ssm=ssm,
        sm=sm,
        endpoint=endpoint,
        parameter=f"{PREFIX}/{MODEL}",
        sfn=moto_server("stepfunctions"),
    )


def _update_endpoint(self):
    """UpdateEndpoint, which moto lacks, as the local endpoint runtime does it: Updating, then InService with
    the new configuration once the new model serves."""
    endpoint = self.sagemaker_backend.endpoints[self._get_param("EndpointName")]
    config = self._get_param("EndpointConfigName")
    endpoint.endpoint_status = "Updating"

    def switched() -> None:
        endpoint.endpoint_config_name, endpoint.endpoint_status = config, "InService"

    threading.Timer(1.0, switched).start()
    return ActionResult({"EndpointArn": endpoint.arn})


def follow(p, execution_arn: str):
    entered: list[str] = []
    outcome = Retrain(SimpleNamespace(env=p.env), p.sfn).follow(execution_arn, entered.append, poll=0.1)
    return outcome, entered


def test_first_deployment_trains_gates_deploys_and_records(pipeline):
    p = pipeline
    p.ssm.put_parameter(Name=p.parameter, Type="String", Overwrite=True, Value=json.dumps(BASELINE))
    arn = run(p.sfn, p.definition, {"model": MODEL, "mode": "train"}, name=f"vwt-local-{MODEL}", wait=False)[
        "executionArn"
    ]
    outcome, entered = follow(p, arn)
    assert outcome.status == "SUCCEEDED", (outcome.error, outcome.cause, entered)
    assert outcome.deployed and outcome.gate["champion_value"] == 0.5 and outcome.gate["new_value"] == 0.71
    assert entered[:9] == [
        "CheckInput", "Start", "ReadTheModelsRun", "ClaimedBefore", "ClaimTheModel", "Claimed",  # the first run
        "ReadChampion", "HasChampion", "MeasureData",
    ]  # fmt: skip
    assert {
        "Train",
        "Register",
        "ReleaseFromRun",
        "CreateModel",
        "UpdateEndpoint",
        "WaitForEndpoint",
        "DescribeEndpoint",
        "RecordModel",
        "NotifyAdmin",
        "Deployed",
    } <= set(entered)
    job = outcome.training_job
    assert p.sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    assert p.sm.describe_endpoint(EndpointName=p.endpoint)["EndpointConfigName"] == outcome.output["job_name"]
    record = json.loads(p.ssm.get_parameter(Name=p.parameter)["Parameter"]["Value"])
    assert record["training_job"] == job and record["metric"] == "0.71"
    package = p.sm.describe_model_package(ModelPackageName=record["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved" and package["CustomerMetadataProperties"]["training_job"] == job
    assert outcome.lines()[0].startswith(f"deployed: version {record['version']}, training job {job}")


def test_a_refusing_gate_keeps_production_and_says_why(pipeline):
    p = pipeline
    p.ssm.put_parameter(Name=p.parameter, Type="String", Overwrite=True, Value=json.dumps(BASELINE))
    p.metric.update(value=0.6, champion=0.95)
    arn = run(p.sfn, p.definition, {"model": MODEL, "mode": "train"}, name=f"vwt-local-{MODEL}", wait=False)[
        "executionArn"
    ]
    outcome, entered = follow(p, arn)
    assert outcome.kept and not outcome.deployed
    assert "Kept" in entered and "CreateModel" not in entered
    assert outcome.gate["champion_value"] == 0.95 and "worse than the champion" in outcome.gate["reason"]
    assert "production model kept" in outcome.lines()[0]
