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

An unsupervised model has no label, so its gate metric is `validation:anchor_auc`: the ROC AUC of the served
score (higher is riskier, as `predictor.anomaly_scores` serves it, rounded as served: the anomaly score's Platt
scaling against the anchor where the model has one, a strictly increasing function, so the ranking and the AUC are
the anomaly score's; a champion is scored with its own model.json's calibration, or its raw anomaly score without
one) against the
`anchor` hyperparameter's column (a 0/1 outcome known for some players, such as self-exclusion) on the hold-out
rows where the anchor is present. The champion is scored on the same rows (`champion:anchor_auc`). A hold-out
whose anchored rows hold one class only fails the job (train.py): the AUC is undefined, and a metric left out
would fail the gate's filter with a less useful message. `validation:anomaly_rate`, the share of hold-out rows
above the estimator's own anomaly cut, is logged as information: `contamination` sets it, not the model's
quality.
"""

from __future__ import annotations

import math
import tarfile
from pathlib import Path

from .joblog import log

CHANNEL = "champion"
SCORED = "champion:scored"


def champion_name(metric: str) -> str:
    """The name the champion's value of a validation metric is logged under."""
    return "champion:" + metric.split(":", 1)[-1]


def metrics_for(task: str, scores, y_val, cut: float | None = None) -> dict[str, float]:
    """Validation metrics from a model's served scores (the ONNX model's outputs, or the baseline's constant).

    Unsupervised: `scores` are the served anomaly scores, `y_val` the anchor (1.0, 0.0, NaN where absent) or None
    without an anchor, `cut` the score above which the estimator flags an anomaly (None: it flags no one)."""
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
    out = {}
    if y_val is not None:
        present = ~np.isnan(y_val)
        out["validation:anchor_auc"] = float(metrics.roc_auc_score(y_val[present], scores[present]))
    out["validation:anomaly_rate"] = float((scores > cut).mean()) if cut is not None and len(scores) else 0.0
    return out


def served(task: str, outputs, offset: float, calibration: dict | None = None):
    """The scores a model serves from its ONNX outputs: an unsupervised model's outputs (its decision_function)
    become its anomaly score, calibrated with `calibration` where training fitted one, rounded as served; other
    tasks' outputs are returned as they are."""
    if task != "unsupervised":
        return outputs
    import numpy as np

    from .predictor import SCORE_DECIMALS, anomaly_scores

    return np.round(anomaly_scores(outputs, offset, calibration), SCORE_DECIMALS)


def challenger_metrics(task: str, outputs, y_val, offset: float, calibration: dict | None = None) -> dict[str, float]:
    """The new model's metrics from its ONNX outputs on the hold-out; an unsupervised model is scored on the score
    it will serve (`served`), and its offset is the anomaly cut, in the same units."""
    if task != "unsupervised":
        return metrics_for(task, outputs, y_val)
    from .predictor import calibrated

    cut = float(calibrated([-offset], calibration)[0])
    return metrics_for(task, served(task, outputs, offset, calibration), y_val, cut=cut)


def anchor_problem(y_val, anchor: str) -> str | None:
    """Why `validation:anchor_auc` cannot be computed on this hold-out (None: it can)."""
    import numpy as np

    present = y_val[~np.isnan(y_val)]
    positives = int((present == 1).sum())
    if positives and positives < len(present):
        return None
    return (
        f"the hold-out has {len(present)} rows with the anchor {anchor!r}, "
        f"{'all positive' if positives else 'none positive'}: validation:anchor_auc (the gate's metric) is undefined; "
        "give more rows with the anchor, or a validation channel holding both of its values"
    )


def champion_metrics(channel: Path, table, y_val, task: str, own: dict[str, float]) -> tuple[dict[str, float], str]:
    """The champion's metrics on the hold-out rows `table` (raw columns), each under its champion name, with
    `champion:scored`, and a line saying what was scored. A champion that cannot be scored gets the challenger's
    own metrics `own` (a tie) and `champion:scored` 0, and the line says why."""
    values, scored = _scored(channel, table, y_val, task)
    if values is None:
        return {**{champion_name(k): v for k, v in own.items()}, SCORED: 0.0}, scored
    return {**values, SCORED: 1.0}, scored


def _scored(channel: Path, table, y_val, task: str) -> tuple[dict[str, float] | None, str]:
    import numpy as np

    from . import data
    from .predictor import ModelError, Predictor

    if not (channel / "model.tar.gz").is_file():  # the record names a model.tar.gz; SageMaker keeps its name
        return None, "no champion channel: the champion was not scored"
    if task == "unsupervised" and y_val is None:
        return None, "an unsupervised model without an anchor has nothing to score the champion against"
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
    scores = champion.predict(X)  # served scores
    # an unsupervised ONNX champion flags what its own estimator flagged (its own calibration, if it has one, puts
    # the cut in its served score's units); the baseline's constant flags no one
    cut = champion.anomaly_cut if task == "unsupervised" else None
    values = {champion_name(name): value for name, value in metrics_for(task, scores, y_val, cut).items()}
    rows = f"the same {len(scores)} hold-out rows"
    if task == "unsupervised":
        rows += f" ({int((~np.isnan(y_val)).sum())} with the anchor)"
    return values, f"champion {champion.version} scored on {rows}"
