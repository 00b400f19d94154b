"""Batch scoring's two Lambda steps, around the SageMaker Batch Transform job (templates/steps/score.j2).

`check_handler` reads every row the transform will score, before anything runs:
    event:  {"bucket": "<data bucket>", "prefix": "scoring/<model>/", "model": "<model>",
             "operators": ["<id>", ...],
             "sizing": {"instance_type": "ml.m5.xlarge", "records_per_instance": 2000000, "max_instances": 4}}
    result: {"rows": int, "bytes": int, "objects": int, "operators": {"<id>": rows, ...},
             "instance_type": str, "instance_count": int}
  Files are headerless CSV, `user_id,<features in training order>`, in one folder per operator
  (`scoring/<model>/<operator>/*.csv`). Each value is checked against the model's feature schema (the
  catalogue the package bundles, as the API checks a request). Any bad row fails the step with
  InvalidScoringData naming the file, the line and the problem (the first 20, then how many more), so the
  transform never runs and nothing is published.

`publish_handler` turns the transform's output into what the API would have made of the same players:
    event:  {"bucket": "<model bucket>", "prefix": "scoring/<job>/", "model": "<model>",
             "serving": {<the serving model's record>}, "job_name": "<job>", "date": "YYYY-MM-DD",
             "results_bucket": "<results bucket>"}
    result: {"records": int, "published": int, "operators": {"<id>": {"records": n, "<risk group>": n, ...}},
             "results": ["s3://<results bucket>/<operator>/<model>/<date>.csv", ...]}
  Each output line is `user_id,score` (the transform joins the input's user_id to its score). Scores map to
  risk groups and intervention levels with the same table and the same event builders as the API
  (predict.catalogue, predict.events), the events go to the model's topic in batches of 10 with the
  operator's id as a message attribute (each operator's queue filters on it), and each operator gets a
  dated results file in its prefix of the results bucket. Event ids are `<job>.<operator>:<index>`: a
  retried step publishes the same ids, so consumers drop duplicates.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import boto3
from predict import catalogue as catalogue_mod
from predict.events import Batch, intervention_events, prediction_events
from predict.metrics import emf_line
from predict.publish import entries, publish

#: rows checked and published per part: bounded memory whatever the number of players
PART_ROWS = 10_000
MAX_PROBLEMS = 20
_TRUE = frozenset({"true", "1", "yes", "t", "y"})  # the container's spelling of a boolean (vwt_model.schema)
_FALSE = frozenset({"false", "0", "no", "f", "n"})
METRICS_NAMESPACE = "VWT/Scoring"


class InvalidEvent(Exception):
    """The event is not what the state machine sends."""


class NoScoringData(Exception):
    """The scoring prefix holds no players."""


class InvalidScoringData(Exception):
    """Rows the model cannot score: every problem by file and line."""


class ScoringOutputError(Exception):
    """The transform's output is not what it should be (a line that is not `user_id,score`)."""


def _s3():
    return boto3.client("s3")


def _sns():
    return boto3.client("sns")


def _objects(s3, bucket: str, prefix: str) -> Iterator[dict]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/") and obj["Size"] > 0:
                yield obj


def _lines(s3, bucket: str, key: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of every non-empty line of an object, streamed."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for number, raw in enumerate(body.iter_lines(), 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if line:
            yield number, line


# --------------------------------------------------------------------------- check


def _parse(feature: Any, text: str) -> Any:
    """A CSV field as the value the feature's check takes (the JSON type the API receives)."""
    if feature.type == "bool":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        return text
    if feature.type in ("int", "float"):
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return text
    return text


class _Checker:
    def __init__(self, model: Any):
        self.model = model
        self.width = 1 + len(model.features)
        self.problems: list[str] = []
        self.count = 0

    def add(self, where: str, problem: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"{where}: {problem}")

    def row(self, where: str, line: str) -> None:
        fields = next(csv.reader([line]))
        if len(fields) != self.width:
            self.add(
                where,
                f"{len(fields)} fields, expected {self.width} (user_id, then {', '.join(self.model.names)}; no header)",
            )
            return
        user_id = fields[0].strip()
        if user_id.lower() == "user_id":
            self.add(where, f"a header line; scoring files have none (columns: user_id, {', '.join(self.model.names)})")
            return
        if not user_id:
            self.add(where, "user_id is empty")
            return
        for feature, text in zip(self.model.features, fields[1:], strict=True):
            if text.strip() == "":
                if feature.required:
                    self.add(f"{where} (user_id {user_id})", f"{feature.name} is required")
                continue
            _, problem = feature.check(_parse(feature, text))
            if problem:
                self.add(f"{where} (user_id {user_id})", f"{feature.name} {problem}")


def check(s3, catalogue: Any, event: dict) -> dict[str, Any]:
    try:
        bucket, prefix, name = event["bucket"], event["prefix"], event["model"]
        operators, sizing = list(event["operators"]), event["sizing"]
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"the event needs bucket, prefix, model, operators and sizing (missing {exc})") from None
    model = catalogue.models.get(name)
    if model is None:
        raise InvalidEvent(f"model {name!r} is not in the bundled catalogue")
    checker = _Checker(model)
    rows: dict[str, int] = dict.fromkeys(operators, 0)
    total_bytes = objects = 0
    for obj in _objects(s3, bucket, prefix):
        key = obj["Key"]
        operator = key[len(prefix) :].split("/", 1)[0] if "/" in key[len(prefix) :] else None
        if operator not in rows:
            checker.add(
                f"s3://{bucket}/{key}",
                f"not in an operator's folder: put each operator's players in {prefix}<operator>/ "
                f"(operators: {', '.join(operators)})",
            )
            continue
        objects += 1
        total_bytes += obj["Size"]
        for number, line in _lines(s3, bucket, key):
            rows[operator] += 1
            checker.row(f"s3://{bucket}/{key} line {number}", line)
    if checker.count:
        more = f" (and {checker.count - MAX_PROBLEMS} more)" if checker.count > MAX_PROBLEMS else ""
        raise InvalidScoringData(
            f"{checker.count} problem(s) in the players to score; nothing was scored or published{more}:\n"
            + "\n".join(checker.problems)
        )
    total = sum(rows.values())
    if total == 0:
        raise NoScoringData(
            f"no players to score under s3://{bucket}/{prefix}: put headerless CSV files (user_id, then "
            f"{', '.join(model.names)}) in {prefix}<operator>/"
        )
    per_instance = max(1, int(sizing.get("records_per_instance") or 1))
    count = min(max(1, int(sizing.get("max_instances") or 1)), math.ceil(total / per_instance))
    return {
        "rows": total,
        "bytes": total_bytes,
        "objects": objects,
        "operators": {k: v for k, v in rows.items() if v},
        "instance_type": sizing["instance_type"],
        "instance_count": count,
    }


def check_handler(event: dict, context: Any = None) -> dict[str, Any]:
    result = check(_s3(), catalogue_mod.load(), event)
    print(json.dumps({"checked": f"s3://{event['bucket']}/{event['prefix']}", **result}))
    return result


# --------------------------------------------------------------------------- publish


class _Results:
    """One operator's results file, written to a temporary file and uploaded once complete."""

    def __init__(self, risk: bool, target: str | None):
        self.raw = tempfile.TemporaryFile()  # noqa: SIM115 - closed by upload
        self.file = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
        self.writer = csv.writer(self.file)
        if risk:
            self.writer.writerow(["user_id", "score", "risk_group", "intervention_level", "model_version"])
        else:
            self.writer.writerow(["user_id", "prediction", "target", "model_version"])
        self.risk, self.target = risk, target

    def add(self, predictions: list[dict], version: str) -> None:
        if self.risk:
            self.writer.writerows(
                [p["user_id"], repr(p["prediction"]), p["risk_group"], p["intervention_level"], version]
                for p in predictions
            )
        else:
            self.writer.writerows([p["user_id"], repr(p["prediction"]), self.target, version] for p in predictions)

    def upload(self, s3, bucket: str, key: str) -> None:
        """Upload, streamed from the temporary file; the bucket's default encryption (the environment's key)
        applies, as no encryption header is sent."""
        self.file.flush()
        self.raw.seek(0)
        try:
            s3.upload_fileobj(self.raw, bucket, key, ExtraArgs={"ContentType": "text/csv"})
        finally:
            self.file.close()


def _scores(s3, bucket: str, key: str) -> Iterator[tuple[str, float]]:
    for number, line in _lines(s3, bucket, key):
        user_id, _, value = line.rpartition(",")
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not user_id or not math.isfinite(score):
            raise ScoringOutputError(
                f"s3://{bucket}/{key} line {number}: expected user_id,score from the transform job, got {line[:80]!r}"
            )
        yield user_id, score


class _Feed:
    """One operator's scores of one run: published in parts of PART_ROWS, written to its results file."""

    def __init__(self, run: _Run, operator: str):
        self.run = run
        self.batch = Batch(run.model, run.version, operator, f"{run.job}.{operator}", run.stamp, run.environment)
        self.counts: dict[str, int] = {"records": 0, **dict.fromkeys(run.groups, 0)}
        self.out = _Results(run.risk, run.model.label)
        self.ids: list[str] = []
        self.scores: list[float] = []

    def add(self, user_id: str, score: float) -> None:
        self.ids.append(user_id)
        self.scores.append(score)
        if len(self.ids) >= PART_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.ids:
            return
        run, first = self.run, self.counts["records"]
        if run.risk:
            intervention = run.intervention
            predictions, messages, attrs, groups = intervention_events(
                self.batch, intervention.classify, intervention.names, self.ids, self.scores, first
            )
            for group, n in groups.items():
                self.counts[group] += n
        else:
            predictions, messages, attrs = prediction_events(self.batch, self.ids, self.scores, first)
        publish(run.sns, run.topic, entries(messages, attrs))
        self.out.add(predictions, run.version)
        self.counts["records"] += len(self.ids)
        self.ids, self.scores = [], []


class _Run:
    """What every operator's feed of one publish step shares."""

    def __init__(self, sns: Any, catalogue: Any, environ: dict, event: dict):
        try:
            self.bucket, self.prefix, self.name = event["bucket"], event["prefix"], event["model"]
            self.job, self.date, self.results_bucket = event["job_name"], event["date"], event["results_bucket"]
            serving = event.get("serving") or {}
        except (KeyError, TypeError) as exc:
            raise InvalidEvent(
                f"the event needs bucket, prefix, model, job_name, date and results_bucket (missing {exc})"
            ) from None
        self.model = catalogue.models.get(self.name)
        if self.model is None:
            raise InvalidEvent(f"model {self.name!r} is not in the bundled catalogue")
        # the version the API reports for the same model: the container's (its training job; "baseline")
        self.version = str(serving.get("training_job") or serving.get("version") or "unknown")
        self.risk = self.model.consumer == "intervention"
        self.topic = environ.get("VWT_INTERVENTION_TOPIC_ARN" if self.risk else "VWT_OPERATOR_TOPIC_ARN") or ""
        if not self.topic:
            raise InvalidEvent(f"the function's environment lacks the {self.model.consumer} topic (Terraform sets it)")
        self.environment = environ.get("VWT_ENVIRONMENT") or catalogue.environment or "unknown"
        self.intervention = catalogue.intervention
        self.groups = list(self.intervention.names) if self.risk else []
        self.stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self.sns = sns


def publish_scores(s3, sns, catalogue: Any, environ: dict, event: dict) -> dict[str, Any]:
    run = _Run(sns, catalogue, environ, event)
    # every output file, by operator (the first folder under the job's output: the input's layout)
    by_operator: dict[str, list[str]] = {}
    for obj in _objects(s3, run.bucket, run.prefix):
        rest = obj["Key"][len(run.prefix) :]
        if "/" in rest and rest.endswith(".out"):
            by_operator.setdefault(rest.split("/", 1)[0], []).append(obj["Key"])
    if not by_operator:
        raise ScoringOutputError(f"the transform job left no output under s3://{run.bucket}/{run.prefix}")
    summary: dict[str, dict[str, int]] = {}
    results = []
    for operator, keys in sorted(by_operator.items()):
        feed = _Feed(run, operator)
        for key in sorted(keys):
            for user_id, score in _scores(s3, run.bucket, key):
                feed.add(user_id, score)
        feed.flush()
        result_key = f"{operator}/{run.name}/{run.date}.csv"
        feed.out.upload(s3, run.results_bucket, result_key)
        results.append(f"s3://{run.results_bucket}/{result_key}")
        summary[operator] = feed.counts
    records = sum(c["records"] for c in summary.values())
    metrics: dict[str, float] = {"Records": records, "Operators": len(summary)}
    for group in run.groups:
        metrics[f"RiskGroup_{group}"] = sum(c[group] for c in summary.values())
    print(emf_line(METRICS_NAMESPACE, run.environment, run.name, int(time.time() * 1000), metrics, {"job": run.job}))
    return {"records": records, "published": records, "operators": summary, "results": results}


def publish_handler(event: dict, context: Any = None) -> dict[str, Any]:
    return publish_scores(_s3(), _sns(), catalogue_mod.load(), dict(os.environ), event)
