"""`train`: SageMaker's training contract over $VWT_ML_ROOT (default /opt/ml).

Reads `input/config/hyperparameters.json` (strings, parsed with spec.parse_hyperparameters),
the `train` channel (and `validation` if present, else a seeded hold-out), fits,
logs one `validation:<metric>=<value>` line per metric (and, given a `champion` channel holding the serving
model's model.tar.gz, one `champion:<metric>=<value>` line per metric of that model on the same hold-out:
evaluate.py), converts the model to
ONNX and writes `model/model.onnx`, `model/model.json`, `model/metrics.json`. An unsupervised model with an
`anchor` also gets its served score's calibration against the anchor (Platt scaling on the training rows:
fit_calibration), kept in model.json and applied by the server.
Any failure writes its reason to `output/failure`, leaves no model files behind
and exits non-zero.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from . import __version__
from .evaluate import CHANNEL as CHAMPION_CHANNEL
from .evaluate import anchor_problem, challenger_metrics, champion_metrics, served
from .joblog import log
from .paths import MlPaths
from .spec import ALGORITHMS, METRICS, params_for, parse_hyperparameters

FORMAT = "onnx"
ONNX_OPSETS = {"": 17, "ai.onnx.ml": 3}
DEFAULTS: dict[str, Any] = {
    "random_state": 0,
    "validation_fraction": 0.2,
    "no_trees": 100,
    "max_depth": None,
    "min_samples_leaf": 1,
    "learning_rate": 0.1,
    "c": 1.0,
    "max_iter": 1000,
    "contamination": 0.05,  # the share of players flagged anomalous (validation:anomaly_rate tracks it)
}
#: hyperparameters SageMaker (tuning) or its SDK add on their own: dropped, not errors
RESERVED_PREFIXES = ("_tuning", "sagemaker_")


class TrainingError(Exception):
    """A failure with a reason for output/failure (bad hyperparameters or data)."""


def read_hyperparameters(paths: MlPaths) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    if paths.hyperparameters.exists():
        try:
            raw = json.loads(paths.hyperparameters.read_text() or "{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrainingError(f"{paths.hyperparameters} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise TrainingError(f"{paths.hyperparameters} must hold a JSON object of hyperparameters")
    cleaned = {}
    for key, value in raw.items():
        if key.startswith(RESERVED_PREFIXES):
            continue
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]  # the SageMaker SDK's framework estimators JSON-quote strings
        cleaned[key] = value
    try:
        hp = parse_hyperparameters(cleaned)
    except ValueError as exc:
        raise TrainingError(f"bad hyperparameters: {exc}") from None
    algorithm = hp["algorithm"]
    hp.setdefault("task", ALGORITHMS[algorithm][0][0])
    if hp["task"] != "unsupervised" and not hp.get("label"):
        raise TrainingError(f"hyperparameter 'label' (the label column) is required for {hp['task']}")
    if hp["task"] != "unsupervised" and hp.get("anchor"):
        raise TrainingError(
            f"hyperparameter 'anchor' is for unsupervised models; a {hp['task']} model is scored against its label"
        )
    return {**{k: v for k, v in DEFAULTS.items()}, **hp}


def make_estimator(hp: dict[str, Any]):
    algorithm, task, seed = hp["algorithm"], hp["task"], hp["random_state"]
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return cls(
            n_estimators=hp["no_trees"],
            max_depth=hp["max_depth"],
            min_samples_leaf=hp["min_samples_leaf"],
            n_jobs=-1,
            random_state=seed,
        )
    if algorithm == "gradient_boosting":
        # the classic estimator: skl2onnx converts it exactly (its HistGradientBoosting converter does not
        # handle scikit-learn 1.9's missing-value tracks)
        from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor

        cls = GradientBoostingClassifier if task == "classification" else GradientBoostingRegressor
        return cls(
            n_estimators=hp["no_trees"],
            max_depth=hp["max_depth"] or 3,
            learning_rate=hp["learning_rate"],
            random_state=seed,
        )
    if algorithm == "logistic_regression":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(), LogisticRegression(C=hp["c"], max_iter=hp["max_iter"], random_state=seed)
        )
    if algorithm == "isolation_forest":
        from sklearn.ensemble import IsolationForest

        return IsolationForest(
            n_estimators=hp["no_trees"], contamination=hp["contamination"], n_jobs=-1, random_state=seed
        )
    raise TrainingError(f"unknown algorithm {algorithm!r}")  # parse_hyperparameters already refuses it


def encode_labels(y, task: str, source: str, classes: list | None = None):
    """Classification: binary labels -> 0/1 (positive = the larger/last class). Regression: float."""
    import numpy as np
    import pyarrow as pa

    if task == "regression":
        if not (pa.types.is_integer(y.type) or pa.types.is_floating(y.type) or pa.types.is_boolean(y.type)):
            raise TrainingError(f"{source}: the regression label must be numeric, it is {y.type}")
        values = y.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if not np.isfinite(values).all():
            raise TrainingError(f"{source}: the label has infinite values")
        return values, None
    values = y.to_numpy(zero_copy_only=False)
    if values.dtype == object:
        values = values.astype(str)
    found = sorted(np.unique(values).tolist())
    if classes is None:
        if len(found) < 2:
            raise TrainingError(
                f"{source}: every row has the same label ({found[0]!r}); a classifier needs two classes"
            )
        if len(found) > 2:
            raise TrainingError(
                f"{source}: the label has {len(found)} classes ({', '.join(map(str, found[:5]))}"
                f"{', ...' if len(found) > 5 else ''}); classification here is binary (risk)"
            )
        classes = found
    unknown = [c for c in found if c not in classes]
    if unknown:
        raise TrainingError(f"{source}: label values {unknown[:5]} were not in the training data's classes {classes}")
    return (values == classes[1]).astype(np.int64), classes


def split(X, y, hp: dict[str, Any], strata=None):
    """(train rows, validation rows): row indices of a seeded split, stratified by the label where it can be (an
    unsupervised model: by its anchor's `strata`, 1/0/-1 for absent, the same way)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    fraction, seed = hp["validation_fraction"], hp["random_state"]
    n = X.shape[0]
    if n < 4:
        raise TrainingError(f"only {n} rows: too few to train and validate (give at least 4, or a validation channel)")
    stratify = None
    if y is not None and hp["task"] == "classification" and np.bincount(y).min() >= 2:
        stratify = y
    elif strata is not None and np.unique(strata, return_counts=True)[1].min() >= 2:
        stratify = strata
    return train_test_split(np.arange(n), test_size=fraction, random_state=seed, stratify=stratify)


def to_onnx(estimator, X_sample, task: str) -> tuple[bytes, str]:
    """Convert with skl2onnx; returns the serialized model and the name of the output the server reads."""
    from skl2onnx import to_onnx as convert

    options = {id(estimator): {"zipmap": False}} if task == "classification" else None
    model = convert(estimator, X_sample[:1], options=options, target_opset=ONNX_OPSETS)
    outputs = [o.name for o in model.graph.output]
    wanted = {"classification": "probabilities", "regression": "variable", "unsupervised": "scores"}[task]
    if wanted not in outputs:
        raise RuntimeError(f"the ONNX model has outputs {outputs}, not {wanted!r}")
    return model.SerializeToString(), wanted


def onnx_scores(onnx_bytes: bytes, output: str, X, task: str):
    """The converted model's scores on X: positive-class probability, decision function, or value."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    out = session.run([output], {session.get_inputs()[0].name: X})[0]
    return out[:, 1] if task == "classification" else out.ravel()


def verify_onnx(scores, estimator, X, task: str, rows: int = 2000) -> float:
    """Compare the converted model's scores with scikit-learn's on some rows: a bad conversion fails training."""
    import numpy as np

    X, got = X[:rows], np.asarray(scores[:rows], dtype=np.float64)
    if task == "classification":
        want = estimator.predict_proba(X)[:, 1]
    elif task == "unsupervised":
        want = estimator.decision_function(X)
    else:
        want = estimator.predict(X)
    if not len(want):
        return 0.0
    scale = max(1.0, float(np.abs(want).max()))
    diff = float(np.abs(got - want).max() / scale)
    if diff > 1e-3:
        raise RuntimeError(f"the ONNX model disagrees with scikit-learn by {diff:.3g} (relative): conversion bug")
    return diff


def write_model(paths: MlPaths, files: dict[str, bytes]) -> None:
    """Stage every file in model/.staging, then move them in: no partial model on failure."""
    paths.model.mkdir(parents=True, exist_ok=True)
    staging = paths.model / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    moved: list[Path] = []
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        for name in files:
            os.replace(staging / name, paths.model / name)
            moved.append(paths.model / name)
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run(paths: MlPaths) -> dict[str, float]:
    from . import data
    from .predictor import anomaly_scores

    started = time.perf_counter()
    hp = read_hyperparameters(paths)
    task, label = hp["task"], hp.get("label") if hp["task"] != "unsupervised" else None
    try:
        schema, classes, X_train, y_train, X_val, y_val, table_val = _load(paths, hp, label)
    except data.DataError as exc:
        raise TrainingError(str(exc)) from None
    loaded = time.perf_counter()
    estimator = make_estimator(hp)
    if task == "unsupervised":  # y_train: the training rows' anchor, never fitted on (the calibration's target)
        estimator.fit(X_train)
    else:
        estimator.fit(X_train, y_train)
    fitted = time.perf_counter()
    onnx_bytes, output = to_onnx(estimator, X_train, task)
    converted = time.perf_counter()
    scores = onnx_scores(onnx_bytes, output, X_val, task)
    diff = verify_onnx(scores, estimator, X_val, task)
    offset = float(getattr(estimator, "offset_", 0.0))
    calibration = None
    if task == "unsupervised" and y_train is not None:
        train_raw = anomaly_scores(onnx_scores(onnx_bytes, output, X_train, task), offset)
        calibration = fit_calibration(train_raw, y_train, hp["random_state"], str(hp["anchor"]))
        log(
            f"calibration: the served score is sigmoid({calibration['a']:.6g} * anomaly score "
            f"{calibration['b']:+.6g}), fitted on {calibration['rows']} training rows with the anchor "
            f"({calibration['positives']} positive)"
        )
    metrics = challenger_metrics(task, scores, y_val, offset, calibration)
    for name in METRICS[task]:
        if name in metrics:
            print(f"{name}={metrics[name]:.6g}", flush=True)
    champion, scored = champion_metrics(paths.channel(CHAMPION_CHANNEL), table_val, y_val, task, metrics)
    log(scored)
    for name, value in champion.items():
        print(f"{name}={value:.6g}", flush=True)
    evaluated = time.perf_counter()
    import sklearn

    version = os.environ.get("TRAINING_JOB_NAME") or "sha256-" + hashlib.sha256(onnx_bytes).hexdigest()[:16]
    doc = {
        "format": FORMAT,
        "version": version,
        "task": task,
        "algorithm": hp["algorithm"],
        "hyperparameters": {k: v for k, v in hp.items() if v is not None and k in params_for(hp["algorithm"])},
        "label": label,
        "classes": [c if isinstance(c, (str, int, float, bool)) else str(c) for c in classes] if classes else None,
        "output": output,
        "score_offset": offset if task == "unsupervised" else None,
        "calibration": calibration,
        "schema": schema.to_dict(),
        "encoded_features": schema.encoded_names(),
        "metrics": metrics,
        "champion": {"metrics": champion, "scored": scored},
        "rows": {"train": int(X_train.shape[0]), "validation": int(X_val.shape[0])},
        "trained_with": {"vwt_model": __version__, "scikit-learn": sklearn.__version__},
    }
    from .report import write_report  # before the model: a report that fails fails the job and leaves no model

    write_report(
        paths,
        hp,
        estimator,
        schema.encoded_names(),
        X_val,
        y_val,
        served(task, scores, offset, calibration),
        version,
        calibration,
    )
    from .drift import BASELINE_FILE, baseline

    # what drift checks compare the endpoint's players with: the training rows, and the scores it serves
    reference = baseline(schema, X_train, served(task, scores, offset, calibration))
    write_model(
        paths,
        {
            BASELINE_FILE: (json.dumps(reference, sort_keys=True) + "\n").encode(),
            "model.onnx": onnx_bytes,
            "metrics.json": (json.dumps({**metrics, **champion}, indent=2, sort_keys=True) + "\n").encode(),
            "model.json": (json.dumps(doc, indent=2, sort_keys=True, default=_jsonable) + "\n").encode(),
        },
    )
    log(
        f"timing: load {loaded - started:.2f}s, fit {fitted - loaded:.2f}s, convert {converted - fitted:.2f}s, "
        f"evaluate {evaluated - converted:.2f}s, total {time.perf_counter() - started:.2f}s; "
        f"ONNX max deviation {diff:.2g}; model version {version}"
    )
    return metrics


def _load(paths: MlPaths, hp: dict, label: str | None) -> tuple:
    """(schema, label classes, X_train, y_train, X_val, y_val, the validation rows' raw table): the validation
    channel, or a seeded split of train. The raw rows let the champion encode them with its own schema. An
    unsupervised model with an `anchor`: y_train and y_val are the training rows' and the hold-out's anchor (1.0,
    0.0, NaN); without one, both are None."""
    import numpy as np

    from . import data

    task = hp["task"]
    anchor = hp.get("anchor") if task == "unsupervised" else None
    train_dir, val_dir = paths.channel("train"), paths.channel("validation")
    schema = data.find_schema([paths.channel("schema"), train_dir])
    schema, table, X, y_raw = data.load_table(train_dir, schema, label, "train", anchor)
    log(
        f"train: {X.shape[0]} rows, {len(schema.features)} features ({X.shape[1]} encoded), "
        f"schema {'given' if schema.explicit else 'inferred: every column but the label is numeric'}"
    )
    y, classes = encode_labels(y_raw, task, "train") if label else (None, None)
    if val_dir.is_dir() and data.channel_files(val_dir):
        _, table_val, X_val, yv_raw = data.load_table(val_dir, schema, label, "validation", anchor)
        y_val = encode_labels(yv_raw, task, "validation", classes)[0] if label else None
        if anchor:
            y = data.anchor_values(table, anchor, "train")
            y_val = _checked_anchor(data.anchor_values(table_val, anchor, "validation"), anchor)
        return schema, classes, X, y, X_val, y_val, table_val
    anchored = data.anchor_values(table, anchor, "train") if anchor else None
    strata = None if anchored is None else np.nan_to_num(anchored, nan=-1.0).astype(np.int64)
    train_rows, val_rows = split(X, y, hp, strata)
    y_train, y_val = (y[train_rows], y[val_rows]) if y is not None else (None, None)
    if anchored is not None:
        y_train, y_val = anchored[train_rows], _checked_anchor(anchored[val_rows], str(anchor))
    return schema, classes, X[train_rows], y_train, X[val_rows], y_val, table.take(val_rows)


def fit_calibration(raw, anchor, seed: int, name: str) -> dict[str, Any]:
    """Platt scaling of an unsupervised model's anomaly score against its anchor: a logistic regression of the anchor
    on the raw score (one feature) over the TRAINING rows that have the anchor (never the hold-out, which the gate
    and the report measure), unpenalised (C=inf: Platt's maximum likelihood), no class weights (the anchor's own
    prevalence is the probability's base rate), seeded. Served as sigmoid(a * score + b) (predictor.calibrated).
    scikit-learn's CalibratedClassifierCV(method="sigmoid") is the same model ("Platt's method (i.e. a binary
    logistic regression model)"), over a classifier's decision_function; an isolation forest is no classifier, so
    the regression is fitted here. A slope a <= 0 (the score ranks the anchor the wrong way round) fails the job:
    no increasing calibration exists, and a decreasing one would invert the served ranking."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    present = ~np.isnan(anchor)
    x, y = np.asarray(raw, dtype=np.float64)[present].reshape(-1, 1), anchor[present].astype(np.int64)
    positives = int(y.sum())
    if not 0 < positives < len(y):
        raise TrainingError(
            f"the training rows have {len(y)} rows with the anchor {name!r}, "
            f"{'all positive' if positives else 'none positive'}: the served score cannot be calibrated against it; "
            "give more rows with the anchor"
        )
    fitted = LogisticRegression(C=np.inf, class_weight=None, random_state=seed, max_iter=1000).fit(x, y)
    a, b = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
    if not a > 0:
        raise TrainingError(
            f"the anomaly score ranks the anchor {name!r} the wrong way round on the training rows (Platt scaling's "
            f"slope {a:.4g} <= 0: a higher score means a player less likely {name}), so it cannot be calibrated into "
            "a risk; check the anchor's positive value (the larger, last sorted) and the features"
        )
    return {"method": "platt", "a": a, "b": b, "rows": len(y), "positives": positives}


def _checked_anchor(y_val, anchor: str):
    problem = anchor_problem(y_val, anchor)
    if problem:
        raise TrainingError(problem)
    return y_val


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write_failure(paths: MlPaths, reason: str) -> None:
    try:
        paths.output.mkdir(parents=True, exist_ok=True)
        paths.failure.write_text(reason.strip()[:1024] + "\n")
    except OSError as exc:
        log(f"could not write {paths.failure}: {exc}")


def main(root: str | os.PathLike | None = None) -> int:
    paths = MlPaths.from_env(root)
    try:
        run(paths)
    except TrainingError as exc:
        log(f"training failed: {exc}")
        write_failure(paths, str(exc))
        return 1
    except MemoryError:
        write_failure(paths, "out of memory: use a larger training instance or less data")
        return 1
    except Exception as exc:  # a bug or an environment problem: say so, keep the traceback in the log
        traceback.print_exc()
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        write_failure(paths, f"internal error: {type(exc).__name__}: {first}")
        return 1
    return 0
