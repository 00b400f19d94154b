"""Scoring on the hold-out: the new model's metrics, and the champion's on the same rows.

The champion is the model serving when the run started. The pipeline hands its artifact to the training job as
the `champion` channel (its model.tar.gz, as SageMaker copies a channel's S3 object), so challenger and champion
are scored on exactly this run's hold-out, and the deployment gate compares those two numbers. The champion's
metrics are logged as `champion:<metric>` (`validation:auc` -> `champion:auc`): a name the challenger's metric
regex cannot match.

Every line is always logged, because a Step Functions JSONPath filter that matches no metric fails the state
instead of yielding nothing: `champion:scored` is 1 when the champion was scored, and 0 when it could not be (no
channel, another task, features it cannot read). Then the champion's names carry the challenger's own values, a
tie, so the gate's comparison passes and the catalogue's floor alone decides; the gate reads `champion:scored`
to say so.
"""

from __future__ import annotations

import math
import sys
import tarfile
from pathlib import Path

CHANNEL = "champion"
SCORED = "champion:scored"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def champion_name(metric: str) -> str:
    """The name the champion's value of a validation metric is logged under."""
    return "champion:" + metric.split(":", 1)[-1]


def metrics_for(task: str, scores, y_val) -> dict[str, float]:
    """Validation metrics from a model's scores (the ONNX model's outputs, or the baseline's constant)."""
    import numpy as np
    from sklearn import metrics

    scores = np.asarray(scores, dtype=np.float64)
    if task == "classification":
        out = {
            "validation:accuracy": float(metrics.accuracy_score(y_val, scores >= 0.5)),
            "validation:logloss": float(metrics.log_loss(y_val, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
        }
        if len(np.unique(y_val)) == 2:
            out = {"validation:auc": float(metrics.roc_auc_score(y_val, scores)), **out}
        else:
            log("warning: the validation data holds one class only: validation:auc is undefined and not logged")
        return out
    if task == "regression":
        return {
            "validation:rmse": float(math.sqrt(metrics.mean_squared_error(y_val, scores))),
            "validation:mae": float(metrics.mean_absolute_error(y_val, scores)),
            "validation:r2": float(metrics.r2_score(y_val, scores)) if len(y_val) > 1 else 0.0,
        }
    # unsupervised: scores are decision_function values; below 0 is what the estimator calls an anomaly
    return {"validation:anomaly_rate": float((scores < 0).mean())}


def champion_metrics(channel: Path, table, y_val, task: str, own: dict[str, float]) -> tuple[dict[str, float], str]:
    """The champion's metrics on the hold-out rows `table` (raw columns), each under its champion name, with
    `champion:scored`, and a line saying what was scored. A champion that cannot be scored gets the challenger's
    own metrics `own` (a tie) and `champion:scored` 0, and the line says why."""
    values, scored = _scored(channel, table, y_val, task)
    if values is None:
        return {**{champion_name(k): v for k, v in own.items()}, SCORED: 0.0}, scored
    return {**values, SCORED: 1.0}, scored


def _scored(channel: Path, table, y_val, task: str) -> tuple[dict[str, float] | None, str]:
    from . import data
    from .predictor import ModelError, Predictor

    if not (channel / "model.tar.gz").is_file():  # the record names a model.tar.gz; SageMaker keeps its name
        return None, "no champion channel: the champion was not scored"
    if task == "unsupervised":
        return None, "an unsupervised model has no label to score the champion against"
    try:
        champion = Predictor(channel)  # unpacks the folder's model.tar.gz, as for a local model folder
    except (OSError, tarfile.TarError, ModelError) as exc:
        return None, f"the champion's artifact model.tar.gz cannot be loaded: {exc}"
    if champion.task != task:
        return None, f"the champion is a {champion.task} model, this run trains a {task} model: not comparable"
    try:
        X = data.encode(table, champion.schema, "champion", check_range=False)
    except data.DataError as exc:
        return None, f"the champion cannot score this hold-out: {exc}"
    scores = champion.predict(X)
    values = {champion_name(name): value for name, value in metrics_for(task, scores, y_val).items()}
    return values, f"champion {champion.version} scored on the same {len(scores)} hold-out rows"
