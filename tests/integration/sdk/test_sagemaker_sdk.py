"""A real client: the SageMaker Python SDK trains with the project's image and predicts through its endpoint.

The SDK runs in its own virtual environment (.venv-sdk, made once from tests/sdk/requirements.txt: about 20 s),
in a separate process that only sets AWS_ENDPOINT_URL (tests/sdk/notebook_flow.py): what a data scientist does
in a notebook. The emulator's runtime runs the training job (`vwt_model train`) and serves the endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO, gone
from vwt_deploy.config import load

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VWT_SDK_VENV", REPO / ".venv-sdk"))
MODEL = "gb-problem-gambling"


def sdk_python() -> Path:
    python = VENV / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import sagemaker"], capture_output=True) if python.exists() else None
    if probe is None or probe.returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(HERE / "requirements.txt")],
            check=True,
            timeout=900,
        )
    return python


def test_estimator_fit_and_predictor(emulator, emulator_client, tmp_path) -> None:
    from vwt_deploy.operate.predict import sample_records
    from vwt_deploy.operate.sample import generate
    from vwt_model.schema import write_schema
    from vwt_model.spec import METRICS, metric_regex

    env = load("local", REPO)
    model = env.catalogue.model(MODEL)
    s3 = emulator_client("s3")
    s3.create_bucket(Bucket="notebook", CreateBucketConfiguration={"LocationConstraint": env.region})
    s3.put_object(Bucket="notebook", Key="train/data.csv", Body=generate(env, model.data_bucket, 2000, seed=7).to_csv())
    s3.put_object(
        Bucket="notebook",
        Key="train/schema.json",
        Body=write_schema(model.features, tmp_path / "schema.json").read_bytes(),
    )
    records = sample_records(s3, "notebook", "train/", {f.name: f.type for f in model.features}, 3, seed=1)
    for record in records:
        record.pop("user_id")

    args = {
        "endpoint_url": emulator.url,
        "region": env.region,
        "image_uri": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/vwt-local-sklearn:notebook",
        "role_arn": "arn:aws:iam::123456789012:role/notebook",
        "output_path": "s3://notebook/output/",
        "hyperparameters": model.training_hyperparameters(),
        "metric_definitions": [{"Name": n, "Regex": metric_regex(n)} for n in METRICS[model.task]],
        "train_uri": "s3://notebook/train/",
        "job_name": "notebook-fit",
        "endpoint_name": "notebook-endpoint",
        "records": records,
    }
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHONPATH"))}
    res = subprocess.run(
        [str(sdk_python()), str(HERE / "notebook_flow.py"), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env_vars,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    result = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    assert result, res.stdout[-4000:]
    out = json.loads(result[-1].removeprefix("RESULT "))
    assert out["status"] == "Completed"
    assert out["model_data"] == "s3://notebook/output/notebook-fit/output/model.tar.gz"
    head = s3.head_object(Bucket="notebook", Key="output/notebook-fit/output/model.tar.gz")
    assert head["ContentLength"] > 0
    assert 0.5 < out["metrics"][model.gate_metric] <= 1.0  # a real model that learned something
    answer = out["answer"]
    assert answer["model_version"] == "notebook-fit"
    assert len(answer["predictions"]) == 3
    # the endpoint the SDK deleted is gone, and its serve process with it (the emulator is shared: other
    # tests' endpoints may be listed, never this one)
    assert "notebook-endpoint" not in [
        e["EndpointName"] for e in emulator_client("sagemaker").list_endpoints()["Endpoints"]
    ]
    assert [p for p in emulator.processes() if "notebook-endpoint" in p["name"] and not gone(p["pid"], 10)] == []
