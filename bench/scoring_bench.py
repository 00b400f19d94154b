"""Benchmark of batch scoring: a SageMaker transform job in the local runtime against the model in-process.

One catalogue model (gb-problem-gambling, its catalogue hyperparameters) is trained by the container's own
`python -m vwt_model train` on `vwt-deploy data sample`'s rows; then, on the same machine:

- the transform job: an emulator of its own (IAM enforced, as users run it), the model as a SageMaker model whose
  execution role may read the input and the artifact and write the output with the KMS key, 1,000,000 headerless
  rows (`user_id,<features in training order>`, what the nightly scoring pipeline reads) in one object, and the
  pipeline's CreateTransformJob (MultiRecord, 6 MB, 2 in flight, InputFilter `$[1:]`, JoinSource Input,
  OutputFilter `$[0,-1]`, SSE-KMS output). Measured: the wall time from CreateTransformJob to Completed as a
  caller polling DescribeTransformJob sees it (serve start-up included), and the job's TransformStartTime ->
  TransformEndTime (the serve process already up). The output is checked line by line against the in-process
  scores.
- in-process: `vwt_model.predictor.Predictor` of the same artifact on the same rows: `predict` on the encoded
  matrix (the model alone, one onnxruntime thread: what the team's goal names), and `predict(parse(csv))` (the
  same CSV parsed first, as any scorer of these files must).

    python bench/scoring_bench.py [--rows N] [--repeat N] [--quick] [--json out.json]

The goal the team set: the transform job at least 0.8x the in-process records/s. `main()` returns the figures
(the key "scoring") for bench/run.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "containers" / "sklearn"))

MODEL = "gb-problem-gambling"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
DATA, MODELS = "bench-scoring-data", "bench-scoring-models"
TRAIN_ROWS = 20000
GOAL = 0.8


def log(message: str) -> None:
    print(f"[scoring-bench] {message}", file=sys.stderr, flush=True)


def make_data(rows: int, work: Path) -> tuple[bytes, list[str]]:
    """`data sample`'s rows for the model's data bucket: (the headerless scoring CSV, the feature names in training
    order); the first TRAIN_ROWS rows (with their label) and the schema go to a training
    folder laid out as SageMaker lays /opt/ml."""
    from vwt_deploy.config import load
    from vwt_deploy.operate.sample import generate

    env = load("local", REPO)
    model = next(m for m in env.catalogue.models if m.name == MODEL)
    names = [f.name for f in model.features]
    data = generate(env, model.data_bucket, max(rows, TRAIN_ROWS), seed=0)
    columns = {c.name: c for c in data.columns}
    out = io.BytesIO()
    for start in range(0, rows, 50000):
        stop = min(start + 50000, rows)
        cells = [columns["user_id"].cells(start, stop)] + [columns[n].cells(start, stop) for n in names]
        out.write(("\n".join(",".join(r) for r in zip(*cells, strict=True)) + "\n").encode())
    root = work / "ml"
    train = root / "input" / "data" / "train"
    train.mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True)
    head = ["user_id", *names, model.label]
    cells = [columns[c].cells(0, TRAIN_ROWS) for c in head]
    (train / "data.csv").write_text(",".join(head) + "\n" + "\n".join(",".join(r) for r in zip(*cells, strict=True)))
    (train / "schema.json").write_bytes(data.schema_json())
    (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(model.training_hyperparameters()))
    (root / "input" / "config" / "inputdataconfig.json").write_text(json.dumps({"train": {"ContentType": "text/csv"}}))
    return out.getvalue(), names


def train(work: Path) -> Path:
    root = work / "ml"
    env = {**os.environ, "VWT_ML_ROOT": str(root), "PYTHONPATH": str(REPO / "containers" / "sklearn")}
    done = subprocess.run([sys.executable, "-m", "vwt_model", "train"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"training failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    artifact = work / "model.tar.gz"
    with tarfile.open(artifact, "w:gz") as tar:
        for path in sorted((root / "model").iterdir()):
            tar.add(path, arcname=path.name)
    return root / "model"


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def in_process(model_dir: Path, scoring: bytes, repeat: int) -> tuple[dict, list[str]]:
    """The model in this process on the same rows: (figures, its scores as the CSV answer writes them)."""
    from vwt_model.predictor import Predictor

    predictor = Predictor(model_dir)
    features = b"\n".join(line.partition(b",")[2] for line in scoring.splitlines()) + b"\n"
    rows = features.count(b"\n")
    X = predictor.parse(features, "text/csv", 1 << 62)
    predict_s = best(lambda: predictor.predict(X), repeat)
    parse_predict_s = best(lambda: predictor.predict(predictor.parse(features, "text/csv", 1 << 62)), repeat)
    scores = [repr(s) for s in predictor.predict(X)]
    return {
        "rows": rows,
        "predict_s": predict_s,
        "predict_rps": rows / predict_s,
        "parse_predict_s": parse_predict_s,
        "parse_predict_rps": rows / parse_predict_s,
        "onnxruntime_threads": 1,
    }, scores


def _role(iam) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{DATA}"},
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{DATA}/*", f"arn:aws:s3:::{MODELS}/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
                "Resource": f"arn:aws:s3:::{MODELS}/scoring/*",
            },
            {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"},
        ],
    }
    arn = iam.create_role(RoleName="bench-scorer", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="bench-scorer", PolicyName="scoring", PolicyDocument=json.dumps(policy))
    return arn


def transform(work: Path, scoring: bytes, expected: list[str], repeat: int, inflight: int) -> dict:
    """The pipeline's transform job on an emulator of its own, `repeat` times."""
    import boto3

    from vwt_deploy.emulator.enforcement import MODE_ENV
    from vwt_deploy.emulator.manager import Emulator

    saved = os.environ.get(MODE_ENV)
    os.environ[MODE_ENV] = "enforce"  # the emulator process inherits it: IAM as users run it
    manager = Emulator(work / "emulator")
    try:
        info = manager.start()
    finally:
        if saved is None:
            del os.environ[MODE_ENV]
        else:
            os.environ[MODE_ENV] = saved
    runs = []
    try:

        def client(service: str):
            return boto3.client(
                service,
                endpoint_url=info.url,
                region_name=REGION,
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )

        s3, sm = client("s3"), client("sagemaker")
        for bucket in (DATA, MODELS):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        key = client("kms").create_key(Description="scoring output")["KeyMetadata"]["Arn"]
        s3.upload_file(str(work / "model.tar.gz"), MODELS, "model/model.tar.gz")
        log(f"uploading {len(scoring) / 1e6:.0f} MB of rows to the emulator's S3")
        s3.put_object(Bucket=DATA, Key=f"scoring/{MODEL}/operator-1/players.csv", Body=scoring)
        sm.create_model(
            ModelName=MODEL,
            ExecutionRoleArn=_role(client("iam")),
            PrimaryContainer={
                "Image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/vwt:bench",
                "ModelDataUrl": f"s3://{MODELS}/model/model.tar.gz",
            },
        )
        ecr = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "ecr:GetAuthorizationToken",
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchGetImage",
                    ],
                    "Resource": "*",
                }
            ],
        }
        client("iam").put_role_policy(RoleName="bench-scorer", PolicyName="pull", PolicyDocument=json.dumps(ecr))
        rows = len(expected)
        for attempt in range(repeat):
            name = f"bench-scoring-{attempt + 1}"
            log(f"transform job {attempt + 1}/{repeat} over {rows:,} rows")
            started = time.perf_counter()
            sm.create_transform_job(
                TransformJobName=name,
                ModelName=MODEL,
                BatchStrategy="MultiRecord",
                MaxPayloadInMB=6,
                MaxConcurrentTransforms=inflight,
                TransformInput={
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{DATA}/scoring/{MODEL}/"}
                    },
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                    "CompressionType": "None",
                },
                TransformOutput={
                    "S3OutputPath": f"s3://{MODELS}/scoring/{name}/",
                    "Accept": "text/csv",
                    "AssembleWith": "Line",
                    "KmsKeyId": key,
                },
                TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeKmsKeyId": key},
                DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
            )
            while (job := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
                time.sleep(0.02)
            wall = time.perf_counter() - started
            if job["TransformJobStatus"] != "Completed":
                raise SystemExit(f"the transform job ended {job['TransformJobStatus']}: {job.get('FailureReason')}")
            job_s = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
            out = s3.get_object(Bucket=MODELS, Key=f"scoring/{name}/operator-1/players.csv.out")["Body"].read()
            lines = out.decode().splitlines()
            users = [line.partition(",")[0] for line in scoring.decode().splitlines()]
            correct = lines == [f"{u},{s}" for u, s in zip(users, expected, strict=True)]
            if not correct:
                raise SystemExit("the transform job's output differs from the in-process scores")
            runs.append({"wall_s": wall, "job_s": job_s})
            log(f"  {wall:.2f} s from CreateTransformJob to Completed, {job_s:.2f} s TransformStartTime->EndTime")
    finally:
        manager.stop()
    wall = min(r["wall_s"] for r in runs)
    job_s = min(r["job_s"] for r in runs)
    return {
        "rows": len(expected),
        "max_concurrent_transforms": inflight,
        "wall_s": wall,
        "wall_rps": len(expected) / wall,
        "job_s": job_s,
        "job_rps": len(expected) / job_s,
        "startup_s": statistics.median(r["wall_s"] - r["job_s"] for r in runs),
        "output_checked": True,
        "runs": runs,
    }


def table(r: dict) -> str:
    t, p = r["transform"], r["in_process"]
    lines = [
        f"{'measure (' + format(t['rows'], ',') + ' rows)':<52}{'s':>10}{'records/s':>14}{'goal':>14}",
        f"{'transform job, CreateTransformJob -> Completed':<52}{t['wall_s']:>10.2f}{t['wall_rps']:>14,.0f}",
        f"{'transform job, TransformStartTime -> EndTime':<52}{t['job_s']:>10.2f}{t['job_rps']:>14,.0f}",
        f"{'in-process Predictor.predict (encoded rows)':<52}{p['predict_s']:>10.2f}{p['predict_rps']:>14,.0f}",
        f"{'in-process Predictor.predict(parse(csv))':<52}{p['parse_predict_s']:>10.2f}"
        f"{p['parse_predict_rps']:>14,.0f}",
        f"{'ratio: job wall / predict':<52}{'':>10}{r['ratios']['wall_vs_predict']:>14.2f}{'>= 0.8x':>14}",
        f"{'ratio: job start->end / predict':<52}{'':>10}{r['ratios']['job_vs_predict']:>14.2f}",
        f"{'ratio: job wall / parse+predict':<52}{'':>10}{r['ratios']['wall_vs_parse_predict']:>14.2f}",
        f"{'ratio: job start->end / parse+predict':<52}{'':>10}{r['ratios']['job_vs_parse_predict']:>14.2f}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the fastest counts")
    parser.add_argument("--inflight", type=int, default=2, help="MaxConcurrentTransforms of the job")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, one run (a smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    rows, repeat = (100_000, 1) if args.quick else (args.rows, max(1, args.repeat))
    with tempfile.TemporaryDirectory(prefix="vwt-scoring-bench-") as tmp:
        work = Path(tmp)
        log(f"generating {rows:,} rows of {MODEL} with `data sample`'s code")
        scoring, names = make_data(rows, work)
        log(f"training {MODEL} on {TRAIN_ROWS:,} rows with vwt_model train")
        model_dir = train(work)
        log("in-process predictions")
        inproc, expected = in_process(model_dir, scoring, repeat)
        results = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
            "model": MODEL,
            "features": len(names),
            "in_process": inproc,
            "transform": transform(work, scoring, expected, repeat, args.inflight),
        }
    t, p = results["transform"], results["in_process"]
    results["ratios"] = {
        "wall_vs_predict": t["wall_rps"] / p["predict_rps"],
        "job_vs_predict": t["job_rps"] / p["predict_rps"],
        "wall_vs_parse_predict": t["wall_rps"] / p["parse_predict_rps"],
        "job_vs_parse_predict": t["job_rps"] / p["parse_predict_rps"],
    }
    results["goals"] = {"transform_at_least_0_8x_in_process_predict": results["ratios"]["wall_vs_predict"] >= GOAL}
    print(table(results))
    print("goals: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in results["goals"].items()))
    out = {"scoring": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True, default=str) + "\n")
    return out


if __name__ == "__main__":
    main()
