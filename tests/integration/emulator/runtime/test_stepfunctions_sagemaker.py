"""The optimized SageMaker integration of the emulator's Step Functions (request-response and `.sync`),
and the aws-sdk, SSM, SNS and Wait paths the retraining pipeline uses.

Two servers: the emulator as a process (what users run), and moto's server in this process where a test
moves a job through InProgress to Failed, or leaves it running, as the local SageMaker runtime does.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import ACCOUNT, REGION
from tests.helpers.stepfunctions import HYPERPARAMETERS, finish, run, sagemaker_backend, training_job

CATCH_ALL = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
CAUGHT = {"Type": "Pass", "End": True}


def train_machine(
    resource: str = "arn:aws:states:::sagemaker:createTrainingJob.sync", prefix: str = "training/", **task
) -> dict:
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": training_job(prefix=prefix),
                "ResultPath": "$.training",
                "Catch": CATCH_ALL,
                "End": True,
                **task,
            },
            "Caught": CAUGHT,
        },
    }


# --------------------------------------------------------------------------- the emulator process


@pytest.fixture(scope="module")
def trained(emulator_client, training_data) -> dict:
    """One execution of a createTrainingJob.sync state machine: the local runtime trains the container's model."""
    return run(emulator_client("stepfunctions"), train_machine(), {"name": "sync-ok"}, name="sync-ok", timeout=240)


def test_sync_training_job_gives_the_describe_result(emulator_client, training_data, trained):
    assert trained["status"] == "SUCCEEDED", trained
    output = json.loads(trained["output"])
    assert "error" not in output, output["error"]
    training = output["training"]
    described = emulator_client("sagemaker").describe_training_job(TrainingJobName="sync-ok")
    assert training["TrainingJobName"] == "sync-ok" and training["TrainingJobStatus"] == "Completed"
    assert training["ModelArtifacts"] == described["ModelArtifacts"]
    assert {m["MetricName"] for m in training["FinalMetricDataList"]} == {"validation:auc", "validation:accuracy"}
    assert training["CreationTime"] == int(described["CreationTime"].timestamp() * 1000)  # epoch milliseconds


def test_a_training_job_without_data_fails_the_task_into_the_catch(emulator_client, training_data):
    result = run(
        emulator_client("stepfunctions"),
        train_machine(prefix="empty/"),
        {"name": "sfn-no-data"},
        name="sfn-no-data",
        timeout=240,
    )
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])  # the Describe result of the failed job, as Step Functions reports it
    assert cause["TrainingJobName"] == "sfn-no-data" and cause["TrainingJobStatus"] == "Failed"
    assert (
        cause["FailureReason"]
        == emulator_client("sagemaker").describe_training_job(TrainingJobName="sfn-no-data")["FailureReason"]
    )


def test_sync_tuning_job_gives_its_describe_result(emulator_client, training_data):
    job = {k: v for k, v in training_job().items() if k not in ("TrainingJobName.$", "HyperParameters")}
    params = {
        "HyperParameterTuningJobName.$": "$.name",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {"MetricName": "validation:auc", "Type": "Maximize"},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "no_trees", "MinValue": "4", "MaxValue": "8"}]},
        },
        "TrainingJobDefinition": {
            **job,
            "StaticHyperParameters": {k: v for k, v in HYPERPARAMETERS.items() if k != "no_trees"},
        },
    }
    definition = {
        "StartAt": "Tune",
        "States": {
            "Tune": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                "Parameters": params,
                "ResultPath": "$.tuning",
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }
    output = json.loads(
        run(emulator_client("stepfunctions"), definition, {"name": "tune-ok"}, name="tune-ok", timeout=240)["output"]
    )
    assert "error" not in output, output["error"]
    tuning = output["tuning"]
    assert tuning["HyperParameterTuningJobName"] == "tune-ok" and tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["BestTrainingJob"]["TrainingJobName"].startswith("tune-ok-")  # what the pipeline deploys


def test_request_response_gives_the_api_response(emulator_client, training_data):
    result = run(
        emulator_client("stepfunctions"),
        train_machine("arn:aws:states:::sagemaker:createTrainingJob", prefix="empty/"),
        {"name": "rr-ok"},
        name="rr-ok",
    )
    training = json.loads(result["output"])["training"]
    assert training == {"TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/rr-ok"}


def test_a_sagemaker_error_is_caught_under_its_step_functions_name(emulator_client, training_data):
    definition = {
        "StartAt": "Update",
        "States": {
            "Update": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:updateEndpoint",
                "Parameters": {"EndpointName": "no-such-endpoint", "EndpointConfigName": "no-such-config"},
                "Catch": CATCH_ALL,
                "End": True,
            },
            "Caught": CAUGHT,
        },
    }
    output = json.loads(run(emulator_client("stepfunctions"), definition, name="rr-error")["output"])
    assert output["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    assert "Service: AmazonSageMaker" in output["error"]["Cause"]


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        (  # refused by the emulator's SageMaker API
            "enum",
            {"ResourceConfig": {"InstanceType": "ml.m5.huge", "InstanceCount": 1, "VolumeSizeInGB": 5}},
            "1 validation error detected: Value 'ml.m5.huge' at 'resourceConfig.instanceType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ml.m4.xlarge, ",
        ),
        (  # refused by the runtime's boto3 client before it is sent: SageMaker's words all the same
            "missing",
            {"RoleArn": None},
            "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be "
            "null (Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: ",
        ),
    ],
)
def test_a_malformed_request_fails_the_task_with_sagemakers_validation_message(
    emulator_client, training_data, case, change, message
):
    params = {k: v for k, v in {**training_job(), **change}.items() if v is not None}
    output = json.loads(
        run(
            emulator_client("stepfunctions"),
            train_machine(Parameters=params),
            {"name": f"malformed-{case}"},
            name=f"malformed-{case}",
        )["output"]
    )
    assert output["error"]["Error"] == "SageMaker.AmazonSageMakerException"
    cause = output["error"]["Cause"]
    assert cause.startswith(message)
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; Request ID: " in cause
    jobs = emulator_client("sagemaker").list_training_jobs(NameContains=f"malformed-{case}")["TrainingJobSummaries"]
    assert jobs == []


def test_sync_on_an_action_without_a_job_is_refused_with_the_definition(emulator_client, training_data):
    from botocore.exceptions import ClientError

    definition = {
        "StartAt": "X",
        "States": {
            "X": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:describeEndpoint.sync",
                "Parameters": {},
                "End": True,
            }
        },
    }
    with pytest.raises(ClientError, match=r"describeEndpoint.sync is not supported: .sync is for .*createTrainingJob"):
        run(emulator_client("stepfunctions"), definition, name="bad-sync")


def test_the_pipelines_sdk_ssm_sns_and_wait_paths(emulator_client, training_data, trained):
    """What the rendered pipeline calls besides SageMaker jobs: aws-sdk describeTrainingJob, getParameter of a
    missing record (caught under the names the template lists), putParameter, sns:publish, a Wait loop."""
    sns, sqs = emulator_client("sns"), emulator_client("sqs")
    topic = sns.create_topic(Name="admin")["TopicArn"]
    queue = sqs.create_queue(QueueName="admin-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    not_found = ["Ssm.ParameterNotFoundException", "SSM.ParameterNotFoundException", "ssm.ParameterNotFoundException"]
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeTrainingJob",
                "Parameters": {"TrainingJobName": "sync-ok"},
                "ResultSelector": {"status.$": "$.TrainingJobStatus"},
                "ResultPath": "$.described",
                "Next": "Read",
            },
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ssm:getParameter",
                "Parameters": {"Name": "/vwt-test/current-model/none"},
                "ResultPath": "$.record",
                "Catch": [{"ErrorEquals": not_found, "ResultPath": "$.missing", "Next": "Write"}],
                "Next": "Write",
            },
            "Write": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:ssm:putParameter",
                "Parameters": {
                    "Name": "/vwt-test/current-model/m",
                    "Type": "String",
                    "Overwrite": True,
                    "Value.$": "States.JsonToString($.described)",
                },
                "ResultPath": None,
                "Next": "Start",
            },
            "Start": {"Type": "Pass", "Parameters": {"polls": 0}, "ResultPath": "$.poll", "Next": "Wait"},
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
            "Count": {
                "Type": "Pass",
                "Parameters": {"polls.$": "States.MathAdd($.poll.polls, 1)"},
                "ResultPath": "$.poll",
                "Next": "Enough",
            },
            "Enough": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.poll.polls", "NumericGreaterThanEquals": 2, "Next": "Notify"}],
                "Default": "Wait",
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": topic, "Subject": "done", "Message.$": "States.JsonToString($.poll)"},
                "ResultPath": None,
                "End": True,
            },
        },
    }
    result = run(emulator_client("stepfunctions"), definition, name="sdk-paths")
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["described"] == {"status": "Completed"}
    assert output["missing"]["Error"] in not_found
    assert json.loads(emulator_client("ssm").get_parameter(Name="/vwt-test/current-model/m")["Parameter"]["Value"]) == {
        "status": "Completed"
    }
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(messages[0]["Body"]) == {"polls": 2}


# --------------------------------------------------------------------------- jobs that take time (in-process moto)


@pytest.fixture
def slow_jobs(monkeypatch):
    """New training and processing jobs stay InProgress until a test says otherwise (as local jobs run)."""
    backend = sagemaker_backend()
    for kind, attribute in (("training", "training_job_status"), ("processing", "processing_job_status")):
        create = getattr(backend, f"create_{kind}_job")

        def created(*args, _create=create, _attribute=attribute, **kwargs):
            job = _create(*args, **kwargs)
            setattr(job, _attribute, "InProgress")
            return job

        monkeypatch.setattr(backend, f"create_{kind}_job", created)
    return backend


def wait_for(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_failed_training_job_fails_the_task_into_the_catch(moto_server, slow_jobs):
    sfn = moto_server("stepfunctions")
    execution = run(sfn, train_machine(), {"name": "will-fail"}, name="fails", wait=False)["executionArn"]
    wait_for(lambda: "will-fail" in slow_jobs.training_jobs)
    time.sleep(0.3)  # a few polls see InProgress: the task waits
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    job = slow_jobs.training_jobs["will-fail"]
    job.failure_reason = "AlgorithmError: the train channel holds no data"
    job.training_job_status = "Failed"
    result = finish(sfn, execution)
    assert result["status"] == "SUCCEEDED"  # the Catch took it
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"] == "AlgorithmError: the train channel holds no data"


def test_a_completed_job_after_polls_gives_its_final_describe(moto_server, slow_jobs):
    sfn = moto_server("stepfunctions")
    execution = run(sfn, train_machine(), {"name": "slow-ok"}, name="slow-ok", wait=False)["executionArn"]
    wait_for(lambda: "slow-ok" in slow_jobs.training_jobs)
    time.sleep(0.3)
    slow_jobs.training_jobs["slow-ok"].training_job_status = "Completed"
    output = json.loads(finish(sfn, execution)["output"])
    assert output["training"]["TrainingJobStatus"] == "Completed"


def processing_machine(**task) -> dict:
    params = {
        "ProcessingJobName.$": "$.name",
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
        "AppSpecification": {"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:1"},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
    }
    return {
        "StartAt": "Process",
        "States": {
            "Process": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": params,
                "Catch": CATCH_ALL,
                "End": True,
                **task,
            },
            "Caught": CAUGHT,
        },
    }


def test_stopping_the_execution_stops_the_job(moto_server, slow_jobs):
    sfn = moto_server("stepfunctions")
    execution = run(sfn, processing_machine(), {"name": "stop-me"}, name="stop", wait=False)["executionArn"]
    wait_for(lambda: "stop-me" in slow_jobs.processing_jobs)
    sfn.stop_execution(executionArn=execution)
    wait_for(lambda: slow_jobs.processing_jobs["stop-me"].processing_job_status == "Stopped")
    # the execution's worker stops the job and then records ABORTED: a caller polls for it, as against AWS
    wait_for(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_a_task_timeout_stops_the_job_and_is_caught(moto_server, slow_jobs):
    sfn = moto_server("stepfunctions")
    result = run(sfn, processing_machine(TimeoutSeconds=3), {"name": "too-slow"}, name="timeout")
    assert json.loads(result["output"])["error"]["Error"] == "States.Timeout"
    assert "too-slow" in slow_jobs.processing_jobs
    wait_for(lambda: slow_jobs.processing_jobs["too-slow"].processing_job_status == "Stopped")


def test_an_execution_timeout_stops_the_job(moto_server, slow_jobs):
    sfn = moto_server("stepfunctions")
    result = run(
        sfn, {**processing_machine(), "TimeoutSeconds": 2}, {"name": "execution-too-slow"}, name="exec-timeout"
    )
    assert result["status"] == "TIMED_OUT"
    wait_for(lambda: slow_jobs.processing_jobs["execution-too-slow"].processing_job_status == "Stopped")
