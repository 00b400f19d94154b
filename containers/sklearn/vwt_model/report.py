"""The evaluation report of a training run: pictures (PNG), one self-contained HTML page, and JSON for machines.

The training job writes it from this run's hold-out rows, the scores its metrics are computed from (the ONNX
model's outputs: train.run -> evaluate.metrics_for), the task and the fitted estimator, into
`$VWT_ML_ROOT/output/data/report/`. SageMaker uploads `/opt/ml/output/data` as `output.tar.gz` beside
`model.tar.gz` (`<S3OutputPath>/<job>/output/output.tar.gz`), so the report sits next to the model without
being part of what the endpoints download and load.

- classification: AUC and average precision, the ROC and precision-recall curves (at most MAX_CURVE_POINTS
  points each in the JSON), calibration (CALIBRATION_BINS equal-width bins of the score), per risk group its
  score range, rows, positives and the confusion matrix when every score >= the group's min_score is flagged,
  and the score distribution by label;
- regression: rmse, mae, r2, the residuals (actual - predicted) summarised, predicted versus actual;
- unsupervised: the served score's distribution (predictor.anomaly_scores: the anomaly score -score_samples, or
  its Platt scaling against the anchor where training fitted one) and its risk groups; with an anchor, on the
  hold-out rows that have it, the AUC, Brier score, calibration bins (as a classifier's) and per risk group its
  rows, positives and confusion matrix;
- every task: feature importance over the encoded columns (schema.encoded_names: `product=casino`, ...). Tree
  ensembles with `feature_importances_` (random forest, gradient boosting) give their impurity-based importance,
  free after fitting; other estimators get permutation importance on at most IMPORTANCE_ROWS hold-out rows,
  IMPORTANCE_REPEATS seeded repeats (scikit-learn's permutation_importance, scored by AUC or RMSE; without a
  label, the mean absolute change of the anomaly score).

The risk groups are the `risk_groups` hyperparameter (spec.parse_risk_groups), or the catalogue's defaults.
matplotlib is imported here only, inside the functions that draw, and pyplot is never used (matplotlib's advice
for programs that are not interactive): each figure is a `Figure` with an Agg canvas of its own, so no global
backend or figure registry is involved, and serving (serve.py, predictor.py) never imports matplotlib.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from .joblog import log
from .paths import MlPaths
from .spec import RISK_GROUPS, parse_risk_groups

FOLDER = "report"
FORMAT = 1  # the report.json layout's version
MAX_CURVE_POINTS = 200
CALIBRATION_BINS = 10
HISTOGRAM_BINS = 20
IMPORTANCE_ROWS = 2000
IMPORTANCE_REPEATS = 5
SCATTER_POINTS = 5000
TOP_FEATURES = 25


class ReportError(RuntimeError):
    """The report could not be computed or written; the training job fails with this message."""


def folder(paths: MlPaths) -> Path:
    """Where the report goes: output/data/report (uploaded as output.tar.gz, member report/...)."""
    return paths.output / "data" / FOLDER


def write_report(
    paths: MlPaths, hp: dict, estimator, feature_names, X, y, scores, version: str, calibration: dict | None = None
) -> Path:
    """Compute and write report.json, report.html and the PNG files; return the folder. Raises ReportError.
    `scores` are the served scores (an unsupervised model's calibrated with `calibration`, model.json's)."""
    started = time.perf_counter()
    try:
        doc, figures = build(hp, estimator, list(feature_names), X, y, scores, version, calibration)
        target = _write(folder(paths), doc, figures)
    except Exception as exc:
        raise ReportError(f"the evaluation report could not be written: {type(exc).__name__}: {exc}") from exc
    seconds = time.perf_counter() - started
    log(f"report: report.json, report.html and {len(figures)} figures in {target} ({seconds:.2f}s)")
    return target


def build(
    hp: dict, estimator, names: list[str], X, y, scores, version: str, calibration: dict | None = None
) -> tuple[dict, dict[str, bytes]]:
    """(the JSON document, {file name: PNG bytes}). Unsupervised: `y` is the anchor (1.0, 0.0, NaN) or None."""
    import numpy as np

    task = hp["task"]
    if len(names) != X.shape[1]:
        names = [f"x{i}" for i in range(X.shape[1])]
    scores = np.asarray(scores, dtype=np.float64)
    groups = parse_risk_groups(hp.get(RISK_GROUPS))
    figures: dict[str, bytes] = {}
    doc: dict[str, Any] = {
        "format": FORMAT,
        "model_version": version,
        "task": task,
        "algorithm": hp["algorithm"],
        "rows": int(X.shape[0]),
    }
    if task == "classification":
        y = np.asarray(y, dtype=np.int64)
        doc["classification"] = classification(y, scores, groups)
        figures.update(classification_figures(doc["classification"], y, scores))
    elif task == "regression":
        y = np.asarray(y, dtype=np.float64)
        doc["regression"] = regression(y, scores)
        figures.update(regression_figures(doc["regression"], y, scores, hp["random_state"]))
    else:
        doc["unsupervised"] = unsupervised(scores, groups, y, calibration)
        xlabel = "served score (calibrated probability of the anchor)" if calibration else "served anomaly score"
        figures["score_distribution.png"] = distribution_figure(scores, doc["unsupervised"]["risk_groups"], xlabel)
        if doc["unsupervised"]["anchor"] is not None:
            figures["calibration.png"] = calibration_figure(doc["unsupervised"]["anchor"]["calibration"], xlabel)
    doc["feature_importance"] = importance(estimator, names, X, y, task, hp["random_state"])
    figures["feature_importance.png"] = importance_figure(doc["feature_importance"])
    doc["figures"] = list(figures)
    return doc, figures


# ---------------------------------------------------------------- numbers
def _num(value) -> float | None:
    """A JSON number: None for NaN and infinities."""
    value = float(value)
    return value if value == value and abs(value) != float("inf") else None


def _nums(values) -> list[float | None]:
    return [_num(v) for v in values]


def thin(n: int, limit: int = MAX_CURVE_POINTS):
    """At most `limit` indices of 0..n-1, evenly spaced, the first and the last always among them."""
    import numpy as np

    if n <= limit:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(np.int64))


def _edges(lo: float, hi: float, bins: int):
    """Equal-width bin edges, lo + (hi - lo) * i / bins: 0.3, not linspace's 0.30000000000000004."""
    import numpy as np

    return lo + (hi - lo) * (np.arange(bins + 1) / bins)


def histogram(values, lo: float, hi: float, bins: int = HISTOGRAM_BINS) -> dict:
    import numpy as np

    counts, edges = np.histogram(values, bins=_edges(lo, hi, bins))
    return {"edges": _nums(edges), "counts": [int(c) for c in counts]}


def calibration(y, s, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Equal-width bins of the score: bin i holds lower <= score < upper (the last also 1.0)."""
    import numpy as np

    edges = _edges(0.0, 1.0, bins)
    index = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, bins - 1)
    out = []
    for i in range(bins):
        mask = index == i
        count = int(mask.sum())
        out.append(
            {
                "lower": float(edges[i]),
                "upper": float(edges[i + 1]),
                "count": count,
                "positives": int(y[mask].sum()),
                "mean_predicted": _num(s[mask].mean()) if count else None,
                "fraction_positive": _num(y[mask].mean()) if count else None,
            }
        )
    return out


def risk_groups(y, s, groups: list[dict]) -> list[dict]:
    """Per group: its score range [min_score, next group's min_score), its rows (and positives), and the confusion
    matrix of flagging every score >= min_score."""
    out = []
    for i, group in enumerate(groups):
        low = group["min_score"]
        high = groups[i + 1]["min_score"] if i + 1 < len(groups) else None
        inside = (s >= low) & (s < high) if high is not None else s >= low
        row: dict[str, Any] = {"name": group["name"], "min_score": low, "max_score": high, "count": int(inside.sum())}
        if y is not None:
            flagged, positive = s >= low, y == 1
            tp, fp = int((flagged & positive).sum()), int((flagged & ~positive).sum())
            fn, tn = int((~flagged & positive).sum()), int((~flagged & ~positive).sum())
            row.update(
                positives=int(positive[inside].sum()),
                positive_rate=_num(positive[inside].mean()) if row["count"] else None,
                confusion={"threshold": low, "tp": tp, "fp": fp, "tn": tn, "fn": fn},
                precision=_num(tp / (tp + fp)) if tp + fp else None,
                recall=_num(tp / (tp + fn)) if tp + fn else None,
            )
        out.append(row)
    return out


def classification(y, s, groups: list[dict]) -> dict:
    import numpy as np
    from sklearn import metrics

    out: dict[str, Any] = {
        "score": "the positive class's probability (the served score)",
        "positives": int(y.sum()),
        "negatives": int((y == 0).sum()),
        "brier": _num(metrics.brier_score_loss(y, s)),
    }
    if len(np.unique(y)) == 2:
        fpr, tpr, roc_thresholds = metrics.roc_curve(y, s)
        precision, recall, pr_thresholds = metrics.precision_recall_curve(y, s)
        keep, keep_pr = thin(len(fpr)), thin(len(precision))
        pr_thresholds = np.append(pr_thresholds, np.nan)  # the curve's last point (recall 0) has no threshold
        out.update(
            auc=_num(metrics.roc_auc_score(y, s)),
            average_precision=_num(metrics.average_precision_score(y, s)),
            roc_curve={
                "fpr": _nums(fpr[keep]),
                "tpr": _nums(tpr[keep]),
                "threshold": _nums(roc_thresholds[keep]),
                "points": int(len(fpr)),
            },
            pr_curve={
                "precision": _nums(precision[keep_pr]),
                "recall": _nums(recall[keep_pr]),
                "threshold": _nums(pr_thresholds[keep_pr]),
                "points": int(len(precision)),
            },
        )
    else:
        out.update(auc=None, average_precision=None, roc_curve=None, pr_curve=None)
        out["note"] = "the hold-out holds one class only: no ROC or precision-recall curve"
    out["calibration"] = calibration(y, s)
    out["risk_groups"] = risk_groups(y, s, groups)
    out["score_histogram"] = {
        "positives": histogram(s[y == 1], 0.0, 1.0),
        "negatives": histogram(s[y == 0], 0.0, 1.0),
    }
    return out


def _quantiles(values) -> dict:
    import numpy as np

    points = {"min": 0, "p05": 5, "p25": 25, "median": 50, "p75": 75, "p95": 95, "max": 100}
    got = np.percentile(values, list(points.values()))
    return {"mean": _num(values.mean()), "std": _num(values.std()), **dict(zip(points, _nums(got), strict=True))}


def regression(y, predicted) -> dict:
    from sklearn import metrics

    residuals = y - predicted
    lo, hi = float(residuals.min()), float(residuals.max())
    return {
        "residual": "actual - predicted",
        "rmse": _num(metrics.root_mean_squared_error(y, predicted)),
        "mae": _num(metrics.mean_absolute_error(y, predicted)),
        "r2": _num(metrics.r2_score(y, predicted)) if len(y) > 1 else None,
        "residuals": _quantiles(residuals),
        "residual_histogram": histogram(residuals, lo, hi if hi > lo else lo + 1.0),
        "actual": _quantiles(y),
        "predicted": _quantiles(predicted),
    }


def unsupervised(served, groups: list[dict], anchor=None, platt: dict | None = None) -> dict:
    """The served score over the hold-out, and against the anchor on the rows that have it."""
    import numpy as np
    from sklearn import metrics

    if platt:
        score = (
            f"the served score: the anomaly score s(x) = -score_samples(x) calibrated against the anchor, "
            f"sigmoid({platt['a']:.6g} * s {platt['b']:+.6g}) (Platt scaling fitted on the training rows), "
            "the probability of the anchor; higher is riskier"
        )
    else:
        score = "the served anomaly score -score_samples(x), in (0, 1], higher is riskier (not calibrated)"
    out: dict[str, Any] = {
        "score": score,
        "calibration": platt,
        "scores": _quantiles(served),
        "score_histogram": histogram(served, 0.0, 1.0),
        "risk_groups": risk_groups(None, served, groups),
        "anchor": None,
    }
    if anchor is not None:
        present = ~np.isnan(anchor)
        y, s = anchor[present].astype(np.int64), served[present]
        out["anchor"] = {
            "rows": int(present.sum()),
            "positives": int(y.sum()),
            "auc": _num(metrics.roc_auc_score(y, s)) if len(np.unique(y)) == 2 else None,
            "brier": _num(metrics.brier_score_loss(y, s)) if platt else None,  # a probability's, when it is one
            "calibration": calibration(y, s),
            "risk_groups": risk_groups(y, s, groups),
        }
    return out


def importance(estimator, names: list[str], X, y, task: str, seed: int) -> dict:
    """Per encoded column, largest first: the estimator's own feature_importances_, or permutation importance on
    at most IMPORTANCE_ROWS seeded hold-out rows."""
    import numpy as np

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    values = getattr(final, "feature_importances_", None)
    if values is not None:
        out: dict[str, Any] = {
            "method": "impurity",
            "about": "the fitted ensemble's feature_importances_ (mean decrease in impurity, on the training rows)",
        }
        spread = None
    else:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(X.shape[0], IMPORTANCE_ROWS, replace=False)) if X.shape[0] > IMPORTANCE_ROWS else None
        Xs = X if rows is None else X[rows]
        ys = y if rows is None or y is None else y[rows]
        if task == "unsupervised":
            values, spread = _score_change(estimator, Xs, rng)
            about = "mean absolute change of the anomaly score when the column is permuted"
        else:
            values, spread, about = _permutation(estimator, Xs, ys, task, seed)
        out = {
            "method": "permutation",
            "about": about,
            "rows": int(Xs.shape[0]),
            "repeats": IMPORTANCE_REPEATS,
            "seed": seed,
        }
    order = np.argsort(-np.asarray(values, dtype=np.float64), kind="stable")
    out["features"] = [
        {"name": names[i], "importance": _num(values[i]), "std": None if spread is None else _num(spread[i])}
        for i in order
    ]
    return out


def _permutation(estimator, X, y, task: str, seed: int):
    import numpy as np
    from sklearn.inspection import permutation_importance

    if task == "classification":
        scoring = "roc_auc" if len(np.unique(y)) == 2 else "accuracy"
        about = (
            f"decrease of {'AUC' if scoring == 'roc_auc' else 'accuracy'} on the hold-out when the column is permuted"
        )
    else:
        scoring = "neg_root_mean_squared_error"
        about = "increase of RMSE on the hold-out when the column is permuted"
    result = permutation_importance(
        estimator, X, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=1
    )
    return result.importances_mean, result.importances_std, about


def _score_change(estimator, X, rng):
    import numpy as np

    base = estimator.score_samples(X)
    changes = np.zeros((X.shape[1], IMPORTANCE_REPEATS))
    for j in range(X.shape[1]):
        for r in range(IMPORTANCE_REPEATS):
            shuffled = X.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            changes[j, r] = np.abs(estimator.score_samples(shuffled) - base).mean()
    return changes.mean(axis=1), changes.std(axis=1)


# ---------------------------------------------------------------- figures
def _figure(width: float = 6.4, height: float = 4.4, **subplots):
    """A Figure with its own Agg canvas (no pyplot) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(**subplots)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})  # no version stamp: same figure, same bytes
    return buffer.getvalue()


def classification_figures(section: dict, y, s) -> dict[str, bytes]:
    from sklearn import metrics

    figures = {}
    if section["auc"] is not None:
        fig, ax = _figure(5.2, 4.8)
        fpr, tpr, _ = metrics.roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"AUC {section['auc']:.3f}")
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
        ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (hold-out)")
        ax.legend(loc="lower right")
        figures["roc.png"] = _png(fig)

        fig, ax = _figure(5.2, 4.8)
        precision, recall, _ = metrics.precision_recall_curve(y, s)
        ax.plot(recall, precision, label=f"average precision {section['average_precision']:.3f}")
        prevalence = section["positives"] / max(1, section["positives"] + section["negatives"])
        ax.axhline(prevalence, linestyle="--", color="grey", label=f"prevalence {prevalence:.3f}")
        ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02), title="Precision-recall curve (hold-out)")
        ax.legend(loc="upper right")
        figures["precision_recall.png"] = _png(fig)

    figures["calibration.png"] = calibration_figure(section["calibration"], "predicted probability")

    groups = section["risk_groups"]
    fig, axes = _figure(2.6 * len(groups), 3.0, ncols=len(groups), squeeze=False)
    for ax, group in zip(axes[0], groups, strict=True):
        c = group["confusion"]
        cells = [[c["tn"], c["fp"]], [c["fn"], c["tp"]]]
        ax.imshow(cells, cmap="Blues", vmin=0)
        dark = max(max(row) for row in cells) / 2
        for i in range(2):
            for j in range(2):
                color = "white" if cells[i][j] > dark else "black"
                ax.text(j, i, str(cells[i][j]), ha="center", va="center", color=color)
        ax.set_xticks([0, 1], ["not flagged", "flagged"])
        ax.set_yticks([0, 1], ["negative", "positive"])
        ax.set_title(f"{group['name']}: score >= {group['min_score']:g}", fontsize=10)
    figures["confusion_matrices.png"] = _png(fig)
    figures["score_distribution.png"] = distribution_figure(s, groups, "predicted probability", y)
    return figures


def calibration_figure(calibration_bins: list[dict], xlabel: str) -> bytes:
    """The calibration curve (mean score against the fraction of positives per bin) over the rows per bin."""
    fig, (top, bottom) = _figure(5.2, 6.0, nrows=2, height_ratios=[3, 1], sharex=True)
    bins = [b for b in calibration_bins if b["count"]]
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top.plot([b["mean_predicted"] for b in bins], [b["fraction_positive"] for b in bins], marker="o", label="model")
    top.set(ylabel="fraction of positives", title="Calibration (hold-out)")
    top.legend(loc="upper left")
    bottom.bar(
        [(b["lower"] + b["upper"]) / 2 for b in calibration_bins],
        [b["count"] for b in calibration_bins],
        width=1 / len(calibration_bins) * 0.9,
        color="tab:grey",
    )
    bottom.set(xlabel=xlabel, ylabel="rows", xlim=(0, 1))
    return _png(fig)


def distribution_figure(s, groups: list[dict], xlabel: str, y=None) -> bytes:
    """The score histogram (by label when there is one) with the risk groups' thresholds, and rows per group."""
    fig, (left, right) = _figure(10.0, 4.2, ncols=2, width_ratios=[3, 2])
    edges = _edges(0.0, 1.0, HISTOGRAM_BINS)
    if y is None:
        left.hist(s, bins=edges, color="tab:blue")
    else:
        left.hist([s[y == 0], s[y == 1]], bins=edges, stacked=True, label=["negative", "positive"])
        left.legend(loc="upper right")
    for group in groups[1:]:
        left.axvline(group["min_score"], color="black", linestyle=":", linewidth=1)
    left.set(xlabel=xlabel, ylabel="rows", title="Score distribution (hold-out)", xlim=(0, 1))
    names = [g["name"] for g in groups]
    counts = [g["count"] for g in groups]
    right.bar(names, counts, color="tab:grey", label="rows")
    if y is not None:
        right.bar(names, [g["positives"] for g in groups], color="tab:red", label="positives")
        right.legend(loc="upper right")
    for i, group in enumerate(groups):
        right.annotate(str(group["count"]), (i, group["count"]), ha="center", va="bottom")
    right.set(ylabel="rows", title="Rows per risk group")
    return _png(fig)


def regression_figures(section: dict, y, predicted, seed: int) -> dict[str, bytes]:
    import numpy as np

    rows = np.arange(len(y))
    if len(y) > SCATTER_POINTS:
        rows = np.sort(np.random.default_rng(seed).choice(len(y), SCATTER_POINTS, replace=False))
    figures = {}
    fig, ax = _figure(5.2, 5.0)
    ax.scatter(y[rows], predicted[rows], s=8, alpha=0.5)
    lo, hi = float(min(y.min(), predicted.min())), float(max(y.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], linestyle="--", color="grey", label="predicted = actual")
    ax.set(xlabel="actual", ylabel="predicted", title=f"Predicted vs actual (RMSE {section['rmse']:.4g})")
    ax.legend(loc="upper left")
    figures["predicted_vs_actual.png"] = _png(fig)

    fig, (left, right) = _figure(10.0, 4.2, ncols=2)
    residuals = y - predicted
    left.scatter(predicted[rows], residuals[rows], s=8, alpha=0.5)
    left.axhline(0.0, linestyle="--", color="grey")
    left.set(xlabel="predicted", ylabel="residual (actual - predicted)", title="Residuals vs predicted")
    hist = section["residual_histogram"]
    right.stairs(hist["counts"], hist["edges"], fill=True)
    right.set(xlabel="residual (actual - predicted)", ylabel="rows", title="Residual distribution")
    figures["residuals.png"] = _png(fig)
    return figures


def importance_figure(section: dict) -> bytes:
    shown = section["features"][:TOP_FEATURES][::-1]
    fig, ax = _figure(6.4, 1.2 + 0.3 * len(shown))
    ax.barh(
        [f["name"] for f in shown],
        [f["importance"] or 0.0 for f in shown],
        xerr=[f["std"] or 0.0 for f in shown] if section["method"] == "permutation" else None,
        color="tab:blue",
    )
    ax.set(xlabel=f"importance ({section['method']})", title="Feature importance")
    return _png(fig)


# ---------------------------------------------------------------- files
def _write(target: Path, doc: dict, figures: dict[str, bytes]) -> Path:
    """Stage every file beside the target, then move the folder in: no half-written report."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        for name, data in figures.items():
            (staging / name).write_bytes(data)
        (staging / "report.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        (staging / "report.html").write_text(page(doc, figures), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:72em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;padding:0.25em 0.6em;"
    "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
    "figure{display:inline-block;margin:0 1.5em 1.5em 0;vertical-align:top}img{max-width:100%}"
    "figcaption{color:#555;font-size:0.9em}"
)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def page(doc: dict, figures: dict[str, bytes]) -> str:
    """One HTML page holding everything: the figures are embedded as data: URIs."""
    task = doc["task"]
    parts = [
        f"<h1>Evaluation report: {html.escape(str(doc['model_version']))}</h1>",
        _table(
            ["model", str(doc["model_version"])],
            [["task", task], ["algorithm", doc["algorithm"]], ["hold-out rows", doc["rows"]]],
        ),
    ]
    section = doc[task]
    if task == "classification":
        parts.append("<h2>Metrics</h2>")
        keys = ("auc", "average_precision", "brier", "positives", "negatives")
        parts.append(_table(["metric", "value"], [[k, section[k]] for k in keys]))
        parts.append(
            "<h2>Risk groups</h2><p>The confusion matrix flags every score at or above the group's min_score.</p>"
        )
        rows = [
            [g["name"], g["min_score"], g["max_score"], g["count"], g["positives"]]
            + [g["confusion"][k] for k in ("tp", "fp", "tn", "fn")]
            + [g["precision"], g["recall"]]
            for g in section["risk_groups"]
        ]
        header = [
            "group",
            "min score",
            "up to (excl.)",
            "rows",
            "positives",
            "TP",
            "FP",
            "TN",
            "FN",
            "precision",
            "recall",
        ]
        parts.append(_table(header, rows))
    elif task == "regression":
        parts.append("<h2>Metrics</h2>")
        parts.append(_table(["metric", "value"], [[k, section[k]] for k in ("rmse", "mae", "r2")]))
        parts.append("<h2>Residuals (actual - predicted)</h2>")
        parts.append(_table(["statistic", "value"], [[k, v] for k, v in section["residuals"].items()]))
    else:
        parts.append(f"<h2>Scores</h2><p>{html.escape(section['score'])}</p>")
        parts.append(_table(["statistic", "value"], [[k, v] for k, v in section["scores"].items()]))
        rows = [[g["name"], g["min_score"], g["max_score"], g["count"]] for g in section["risk_groups"]]
        parts.append(_table(["group", "min score", "up to (excl.)", "rows"], rows))
        anchored = section["anchor"]
        if anchored is not None:
            parts.append(
                f"<h2>Against the anchor</h2><p>The {anchored['rows']} hold-out rows with the anchor "
                f"({anchored['positives']} positive).</p>"
            )
            parts.append(_table(["metric", "value"], [[k, anchored[k]] for k in ("auc", "brier", "rows", "positives")]))
            rows = [
                [g["name"], g["count"], g["positives"], g["positive_rate"], g["precision"], g["recall"]]
                for g in anchored["risk_groups"]
            ]
            header = ["group", "rows", "positives", "positive rate", "precision (flag >= min)", "recall"]
            parts.append(_table(header, rows))
    parts.append("<h2>Figures</h2>")
    for name, data in figures.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        title = html.escape(name.removesuffix(".png").replace("_", " "))
        parts.append(f'<figure><img src="{uri}" alt="{title}"><figcaption>{title}</figcaption></figure>')
    fi = doc["feature_importance"]
    parts.append(f"<h2>Feature importance</h2><p>{html.escape(fi['method'])}: {html.escape(fi['about'])}</p>")
    parts.append(
        _table(["feature", "importance", "std"], [[f["name"], f["importance"], f["std"]] for f in fi["features"]])
    )
    title = html.escape(f"Evaluation report: {doc['model_version']}")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
