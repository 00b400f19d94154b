"""What a data scientist runs in a notebook against the local environment (docs/local-environment.md, "Use it from a
notebook").

Run with the SageMaker Python SDK's own interpreter (tests/sdk/test_sagemaker_sdk.py makes that venv):

    python notebook_flow.py '<json arguments>'

The only local touch is AWS_ENDPOINT_URL (and test credentials): the SDK, boto3 and this code are
what they are against AWS. Prints one JSON object with what the SDK reported.
"""

import json
import os
import sys

args = json.loads(sys.argv[1])
os.environ["AWS_ENDPOINT_URL"] = args["endpoint_url"]  # every boto3 client the SDK makes goes to the emulator
os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")

import boto3  # noqa: E402
import sagemaker  # noqa: E402
from sagemaker.deserializers import JSONDeserializer  # noqa: E402
from sagemaker.estimator import Estimator  # noqa: E402
from sagemaker.serializers import JSONSerializer  # noqa: E402

session = sagemaker.Session(
    boto3.Session(region_name=args["region"], aws_access_key_id="test", aws_secret_access_key="test")
)
estimator = Estimator(
    image_uri=args["image_uri"],
    role=args["role_arn"],
    instance_count=1,
    instance_type="ml.m5.large",
    output_path=args["output_path"],
    hyperparameters=args["hyperparameters"],
    metric_definitions=args["metric_definitions"],
    sagemaker_session=session,
)
estimator.fit({"train": args["train_uri"]}, job_name=args["job_name"], logs="All")
job = estimator.latest_training_job.describe()

predictor = estimator.deploy(
    initial_instance_count=1,
    instance_type="ml.m5.large",
    endpoint_name=args["endpoint_name"],
    serializer=JSONSerializer(),
    deserializer=JSONDeserializer(),
)
answer = predictor.predict(args["records"])
predictor.delete_endpoint()
print(
    "\nRESULT "
    + json.dumps(
        {
            "status": job["TrainingJobStatus"],
            "model_data": estimator.model_data,
            "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
            "answer": answer,
        }
    )
)
