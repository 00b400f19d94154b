"""Executions of rendered state machines in moto's interpreter, SageMaker scripted (tests/helpers/sfn_harness.py).

Each branch a user cares about: the first deployment replaces the baseline, the gate passes, the gate
refuses, training fails (caught, reported, Fail), the endpoint update fails, tuning, bad input.
"""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest

from tests.helpers.sfn_harness import FakeSageMaker, create_runs_table, fill, replaced_integrations
from vwt_deploy.build.statemachines import dumps, render_definition
from vwt_deploy.config import load

REGION, ACCOUNT = "eu-west-1", "123456789012"
PARAMETER_PREFIX = "/vwt-local/current-model"


class Pipeline:
    """One model's rendered pipeline deployed on moto, as Terraform would: template variables filled."""

    def __init__(self, project, model: str, rows: int = 60, env_name: str = "local"):
        from pipeline import label, size

        from vwt_deploy.emulator import fixes

        fixes.stepfunctions_context_start_time()  # $$.Execution.StartTime is a string on AWS, as in the emulator
        self.env = load(env_name, project.root)
        self.model = self.env.catalogue.model(model)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        self.data_bucket = self.env.data_bucket_name(self.model.data_bucket)
        self.model_bucket = self.env.model_bucket_name(model)
        for bucket in (self.data_bucket, self.model_bucket):
            self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        # as `data sample` writes: the label, or an unsupervised model's anchor
        columns = ["user_id"] + [f.name for f in self.model.features] + [self.model.label or self.model.anchor]
        lines = [",".join(columns)] + [
            ",".join([f"p{i}"] + ["1"] * (len(columns) - 2) + [str(i % 2)]) for i in range(rows)
        ]
        self.s3.put_object(
            Bucket=self.data_bucket, Key=f"{self.model.data_prefix}part-0.csv", Body=("\n".join(lines) + "\n").encode()
        )
        create_runs_table(boto3.client("dynamodb", region_name=REGION), self.env.runs_table_name)
        self.queues = {}
        topics = {}
        for who in ("admin", "operator"):
            topics[who] = sns.create_topic(Name=f"vwt-local-{who}")["TopicArn"]
            url = self.sqs.create_queue(QueueName=f"{who}-inbox")["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topics[who], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
            self.queues[who] = url
        self.parameter = f"{PARAMETER_PREFIX}/{model}"
        self.ssm.put_parameter(
            Name=self.parameter,
            Type="String",
            Value=json.dumps(self.baseline_record()),
        )
        values = {
            "account_id": ACCOUNT,
            "region": REGION,
            "name_prefix": "vwt-local",
            "sagemaker_role_arn": f"arn:aws:iam::{ACCOUNT}:role/vwt-local-sagemaker",
            "image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt-local-sklearn:0123abcd",
            "kms_key_arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
            "size_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vwt-local-pipeline-size",
            "label_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vwt-local-pipeline-label",
            "scoring_check_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vwt-local-scoring-check",
            "scoring_publish_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vwt-local-scoring-publish",
            "drift_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:vwt-local-drift",
            "admin_topic_arn": topics["admin"],
            "operator_topic_arn": topics["operator"],
            "current_model_parameter_prefix": PARAMETER_PREFIX,
        }
        definition = render_definition(self.env, self.model, project.templates_dir)
        definition["States"]["WaitForEndpoint"]["Seconds"] = 1  # keep the test quick
        self.definition = json.loads(fill(dumps(definition), values))
        self.lambdas = {"vwt-local-pipeline-size": size.handler, "vwt-local-pipeline-label": label.handler}
        self.arn = self.sfn.create_state_machine(
            name=f"vwt-local-{model}-retraining",
            definition=json.dumps(self.definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/vwt-local-{model}-pipeline",
        )["stateMachineArn"]

    def run(self, fake: FakeSageMaker, execution_input: dict) -> dict:
        with replaced_integrations(fake, self.lambdas):
            return self.wait(self.start(execution_input))

    def start(self, execution_input: dict) -> str:
        return self.sfn.start_execution(stateMachineArn=self.arn, input=json.dumps(execution_input))["executionArn"]

    def wait(self, arn: str) -> dict:
        deadline = time.monotonic() + 60
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return described
            time.sleep(0.2)

    def entered(self, arn: str) -> list[str]:
        """The states an execution has entered so far, in order."""
        events = self.sfn.get_execution_history(executionArn=arn)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def claim(self) -> dict | None:
        """The runs table's item of this model: the run that last claimed it."""
        table = boto3.client("dynamodb", region_name=REGION)
        item = table.get_item(TableName=self.env.runs_table_name, Key={"model": {"S": self.model.name}}).get("Item")
        return {k: v["S"] for k, v in item.items()} if item else None

    def messages(self, who: str) -> list[str]:
        got = self.sqs.receive_message(QueueUrl=self.queues[who], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [m["Body"] for m in got.get("Messages", [])]

    def baseline_record(self) -> dict:
        """The serving model's record as Terraform writes it for the baseline (terraform/modules/sagemaker)."""
        return {
            "model": self.model.name,
            "version": "baseline",
            "model_data_url": f"s3://{self.model_bucket}/baseline/model.tar.gz",
            "metric": None,
        }

    def record(self) -> dict:
        return json.loads(self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"])


def test_first_deployment_replaces_the_baseline(moto, project):
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    fake = FakeSageMaker("validation:auc", metric=0.71, champion=0.5)  # the baseline's constant scores 0.5
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["gate"]["decision"] == "deploy" and output["gate"]["champion_value"] == 0.5
    assert fake.actions() == [
        "createTrainingJob",
        "createModelPackage",
        "createModel",
        "createEndpointConfig",
        "describeEndpoint",  # what it serves now, and on which instance type
        "describeEndpointConfig",
        "updateEndpoint",
        "describeEndpoint",
        "describeEndpoint",
    ]
    job = output["job_name"]
    training = fake.calls[0][1]
    # sized from the data, trained on the labelled copy the label Lambda wrote
    assert training["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert output["size"]["rows"] == 60
    channel = training["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == f"s3://{p.model_bucket}/labelled/{job}/"
    # the champion's artifact (the serving model's record) is a channel of the same job: scored on the same hold-out
    champion = {c["ChannelName"]: c for c in training["InputDataConfig"]}["champion"]
    assert champion["DataSource"]["S3DataSource"]["S3Uri"] == p.baseline_record()["model_data_url"]
    labelled = p.s3.get_object(Bucket=p.model_bucket, Key=f"labelled/{job}/data.csv")["Body"].read().decode()
    assert labelled.splitlines()[0].endswith(",self_excluded") and len(labelled.splitlines()) == 61
    record = p.record()
    assert record["metric"] == "0.71" and record["model_name"] == job and record["endpoint_config_name"] == job
    assert record["metric_name"] == "validation:auc" and record["version"] == "1"
    assert record["model_data_url"] == f"s3://models/training/{job}/output/model.tar.gz"
    # the version in the registry: Approved by the pipeline (local approves automatically), with its lineage
    package = fake.packages[record["model_package_arn"]]
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ModelPackageGroupName"] == p.env.model_package_group("gb-problem-gambling")
    meta = package["CustomerMetadataProperties"]
    assert meta["training_job"] == job and result["executionArn"].endswith(":" + meta["execution"])
    assert (meta["challenger"], meta["champion"], meta["gate_decision"]) == ("0.71", "0.5", "deploy")
    assert meta["data_location"] == channel  # what the job trained on: the labelled copy
    assert meta["champion_model"] == p.baseline_record()["model_data_url"] and meta["floor"] == "0.6"
    assert {k: v for k, v in meta.items() if k.startswith("hp.")} == {
        f"hp.{k}": v for k, v in training["HyperParameters"].items() if k != "risk_groups"
    }
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == record["model_data_url"] and container["Image"].endswith(":0123abcd")
    # every value fits the registry's pattern: letters, digits, spaces and _ . : / = + - @ (API reference)
    assert all(re.fullmatch(r"[A-Za-z0-9 _.:/=+\-@]{1,256}", v) for v in meta.values()), meta
    assert len(p.messages("admin")) == 1
    assert p.messages("operator") == []  # operators hear of their players' predictions, not of deployments


def test_manual_approval_registers_tells_the_admin_and_deploys_only_when_approved(moto, project):
    """staging: the version waits as PendingManualApproval and nothing is deployed; the admin's notice names the
    commands; the deploy mode (what the approval's event starts) refuses it until it is Approved, then deploys it."""
    p = Pipeline(project, "gb-problem-gambling", env_name="staging")
    fake = FakeSageMaker("validation:auc", metric=0.71, champion=0.5)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    arn = json.loads(result["output"])["registered"]["arn"]
    assert fake.packages[arn]["ModelApprovalStatus"] == "PendingManualApproval"
    assert p.record() == p.baseline_record() and "createModel" not in fake.actions()
    (notice,) = p.messages("admin")
    assert "Version 1 of gb-problem-gambling passed the gate" in notice
    assert "vwt-deploy models approve --env staging --model gb-problem-gambling --version 1" in notice
    deploy = {"model": "gb-problem-gambling", "mode": "deploy", "model_package_arn": arn}
    refused = p.run(fake, deploy)
    assert refused["status"] == "FAILED" and refused["error"] == "NotApproved"
    assert p.record() == p.baseline_record()
    fake.packages[arn]["ModelApprovalStatus"] = "Approved"  # a person approved it
    deployed = p.run(fake, deploy)
    assert deployed["status"] == "SUCCEEDED", deployed
    assert p.record()["model_package_arn"] == arn and p.record()["version"] == "1"


def test_gate_passes_when_the_new_model_is_no_worse_on_the_same_holdout(moto, project):
    p = Pipeline(project, "gb-problem-gambling")
    fake = FakeSageMaker("validation:auc", metric=0.70, champion=0.70)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    gate = json.loads(result["output"])["gate"]
    assert gate == {
        "decision": "deploy",
        "reason": "the challenger is no worse than the champion on the same hold-out",
        "metric": "validation:auc",
        "higher_is_better": True,
        "new_value": 0.7,
        "champion_value": 0.7,
        "floor": 0.6,
    }
    record = p.record()
    assert record["metric"] == "0.7" and record["model_name"] == json.loads(result["output"])["job_name"]
    assert record["version"] == "1"  # the baseline's record is replaced


def _with_floor(project_copy, floor: float):
    def edit(models: dict) -> None:
        for model in models["models"]:
            if model["name"] == "gb-problem-gambling":
                model["min_metric"] = floor

    return project_copy(models=edit)


def test_a_model_under_the_floor_is_never_deployed_even_over_the_baseline(moto, project_copy):
    p = Pipeline(_with_floor(project_copy, 0.75), "gb-problem-gambling")
    fake = FakeSageMaker("validation:auc", metric=0.71, champion=0.5)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    gate = json.loads(result["output"])["gate"]
    assert gate["decision"] == "keep" and gate["new_value"] == 0.71 and gate["floor"] == 0.75
    assert gate["reason"] == "the challenger is worse than the catalogue floor min_metric = 0.75: never deployed"
    assert fake.actions() == ["createTrainingJob", "createModelPackage"]  # registered, nothing deployed
    (package,) = fake.packages.values()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["CustomerMetadataProperties"]["gate_reason"] == gate["reason"]
    assert p.record() == p.baseline_record()
    assert json.loads(p.messages("admin")[0])["decision"] == "keep"


def test_a_model_at_the_floor_goes_on_to_the_production_comparison(moto, project_copy):
    p = Pipeline(_with_floor(project_copy, 0.75), "gb-problem-gambling")
    fake = FakeSageMaker("validation:auc", metric=0.75, champion=0.7)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    gate = json.loads(result["output"])["gate"]
    assert gate["decision"] == "deploy" and gate["champion_value"] == 0.7


def test_gate_refuses_a_model_worse_than_the_champion_on_the_same_holdout(moto, project):
    p = Pipeline(project, "gb-problem-gambling")
    fake = FakeSageMaker("validation:auc", metric=0.80, champion=0.90)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    gate = json.loads(result["output"])["gate"]
    assert gate["decision"] == "keep" and gate["new_value"] == 0.8 and gate["champion_value"] == 0.9
    assert fake.actions() == ["createTrainingJob", "createModelPackage"]  # registered Rejected, nothing deployed
    (package,) = fake.packages.values()
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["CustomerMetadataProperties"]["champion"] == "0.9"
    assert p.record() == p.baseline_record()
    admin = p.messages("admin")
    assert len(admin) == 1 and json.loads(admin[0])["decision"] == "keep"
    assert p.messages("operator") == []


@pytest.mark.parametrize(
    "metric, champion, decision, reason",
    [
        (0.8, 0.5, "deploy", "the challenger is no worse than the champion on the same hold-out"),
        (0.7, 0.78, "keep", "the challenger is worse than the champion on the same hold-out: the champion is kept"),
        (0.6, 0.5, "keep", "the challenger is worse than the catalogue floor min_metric = 0.65: never deployed"),
    ],
    ids=["better than the champion", "worse than the champion", "under the floor"],
)
def test_the_unsupervised_model_is_gated_on_its_anchor_auc(moto, project, metric, champion, decision, reason):
    """Its anomaly score's AUC against the anchor (self-exclusion), the champion's on the same hold-out rows."""
    p = Pipeline(project, "gb-unusual-behaviour")
    fake = FakeSageMaker("validation:anchor_auc", metric=metric, champion=champion)
    result = p.run(fake, {"model": "gb-unusual-behaviour", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["gate"]["metric"] == "validation:anchor_auc" and output["gate"]["higher_is_better"] is True
    assert output["gate"]["decision"] == decision and output["gate"]["reason"] == reason
    (hp,) = fake.hyperparameters.values()
    assert hp["anchor"] == "self_excluded" and hp["task"] == "unsupervised" and "label" not in hp
    (package,) = fake.packages.values()
    assert package["ModelApprovalStatus"] == ("Approved" if decision == "deploy" else "Rejected")
    if decision == "deploy":
        assert "updateEndpoint" in fake.actions() and p.record()["metric"] == str(metric)
    else:
        assert "createModel" not in fake.actions() and p.record() == p.baseline_record()


def test_failed_training_is_caught_reported_and_fails(moto, project):
    p = Pipeline(project, "gb-problem-gambling")
    result = p.run(
        FakeSageMaker("validation:auc", training_fails=True), {"model": "gb-problem-gambling", "mode": "train"}
    )
    assert result["status"] == "FAILED", result
    assert result["error"] == "StepFailed"
    assert result["cause"].startswith("States.TaskFailed: ")
    assert "AlgorithmError: the training data has no label column" in result["cause"]
    admin = p.messages("admin")
    assert len(admin) == 1 and "failed" in admin[0] and "AlgorithmError" in admin[0]
    assert p.messages("operator") == []
    assert p.record()["version"] == "baseline"


def test_a_failed_endpoint_update_is_reported_and_fails(moto, project):
    p = Pipeline(project, "gb-problem-gambling")
    fake = FakeSageMaker("validation:auc", metric=0.8, champion=0.5, endpoint_statuses=("Updating", "Failed"))
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "FAILED", result
    assert result["error"] == "EndpointFailed" and "is Failed after updating" in result["cause"]
    assert p.record() == p.baseline_record()
    assert len(p.messages("admin")) == 1 and p.messages("operator") == []


def test_no_training_data_is_reported_by_the_size_lambda(moto, project):
    p = Pipeline(project, "gb-marketing", rows=0)
    result = p.run(FakeSageMaker("validation:rmse"), {"model": "gb-marketing", "mode": "train"})
    assert result["status"] == "FAILED", result
    assert result["error"] == "NoTrainingData"


def test_tune_mode_takes_the_best_training_job_and_gates_lower_is_better(moto, project):
    p = Pipeline(project, "gb-marketing")
    fake = FakeSageMaker("validation:rmse", metric=11.0, champion=12.5)
    result = p.run(fake, {"model": "gb-marketing", "mode": "tune"})
    assert result["status"] == "SUCCEEDED", result
    assert fake.actions()[:2] == ["createHyperParameterTuningJob", "describeTrainingJob"]
    output = json.loads(result["output"])
    assert fake.calls[1][1] == {"TrainingJobName": output["tuning"]["best_training_job"]}
    assert output["gate"]["decision"] == "deploy" and output["gate"]["higher_is_better"] is False
    assert p.record()["training_job"] == output["tuning"]["best_training_job"]
    # unlabelled model (observed value): trained on the data prefix itself
    tuning = fake.calls[0][1]
    channel = tuning["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == f"s3://{p.data_bucket}/training/"


@pytest.mark.parametrize(
    "execution_input",
    [{"model": "gb-marketing"}, {"model": "other", "mode": "train"}, {"model": "gb-marketing", "mode": "transform"}],
)
def test_bad_execution_input_fails_with_what_is_expected(moto, project, execution_input):
    p = Pipeline(project, "gb-marketing", rows=5)
    fake = FakeSageMaker("validation:rmse")
    result = p.run(fake, execution_input)
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert '{"model": "gb-marketing", "mode": "train" or "tune"}' in result["cause"]
    assert fake.calls == []


def test_no_serving_model_record_fails_before_training_and_says_how_to_restore_it(moto, project):
    p = Pipeline(project, "gb-marketing")
    p.ssm.delete_parameter(Name=p.parameter)
    fake = FakeSageMaker("validation:rmse", metric=3.0)
    result = p.run(fake, {"model": "gb-marketing", "mode": "train"})
    assert result["status"] == "FAILED" and result["error"] == "NoChampion", result
    assert "nothing to score a new model against" in result["cause"] and "vwt-deploy up" in result["cause"]
    assert fake.calls == []


@pytest.mark.parametrize("rows, labeling", [(12, "LabelHuman"), (30, "LabelAutomated")])
def test_ground_truth_labeling_is_automated_from_enough_data_points(moto, project_copy, rows, labeling):
    from tests.helpers import model_entry

    def ground_truth(data):
        model_entry(data, "gb-problem-gambling")["labeling"] = {
            "mode": "ground_truth",
            "automated_min_objects": 30,
            "workteam_arn": "arn:aws:sagemaker:eu-west-1:123456789012:workteam/private-crowd/risk",
        }

    p = Pipeline(project_copy(models=ground_truth), "gb-problem-gambling", rows=rows)
    fake = FakeSageMaker("validation:auc", metric=0.75)
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    history = p.sfn.get_execution_history(executionArn=result["executionArn"])["events"]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert labeling in entered and ({"LabelHuman", "LabelAutomated"} - {labeling}).isdisjoint(entered)
    assert fake.actions()[:2] == ["createLabelingJob", "createTrainingJob"]
    labeling_job = fake.calls[0][1]
    assert ("LabelingJobAlgorithmsConfig" in labeling_job) == (labeling == "LabelAutomated")
    job = json.loads(result["output"])["job_name"]
    # training reads the labels merged into a CSV
    channel = fake.calls[1][1]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == f"s3://{p.model_bucket}/labelled/{job}/"
    merged = p.s3.get_object(Bucket=p.model_bucket, Key=f"labelled/{job}/data.csv")["Body"].read().decode().splitlines()
    assert merged[0].endswith(",self_excluded") and len(merged) == rows + 1
    assert [line.rsplit(",", 1)[1] for line in merged[1:4]] == ["0", "1", "0"]


def _register_scaling(endpoint: str) -> None:
    """The endpoint's auto scaling, as terraform/modules/sagemaker registers it."""
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": f"endpoint/{endpoint}/variant/AllTraffic",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
    }
    scaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2)
    scaling.put_scaling_policy(
        **target,
        PolicyName=f"{endpoint}-invocations",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={"TargetValue": 1000.0},
    )


def test_a_new_instance_type_suspends_auto_scaling_around_the_update(moto, project):
    """AWS refuses an UpdateEndpoint that changes an auto-scaled variant's instance type (SageMaker DG, "Update
    or delete endpoints that use automatic scaling"): the target is deregistered first, then registered again with
    Terraform's policy once the endpoint is InService."""
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    endpoint = p.env.endpoint_name("gb-problem-gambling")
    _register_scaling(endpoint)
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    fake = FakeSageMaker("validation:auc", metric=0.71, serving_instance_type="ml.c5.xlarge")
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    assert fake.actions()[4:7] == ["describeEndpoint", "describeEndpointConfig", "updateEndpoint"]
    history = [
        e
        for e in p.sfn.get_execution_history(executionArn=result["executionArn"])["events"]
        if e["type"] == "TaskStateEntered"
    ]
    entered = [e["stateEnteredEventDetails"]["name"] for e in history]
    assert entered.index("SuspendAutoScaling") < entered.index("UpdateEndpoint") < entered.index("ResumeAutoScaling")
    assert entered.index("ResumeAutoScaling") < entered.index("RestoreScalingPolicy") < entered.index("RecordModel")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (f"endpoint/{endpoint}/variant/AllTraffic", p.env.endpoints.min_capacity, p.env.endpoints.max_capacity)
    ]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert [(x["PolicyName"], x["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) for x in policies] == [
        (f"{endpoint}-invocations", p.env.endpoints.target_invocations_per_instance)
    ]


def test_the_same_instance_type_leaves_auto_scaling_alone(moto, project):
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    fake = FakeSageMaker("validation:auc", metric=0.71)  # serves ml.m5.large, the configured type
    result = p.run(fake, {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in p.sfn.get_execution_history(executionArn=result["executionArn"])["events"]
        if e["type"] == "TaskStateEntered"
    ]
    assert "SuspendAutoScaling" not in entered and "ResumeAutoScaling" not in entered


# ---------------------------------------------------------------- one run at a time per model


def test_a_second_run_of_a_model_ends_at_once_naming_the_run_in_progress(moto, project):
    """A manual run and a scheduled one started together: the first claims the model and deploys; the second ends
    before it trains or touches the endpoint, RunInProgress, with the first one's ARN; the admin is told."""
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    slow = FakeSageMaker("validation:auc", metric=0.71, endpoint_statuses=("Updating",) * 4 + ("InService",))
    with replaced_integrations(slow, p.lambdas):
        first = p.start({"model": "gb-problem-gambling", "mode": "train"})
        deadline = time.monotonic() + 30
        while "ReadChampion" not in p.entered(first):
            assert time.monotonic() < deadline, p.entered(first)
            time.sleep(0.1)
        second = p.wait(p.start({"model": "gb-problem-gambling", "mode": "train"}))
        assert p.sfn.describe_execution(executionArn=first)["status"] == "RUNNING"
        done = p.wait(first)
    assert second["status"] == "FAILED" and second["error"] == "RunInProgress", second
    assert second["cause"] == f"another run of this model is in progress: {first}"
    entered = p.entered(second["executionArn"])
    assert "ReadChampion" not in entered and "Train" not in entered and "UpdateEndpoint" not in entered
    assert done["status"] == "SUCCEEDED", done
    assert [a for a in slow.actions() if a == "updateEndpoint"] == ["updateEndpoint"]  # the first run's only
    admin = p.messages("admin")
    assert any("RunInProgress" in m and first in m for m in admin), admin
    assert p.claim()["run"] == first.rsplit(":", 1)[-1] and p.claim()["mode"] == "train"


def test_a_run_claims_a_model_whose_last_run_has_ended(moto, project):
    """Nothing releases a claim: a run that ended in any way (here: failed) leaves its name, and the next run,
    seeing it ended, takes the model over."""
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    failed = p.run(
        FakeSageMaker("validation:auc", training_fails=True), {"model": "gb-problem-gambling", "mode": "train"}
    )
    assert failed["status"] == "FAILED" and p.claim()["run"] == failed["name"]
    result = p.run(FakeSageMaker("validation:auc", metric=0.71), {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    assert p.claim()["run"] == result["name"]
    assert p.entered(result["executionArn"])[:6] == [
        "CheckInput", "Start", "ReadTheModelsRun", "ClaimedBefore", "DescribeTheLastRun", "LastRunEnded",
    ]  # fmt: skip


def test_a_claim_naming_a_run_step_functions_no_longer_keeps_is_taken_over(moto, project):
    """Step Functions forgets an ended execution after 90 days: a claim naming one it does not know has ended."""
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=p.env.runs_table_name,
        Item={"model": {"S": "gb-problem-gambling"}, "run": {"S": "forgotten"}, "mode": {"S": "train"}},
    )
    result = p.run(FakeSageMaker("validation:auc", metric=0.71), {"model": "gb-problem-gambling", "mode": "train"})
    assert result["status"] == "SUCCEEDED", result
    assert p.claim()["run"] == result["name"]


def test_scoring_claims_nothing(moto, project):
    """Batch scoring and the drift check change no endpoint: they neither wait for nor block a retraining."""
    p = Pipeline(project, "gb-problem-gambling", rows=60)
    p.run(FakeSageMaker("validation:auc"), {"model": "gb-problem-gambling", "mode": "score"})
    assert p.claim() is None
