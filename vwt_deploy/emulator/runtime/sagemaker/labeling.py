"""Ground Truth labelling jobs, run locally: moto has no CreateLabelingJob, so the runtime keeps the record and runs
the job.

A `LabelingRun` is one text classification job (single label), run in a thread as the job's execution role
(SageMaker's session of `RoleArn`, as training reads its channels), so IAM decides every S3 and KMS request it makes:

1. it reads the input manifest (JSON Lines, one text object a line: `source`, and whatever else the object carries,
   passed through to the output as Ground Truth does) and the label categories (`LabelCategoryConfigS3Uri`);
2. the **work team** is local: its answers are the operators' label files (CSV, `user_id,label`), found through
   `workforce.json` beside the input manifest (`{"labels": "s3://bucket/prefix/"}`, written by the pipeline's
   `prepare_ground_truth`). An object's player is its `vwt-user-id`. A player with no answer is a task no worker
   did: the object stays unlabelled. Label files with an unknown player, two labels for one player, a value that
   is no category (or, for categories 0 and 1, no yes/no flag) or no header fail the job, each reason by file,
   line and user_id;
3. with `LabelingJobAlgorithmsConfig`, **automated labelling** as Ground Truth's active learning does it (SageMaker
   Developer Guide, "Automate data labeling"): a random sample (seeded by the job's name) goes to the humans; it
   makes a training set and a validation set (each 20% of the objects below 5,000, 10% from 5,000); a model
   trained on the first (scikit-learn's logistic regression on the text object's `key=value` features, standing
   in for Ground Truth's text model) scores the validation set, which sets the lowest confidence threshold at
   which its labels are at least 95% accurate; every other object it scores at or above that threshold is
   machine-labelled, the rest go to the humans. One round, where Ground Truth repeats rounds of
   `MaxConcurrentTaskCount` objects: the same split of automated and human labels, not the same number of rounds;
4. it writes the output manifest as Ground Truth does (Developer Guide, "Labeling job output data", text
   classification): each input object, with the label attribute (the category's index) and `<attribute>-metadata`
   (`class-name`, `confidence`, `type` groundtruth/text-classification, `job-name` labeling-job/<name>,
   `human-annotated` yes/no, `creation-date`), to `<S3OutputPath>/<job>/manifests/output/output.manifest`
   (encrypted with `OutputConfig.KmsKeyId`); an unlabelled object is written as it came in;
5. DescribeLabelingJob reports `LabelCounters` (HumanLabeled + MachineLabeled + Unlabeled = the objects;
   TotalLabeled = HumanLabeled + MachineLabeled) and `LabelingJobOutput.OutputDatasetS3Uri`, Completed, or Failed
   with the `FailureReason`. Its log goes to CloudWatch Logs (`/aws/sagemaker/LabelingJobs`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vwt_deploy.emulator.runtime.sagemaker.common import (
    FAILURE_REASON_MAX,
    AccessError,
    JobError,
    execution_session,
    log,
    split_s3,
    utcnow,
)

if TYPE_CHECKING:
    from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime

LOG_GROUP = "/aws/sagemaker/LabelingJobs"
TASK_TYPE = "groundtruth/text-classification"
USER_ID_MEMBER = "vwt-user-id"  # the manifest object's player (lambdas/pipeline/label.py writes it)
WORKFORCE_FILE = "workforce.json"  # beside the input manifest: where the local work team's answers are
ACCURACY = 0.95  # Ground Truth's accuracy target of automated text classification labels
LARGE = 5000  # from this many objects the validation set is 10% of them, below it 20%
MIN_VALIDATION = 10  # fewer validated answers set no threshold: nothing is machine-labelled
MAX_REASONS = 20
TRUE = {"1", "true", "t", "yes", "y"}
FALSE = {"0", "false", "f", "no", "n"}

#: the response methods moto's SageMakerResponse lacks, which the adapters add (`responses`)
RESPONSES = ("create_labeling_job", "describe_labeling_job", "stop_labeling_job")


# =========================================================================== what the job decides


@dataclass
class Plan:
    """Each object's label (category index), confidence and who gave it, and the threshold automation used."""

    labels: dict[int, tuple[int, float, bool]] = field(default_factory=dict)  # object -> (index, confidence, human)
    threshold: float | None = None
    sampled: int = 0

    def counters(self, objects: int) -> dict[str, int]:
        human = sum(1 for _, _, h in self.labels.values() if h)
        machine = len(self.labels) - human
        return {
            "TotalLabeled": human + machine,
            "HumanLabeled": human,
            "MachineLabeled": machine,
            "FailedNonRetryableError": 0,
            "Unlabeled": objects - human - machine,
        }


def features(source: str) -> dict[str, float | str]:
    """The `key=value, key=value` text of an object as features: numbers as numbers, anything else one-hot."""
    out: dict[str, float | str] = {}
    last = None
    for part in source.split(", "):
        key, eq, value = part.partition("=")
        if not eq:  # a value that held ", " itself
            if last is not None:
                out[last] = f"{out[last]}, {part}"
            continue
        last = key
        try:
            number = float(value)
            out[key] = number if number == number and abs(number) != float("inf") else value
        except ValueError:
            out[key] = value
    return out


def plan_labels(objects: list[dict], answers: dict[int, int], n_categories: int, automated: bool, seed: str) -> Plan:
    """Who labels what: `answers` are the humans' (object -> category index, for the objects they would label)."""
    plan = Plan()
    if not automated:
        for i, answer in answers.items():
            plan.labels[i] = (answer, 1.0, True)
        return plan
    import numpy as np

    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
    order = [int(i) for i in rng.permutation(len(objects))]
    size = max(1, round(len(objects) * (0.1 if len(objects) >= LARGE else 0.2)))
    train, validation, rest = order[:size], order[size : 2 * size], order[2 * size :]
    plan.sampled = len(train) + len(validation)
    for i in train + validation:  # the sample goes to the humans first
        if i in answers:
            plan.labels[i] = (answers[i], 1.0, True)
    model = _fit(objects, [i for i in train if i in answers], answers, seed)
    scored = [i for i in validation if i in answers]
    if model is not None and len(scored) >= MIN_VALIDATION:
        predicted, confidence = _predict(model, objects, scored)
        plan.threshold = threshold(
            [(c, p == answers[i]) for i, p, c in zip(scored, predicted, confidence, strict=True)]
        )
    if plan.threshold is not None and rest:
        predicted, confidence = _predict(model, objects, rest)
        for i, p, c in zip(rest, predicted, confidence, strict=True):
            if c >= plan.threshold:
                plan.labels[i] = (int(p), round(float(c), 4), False)
    for i in rest:  # what the model was not sure of goes to the humans
        if i not in plan.labels and i in answers:
            plan.labels[i] = (answers[i], 1.0, True)
    return plan


def threshold(scored: list[tuple[float, bool]]) -> float | None:
    """The lowest confidence at which the validation set's labels, from the most confident down, are at least
    ACCURACY right (None: no confidence is)."""
    best = None
    right = 0
    ranked = sorted(scored, key=lambda s: -s[0])
    for n, (confidence, ok) in enumerate(ranked, start=1):
        right += ok
        if right / n >= ACCURACY and (n == len(ranked) or ranked[n][0] < confidence):
            best = confidence
    return best


def _fit(objects: list[dict], train: list[int], answers: dict[int, int], seed: str):
    """The auto-labelling model, or None when the human labels cannot train one (fewer than two classes)."""
    if len({answers[i] for i in train}) < 2:
        return None
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MaxAbsScaler

    model = make_pipeline(DictVectorizer(), MaxAbsScaler(), LogisticRegression(max_iter=2000))
    model.fit([features(str(objects[i].get("source", ""))) for i in train], [answers[i] for i in train])
    return model


def _predict(model, objects: list[dict], which: list[int]) -> tuple[list[int], list[float]]:
    proba = model.predict_proba([features(str(objects[i].get("source", ""))) for i in which])
    classes = model.classes_
    best = proba.argmax(axis=1)
    return [int(classes[b]) for b in best], [float(p[b]) for p, b in zip(proba, best, strict=True)]


def _label_keys(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if obj["Size"] and name.lower().endswith(".csv") and not name.startswith((".", "_")):
                keys.append(obj["Key"])
    return sorted(keys)


def read_answers(s3, bucket: str, prefix: str, players: dict[str, list[int]], categories: list[str]) -> dict[int, int]:
    """object -> category index from the operators' label files; every problem fails it (JobError), listed."""
    by_player: dict[str, tuple[int, str]] = {}
    problems: list[str] = []
    for key in _label_keys(s3, bucket, prefix):
        uri = f"s3://{bucket}/{key}"
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [c.strip() for c in next(reader, None) or []]
        if "user_id" not in header or "label" not in header:
            problems.append(f"{uri} line 1: the header must name user_id and label, got {','.join(header)!r}")
            continue
        for line, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                problems.append(f"{uri} line {line}: {len(values)} values for {len(header)} columns")
                continue
            row = dict(zip(header, (v.strip() for v in values), strict=True))
            problem = _answer(row, f"{uri} line {line}", players, categories, by_player)
            if problem:
                problems.append(problem)
    if problems:
        shown, more = problems[:MAX_REASONS], len(problems) - MAX_REASONS
        raise JobError(
            f"ClientError: the work team's answers under s3://{bucket}/{prefix} cannot be used: "
            + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else "")
        )
    return {i: index for user, (index, _) in by_player.items() for i in players[user]}


def _answer(
    row: dict[str, str],
    at: str,
    players: dict[str, list[int]],
    categories: list[str],
    by_player: dict[str, tuple[int, str]],
) -> str | None:
    """Record one label file row's answer in `by_player`, or say what is wrong with it."""
    user, raw = row["user_id"], row["label"]
    if not user:
        return f"{at}: user_id is empty"
    where = f"{at}, user_id {user}"
    index = _category(raw, categories)
    if index is None:
        return f"{where}: {raw!r} is none of the categories {', '.join(categories)}"
    if user not in players:
        return f"{where}: no object of the input manifest is this player's"
    if user in by_player and by_player[user][0] != index:
        return f"{where}: labelled {categories[index]}, but {categories[by_player[user][0]]} at {by_player[user][1]}"
    by_player.setdefault(user, (index, at))
    return None


def _category(raw: str, categories: list[str]) -> int | None:
    if raw in categories:
        return categories.index(raw)
    if set(categories) == {"0", "1"} and raw.lower() in TRUE | FALSE:
        return categories.index("1" if raw.lower() in TRUE else "0")
    return None


# =========================================================================== the job


class LabelingRun:
    """One labelling job: its record (what DescribeLabelingJob answers) and the thread that runs it."""

    def __init__(self, owner: SageMakerRuntime, account: str, region: str, request: dict):
        self.runtime, self.status_lock = owner.runtime, owner.status_lock
        self.account, self.region, self.request = account, region, request
        self.name: str = request["LabelingJobName"]
        self.arn = f"arn:aws:sagemaker:{region}:{account}:labeling-job/{self.name.lower()}"
        self.status = "InProgress"
        self.counters = Plan().counters(0)
        self.failure_reason: str | None = None
        self.output_uri: str | None = None
        self.created = self.modified = utcnow()
        self.reference = uuid.uuid4().hex
        self.stop_requested = threading.Event()
        self.done = threading.Event()
        self._log: list[str] = []

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"labeling {self.name}", daemon=True).start()

    def request_stop(self) -> None:
        with self.status_lock:
            if self.status == "InProgress":
                self.status, self.modified = "Stopping", utcnow()
        self.stop_requested.set()

    def describe(self) -> dict[str, Any]:
        r = self.request
        out: dict[str, Any] = {
            "LabelingJobStatus": self.status,
            "LabelCounters": dict(self.counters),
            "CreationTime": self.created,
            "LastModifiedTime": self.modified,
            "JobReferenceCode": self.reference,
            "LabelingJobName": self.name,
            "LabelingJobArn": self.arn,
            "LabelAttributeName": r["LabelAttributeName"],
            "InputConfig": r["InputConfig"],
            "OutputConfig": r["OutputConfig"],
            "RoleArn": r["RoleArn"],
            "HumanTaskConfig": r["HumanTaskConfig"],
        }
        for key in ("LabelCategoryConfigS3Uri", "StoppingConditions", "LabelingJobAlgorithmsConfig", "Tags"):
            if r.get(key) is not None:
                out[key] = r[key]
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.output_uri:
            out["LabelingJobOutput"] = {"OutputDatasetS3Uri": self.output_uri}
        return out

    # ------------------------------------------------------------------ the run
    def _run(self) -> None:
        try:
            self._label()
        except (JobError, AccessError) as exc:
            self._finish("Failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug here must still end the job, with the reason
            log.exception("labeling job %s", self.name)
            self._finish("Failed", f"InternalServerError: {type(exc).__name__}: {exc}")
        finally:
            self._ship_log()
            self.done.set()

    def _label(self) -> None:
        from botocore.exceptions import ClientError

        credentials = execution_session(self.runtime, self.request["RoleArn"])
        s3 = self.runtime.client("s3", self.region, credentials)
        manifest = self.request["InputConfig"]["DataSource"]["S3DataSource"]["ManifestS3Uri"]
        try:
            objects = self._manifest(s3, manifest)
            categories = self._categories(s3)
            players: dict[str, list[int]] = {}
            for i, obj in enumerate(objects):
                if USER_ID_MEMBER in obj:
                    players.setdefault(str(obj[USER_ID_MEMBER]), []).append(i)
            answers = self._answers(s3, manifest, players, categories)
            if self.stop_requested.is_set():
                self._finish("Stopped")
                return
            automated = bool(self.request.get("LabelingJobAlgorithmsConfig"))
            plan = plan_labels(objects, answers, len(categories), automated, self.name)
            self._say(
                f"{len(objects)} objects, {len(answers)} with a work team answer; automated labelling: "
                + (f"{plan.sampled} sampled for the humans, threshold {plan.threshold}" if automated else "off")
            )
            self._write(s3, objects, categories, plan)
        except ClientError as exc:
            raise JobError(f"ClientError: {exc}") from None
        self.counters = plan.counters(len(objects))
        self._say(f"label counters: {json.dumps(self.counters, sort_keys=True)}")
        self._finish("Completed")

    def _finish(self, status: str, reason: str | None = None) -> None:
        if reason:
            self.failure_reason = reason[:FAILURE_REASON_MAX]
            self._say(f"failed: {reason}")
        with self.status_lock:
            self.status = "Stopped" if self.stop_requested.is_set() and status != "Completed" else status
            self.modified = utcnow()

    def _say(self, message: str) -> None:
        self._log.append(message)

    def _ship_log(self) -> None:
        import time

        events = [(int(time.time() * 1000), m) for m in self._log]
        try:
            self.runtime.put_log_events(self.account, self.region, LOG_GROUP, self.name, events)
        except Exception:  # noqa: BLE001 - the job's outcome stands without its CloudWatch copy
            log.warning("could not send the log of labeling job %s to CloudWatch Logs", self.name, exc_info=True)

    # ------------------------------------------------------------------ S3
    def _read(self, s3, uri: str, what: str) -> bytes:
        try:
            bucket, key = split_s3(uri)
        except ValueError as exc:
            raise JobError(f"ClientError: {what}: {exc}") from None
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _manifest(self, s3, uri: str) -> list[dict]:
        objects = []
        for n, line in enumerate(self._read(s3, uri, "the input manifest").decode().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise JobError(f"ClientError: {uri} line {n} is not a JSON object") from None
            if not isinstance(obj, dict) or "source" not in obj:
                raise JobError(f"ClientError: {uri} line {n}: a text object needs 'source'")
            objects.append(obj)
        if not objects:
            raise JobError(f"ClientError: the input manifest {uri} holds no objects")
        return objects

    def _categories(self, s3) -> list[str]:
        uri = self.request.get("LabelCategoryConfigS3Uri")
        if not uri:
            raise JobError("ClientError: a text classification job needs LabelCategoryConfigS3Uri")
        try:
            labels = [str(c["label"]) for c in json.loads(self._read(s3, uri, "the label categories"))["labels"]]
        except (ValueError, KeyError, TypeError):
            raise JobError(f"ClientError: {uri} is not a label category configuration ({{'labels': [...]}})") from None
        if len(labels) < 2:
            raise JobError(f"ClientError: {uri}: a classification needs at least two categories")
        return labels

    def _answers(self, s3, manifest: str, players: dict[str, list[int]], categories: list[str]) -> dict[int, int]:
        from botocore.exceptions import ClientError

        where = manifest.rsplit("/", 1)[0] + "/" + WORKFORCE_FILE
        try:
            workforce = json.loads(self._read(s3, where, "the local work team"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            self._say(f"no {where}: the local work team gives no answers")
            return {}
        try:
            bucket, prefix = split_s3(str(workforce["labels"]))
        except (KeyError, TypeError, ValueError):
            raise JobError(f"ClientError: {where} must be {{'labels': 's3://bucket/prefix/'}}") from None
        return read_answers(s3, bucket, prefix, players, categories)

    def _write(self, s3, objects: list[dict], categories: list[str], plan: Plan) -> None:
        attribute = self.request["LabelAttributeName"]
        created = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
        lines = []
        for i, obj in enumerate(objects):
            out = {k: v for k, v in obj.items() if k not in (attribute, f"{attribute}-metadata")}
            if i in plan.labels:
                index, confidence, human = plan.labels[i]
                out[attribute] = index
                out[f"{attribute}-metadata"] = {
                    "class-name": categories[index],
                    "confidence": confidence,
                    "type": TASK_TYPE,
                    "job-name": f"labeling-job/{self.name.lower()}",
                    "human-annotated": "yes" if human else "no",
                    "creation-date": created,
                }
            lines.append(json.dumps(out, sort_keys=True))
        output = self.request["OutputConfig"]
        uri = output["S3OutputPath"].rstrip("/") + f"/{self.name}/manifests/output/output.manifest"
        bucket, key = split_s3(uri)
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": output["KmsKeyId"]} if output.get("KmsKeyId") else {}
        s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode(), **extra)
        self.output_uri = uri


# =========================================================================== the API moto lacks


def responses(sm: SageMakerRuntime) -> dict[str, Callable[[Callable | None], Callable]]:
    """Patches adding CreateLabelingJob, DescribeLabelingJob and StopLabelingJob to moto's SageMakerResponse (whose
    `call_action` dispatches on the method's name); the jobs are kept in `sm.labeling`, by ARN."""
    from moto.core.responses import ActionResult, EmptyResult

    from vwt_deploy.emulator.runtime.sagemaker.validation import errors

    def arn(self, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.current_account}:labeling-job/{name.lower()}"

    def find(self) -> LabelingRun:
        name = self._get_param("LabelingJobName")
        run = sm.labeling.get(arn(self, name))
        if run is None:
            raise errors().ResourceNotFound(f"Could not find labeling job '{arn(self, name)}'.")
        return run

    def create_labeling_job(self):
        request = json.loads(self.body or "{}")
        name = request["LabelingJobName"]
        with sm.status_lock:
            if arn(self, name) in sm.labeling:
                raise errors().ResourceInUseException(f"A labeling job with name {name} already exists.")
            run = sm.labeling[arn(self, name)] = LabelingRun(sm, self.current_account, self.region, request)
        run.start()
        return ActionResult({"LabelingJobArn": run.arn})

    def describe_labeling_job(self):
        return ActionResult(find(self).describe())

    def stop_labeling_job(self):
        find(self).request_stop()
        return EmptyResult()

    handlers = (create_labeling_job, describe_labeling_job, stop_labeling_job)
    return {fn.__name__: (lambda fn: lambda original: fn)(fn) for fn in handlers}
