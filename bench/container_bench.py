"""Benchmark of the training/serving image's code against the shape of AWS's scikit-learn BYO example.

Peer: Flask under gunicorn (sync workers, one per core), the model unpickled
once, the CSV body read with pandas, scikit-learn `predict`. Ours: `python -m
vwt_model serve` (threaded HTTP/1.1, ONNX model in onnxruntime). Same synthetic
30-feature classification set, same 100-tree forest, same machine, same run.

    python bench/container_bench.py [--quick] [--json out.json]

Needs the `bench` extra (flask, gunicorn, pandas): pip install -e '.[bench]'.
Prints a table; `main()` returns the results (the key "container") for bench/run.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pickle
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

TREES = 100
MAX_DEPTH = 12  # bounds the 200k-row fit on a small machine; the catalogue's models use 8 to 20
FEATURES = 30
SEED = 0

PEER_APP = textwrap.dedent("""
    # The shape of AWS's scikit-learn bring-your-own example (predictor.py): Flask, pickle, pandas, predict.
    import io, os, pickle
    import flask
    import pandas as pd

    with open(os.environ["PEER_MODEL"], "rb") as fh:
        model = pickle.load(fh)
    app = flask.Flask(__name__)

    @app.route("/ping", methods=["GET"])
    def ping():
        return flask.Response(response="\\n", status=200, mimetype="application/json")

    @app.route("/invocations", methods=["POST"])
    def invocations():
        if flask.request.content_type != "text/csv":
            return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
        data = pd.read_csv(io.StringIO(flask.request.data.decode("utf-8")), header=None)
        predictions = model.predict(data.values)
        out = io.StringIO()
        pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
        return flask.Response(response=out.getvalue(), status=200, mimetype="text/csv")
""")

CLIENT = textwrap.dedent("""
    import http.client, sys, time
    port, seconds, start_at, body = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.stdin.read()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < start_at:
        time.sleep(0.001)
    ok = errors = 0
    end = time.time() + seconds
    while time.time() < end:
        try:
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            resp = conn.getresponse()
            resp.read()
            if resp.status == 200:
                ok += 1
            else:
                errors += 1
        except OSError:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    print(ok, errors)
""")


def log(message: str) -> None:
    print(f"[container-bench] {message}", file=sys.stderr, flush=True)


def make_data(rows: int, seed: int = SEED):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows, n_features=FEATURES, n_informative=12, n_redundant=6, flip_y=0.05, random_state=seed
    )
    return X.astype(np.float32), y


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path.parent.mkdir(parents=True, exist_ok=True)
    columns = {f"f{i}": X[:, i] for i in range(X.shape[1])}
    columns["label"] = y
    pacsv.write_csv(pa.table(columns), path)


def ml_root(base: Path, X, y) -> Path:
    write_csv(base / "input" / "data" / "train" / "data.csv", X, y)
    (base / "input" / "config").mkdir(parents=True, exist_ok=True)
    (base / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(
            {
                "algorithm": "random_forest",
                "task": "classification",
                "label": "label",
                "no_trees": str(TREES),
                "max_depth": str(MAX_DEPTH),
                "random_state": str(SEED),
            }
        )
    )
    return base


def run_measured(argv: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a process to completion; return its wall time (s), its peak RSS (MB) and its output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (Linux /proc)."""
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
        for p in pids:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    except (OSError, AttributeError):
        return float("nan")
    return total


class Server:
    def __init__(self, argv: list[str], pattern: str, env: dict | None = None, cwd: str | None = None):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **(env or {})}
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = re.search(pattern, Path(self.log.name).read_text())
            if found:
                self.port = int(found.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited:\n{Path(self.log.name).read_text()}")
            time.sleep(0.05)
        else:
            raise RuntimeError(f"{argv} did not start:\n{Path(self.log.name).read_text()}")
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{argv[0]} never became ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def latencies(port: int, body: str, count: int, warmup: int = 20) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    out = []
    for i in range(warmup + count):
        started = time.perf_counter()
        conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
        resp = conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - started
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}")
        if i >= warmup:
            out.append(elapsed * 1000)
    conn.close()
    return out


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def inprocess_ms(fn, count: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def throughput(port: int, body: str, clients: int, seconds: float) -> dict:
    start_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT, str(port), str(seconds), str(start_at)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    for proc in procs:
        proc.stdin.write(body)
        proc.stdin.close()
    ok = errors = 0
    for proc in procs:
        a, b = proc.stdout.read().split()
        proc.wait()
        ok, errors = ok + int(a), errors + int(b)
    return {"rps": ok / seconds, "errors": errors}


def csv_rows(X: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in X)


def bench_serving(work: Path, quick: bool) -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    rows = 5000 if quick else 20000
    X, y = make_data(rows)
    root = ml_root(work / "serving", X, y)
    log(f"training the serving model ({rows} rows, {TREES} trees, max_depth {MAX_DEPTH}) with vwt_model train")
    run_measured([sys.executable, "-m", "vwt_model", "train"], {"VWT_ML_ROOT": str(root)})
    # the peer's model: the same estimator on the same training split, unpickled by its server
    X_train, X_val, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=SEED, stratify=y)
    peer_model = RandomForestClassifier(n_estimators=TREES, max_depth=MAX_DEPTH, random_state=SEED, n_jobs=-1)
    peer_model.fit(X_train, y_train)
    peer_model.n_jobs = 1  # its fastest setting for small requests (joblib dispatch costs more than it saves)
    (work / "peer").mkdir()
    with (work / "peer" / "model.pkl").open("wb") as fh:
        pickle.dump(peer_model, fh)
    (work / "peer" / "peer_app.py").write_text(PEER_APP)

    one = csv_rows(X_val[:1])
    batch = csv_rows(X_val[:1000])
    workers = os.cpu_count() or 1
    ours = Server(
        [
            sys.executable,
            "-m",
            "vwt_model",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--model-dir",
            str(root / "model"),
        ],
        r"listening on 127\.0\.0\.1:(\d+)",
    )
    peer = Server(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--bind",
            "127.0.0.1:0",
            "--chdir",
            str(work / "peer"),
            "peer_app:app",
        ],
        r"Listening at: http://127\.0\.0\.1:(\d+)",
        env={"PEER_MODEL": str(work / "peer" / "model.pkl")},
    )
    try:
        n_ours, n_peer = (500, 100) if quick else (3000, 400)
        log("single-record latency")
        ours_one = latencies(ours.port, one, n_ours)
        peer_one = latencies(peer.port, one, n_peer)
        log("1,000-record batches")
        ours_batch = latencies(ours.port, batch, 10 if quick else 40, warmup=3)
        peer_batch = latencies(peer.port, batch, 5 if quick else 15, warmup=2)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1  # what the server uses
        session = ort.InferenceSession(str(root / "model" / "model.onnx"), options, providers=["CPUExecutionProvider"])
        Xb = X_val[:1000]
        name = session.get_inputs()[0].name
        onnx_batch = inprocess_ms(lambda: session.run(["probabilities"], {name: Xb}), 10 if quick else 40)
        options_all = ort.SessionOptions()
        options_all.intra_op_num_threads = workers  # the same model with every core on the one batch
        session_all = ort.InferenceSession(
            str(root / "model" / "model.onnx"), options_all, providers=["CPUExecutionProvider"]
        )
        onnx_batch_all = inprocess_ms(lambda: session_all.run(["probabilities"], {name: Xb}), 10 if quick else 40)
        sklearn_batch = inprocess_ms(lambda: peer_model.predict(Xb), 5 if quick else 15)
        onnx_one = inprocess_ms(lambda: session.run(["probabilities"], {name: X_val[:1]}), 200)
        sklearn_one = inprocess_ms(lambda: peer_model.predict_proba(X_val[:1]), 50)
        seconds = 3.0 if quick else 8.0
        log(f"throughput, 8 concurrent clients, {seconds:g} s each")
        ours_tp = throughput(ours.port, one, 8, seconds)
        peer_tp = throughput(peer.port, one, 8, seconds)
        ours_rss, peer_rss = rss_mb(ours.proc.pid), rss_mb(peer.proc.pid)
    finally:
        ours.stop()
        peer.stop()
    return {
        "serving_model": {
            "rows": rows,
            "trees": TREES,
            "max_depth": MAX_DEPTH,
            "features": FEATURES,
            "onnx_mb": round((root / "model" / "model.onnx").stat().st_size / 1e6, 2),
        },
        "single_record_ms": {
            "ours_p50": p(ours_one, 50),
            "ours_p99": p(ours_one, 99),
            "peer_p50": p(peer_one, 50),
            "peer_p99": p(peer_one, 99),
            "speedup_p50": p(peer_one, 50) / p(ours_one, 50),
            "onnx_inprocess": onnx_one,
            "sklearn_predict_proba_inprocess": sklearn_one,
        },
        "batch_1000_ms": {
            "ours_http_p50": p(ours_batch, 50),
            "onnx_inprocess_p50": onnx_batch,
            "ratio_to_inprocess": p(ours_batch, 50) / onnx_batch,
            "onnx_inprocess_all_cores_p50": onnx_batch_all,
            "ratio_to_inprocess_all_cores": p(ours_batch, 50) / onnx_batch_all,
            "peer_http_p50": p(peer_batch, 50),
            "sklearn_predict_inprocess_p50": sklearn_batch,
        },
        "throughput_8_clients_rps": {
            "ours": ours_tp["rps"],
            "peer": peer_tp["rps"],
            "ratio": ours_tp["rps"] / max(peer_tp["rps"], 1e-9),
            "errors": ours_tp["errors"] + peer_tp["errors"],
        },
        "server_rss_mb": {"ours": ours_rss, "peer": peer_rss, "peer_workers": workers},
    }


BARE_FIT = textwrap.dedent("""
    import json, sys, time
    import numpy as np, pyarrow.csv as pacsv
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split
    table = pacsv.read_csv(sys.argv[1])
    y = table.column("label").to_numpy()
    X = np.column_stack([table.column(c).to_numpy() for c in table.column_names if c != "label"]).astype(np.float32)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    model = RandomForestClassifier(n_estimators=int(sys.argv[2]), max_depth=int(sys.argv[3]), n_jobs=-1, random_state=0)
    started = time.perf_counter()
    model.fit(X_train, y_train)
    print(json.dumps({"fit_s": time.perf_counter() - started}))
""")


def bench_training(work: Path, rows: int, repeat: int = 1) -> dict:
    """The container's whole `train` (wall time of the process) vs a bare fit of the same model on the same split
    already in memory. With repeat > 1 the runs alternate and the fastest of each is kept (shared machines are
    noisy)."""
    X, y = make_data(rows, seed=1)
    root = ml_root(work / "training", X, y)
    del X, y
    csv_path = root / "input" / "data" / "train" / "data.csv"
    runs, bare_runs = [], []
    for attempt in range(repeat):
        log(f"training on {rows} rows ({attempt + 1}/{repeat}): the container (load + fit + convert + evaluate + save)")
        runs.append(run_measured([sys.executable, "-m", "vwt_model", "train"], {"VWT_ML_ROOT": str(root)}))
        log(f"training on {rows} rows ({attempt + 1}/{repeat}): a bare scikit-learn fit on the same data in memory")
        _, bare_peak, bare_out = run_measured(
            [sys.executable, "-c", BARE_FIT, str(csv_path), str(TREES), str(MAX_DEPTH)]
        )
        bare_runs.append((json.loads(bare_out.strip().splitlines()[-1])["fit_s"], bare_peak))
    wall, peak, out = min(runs, key=lambda r: r[0])
    bare_fit, bare_peak = min(bare_runs)
    timing = re.search(r"timing: load ([\d.]+)s, fit ([\d.]+)s, convert ([\d.]+)s, evaluate ([\d.]+)s", out)
    breakdown = None
    if timing:
        load, fit, convert, evaluate = (float(g) for g in timing.groups())
        breakdown = {
            "load": load,
            "fit": fit,
            "convert": convert,
            "evaluate": evaluate,
            "startup_and_save": wall - load - fit - convert - evaluate,
        }
    return {
        "rows": rows,
        "repeat": repeat,
        "container_wall_s": wall,
        "bare_fit_s": bare_fit,
        "ratio": wall / bare_fit,
        # noise-robust: the container's wall time over the fit measured inside the same process
        "ratio_to_own_fit": wall / breakdown["fit"] if breakdown else None,
        "container_breakdown_s": breakdown,
        "container_peak_rss_mb": peak,
        "bare_fit_process_peak_rss_mb": bare_peak,
        "onnx_mb": round((root / "model" / "model.onnx").stat().st_size / 1e6, 2),
        "all_runs_s": {"container": [r[0] for r in runs], "bare_fit": [r[0] for r in bare_runs]},
    }


def table(results: dict) -> str:
    lines = [f"{'measure':<44}{'ours':>12}{'peer':>12}{'goal':>22}"]
    if "single_record_ms" in results:
        lines += serving_table(results)
    tr = results.get("training")
    if tr:
        b = tr["container_breakdown_s"] or {}
        lines += [
            f"{'training ' + format(tr['rows'], ',') + ' rows: container wall (s)':<44}{tr['container_wall_s']:>12.1f}"
            f"{'':>12}{'<= 1.15x bare fit':>22}",
            f"{'  of which fit (s)':<44}{b.get('fit', float('nan')):>12.1f}{'':>12}{'':>22}",
            f"{'  load/convert/evaluate/start+save (s)':<38}"
            + "{:>18}".format(
                "{:.1f}/{:.1f}/{:.1f}/{:.1f}".format(
                    b.get("load", 0), b.get("convert", 0), b.get("evaluate", 0), b.get("startup_and_save", 0)
                )
            ),
            f"{'  bare scikit-learn fit, data in memory (s)':<44}{tr['bare_fit_s']:>12.1f}{'':>12}{'':>22}",
            f"{'  ratio':<44}{tr['ratio']:>12.2f}{'':>12}{'':>22}",
            f"{'  wall / the fit inside the container':<44}{(tr['ratio_to_own_fit'] or float('nan')):>12.2f}{'':>12}"
            f"{'':>22}",
            f"{'  peak RSS: container / bare-fit process (MB)':<44}{tr['container_peak_rss_mb']:>12.0f}"
            f"{tr['bare_fit_process_peak_rss_mb']:>12.0f}{'':>22}",
        ]
    return "\n".join(lines)


def serving_table(results: dict) -> list[str]:
    s, b, t = results["single_record_ms"], results["batch_1000_ms"], results["throughput_8_clients_rps"]
    return [
        f"{'single record p50 (ms, keep-alive loopback)':<44}{s['ours_p50']:>12.3f}{s['peer_p50']:>12.3f}"
        f"{'<= 1 ms, >= 10x':>22}",
        f"{'single record p99 (ms)':<44}{s['ours_p99']:>12.3f}{s['peer_p99']:>12.3f}{'':>22}",
        f"{'  speedup p50 (peer / ours)':<44}{s['speedup_p50']:>12.1f}{'':>12}{'':>22}",
        f"{'  in-process one row: onnxruntime / sklearn':<44}{s['onnx_inprocess']:>12.3f}"
        f"{s['sklearn_predict_proba_inprocess']:>12.3f}{'':>22}",
        f"{'1,000-record batch over HTTP p50 (ms)':<44}{b['ours_http_p50']:>12.2f}{b['peer_http_p50']:>12.2f}{'':>22}",
        f"{'  in-process prediction of the batch (ms)':<44}{b['onnx_inprocess_p50']:>12.2f}"
        f"{b['sklearn_predict_inprocess_p50']:>12.2f}{'':>22}",
        f"{'  in-process, onnxruntime on all cores (ms)':<44}{b['onnx_inprocess_all_cores_p50']:>12.2f}"
        f"{'':>12}{'':>22}",
        f"{'  HTTP / in-process (all cores)':<44}{b['ratio_to_inprocess_all_cores']:>12.2f}{'':>12}{'':>22}",
        f"{'  HTTP / in-process (1 onnxruntime thread)':<44}{b['ratio_to_inprocess']:>12.2f}"
        f"{b['peer_http_p50'] / b['sklearn_predict_inprocess_p50']:>12.2f}{'<= 1.2x':>22}",
        f"{'throughput, 8 concurrent clients (req/s)':<44}{t['ours']:>12.0f}{t['peer']:>12.0f}{'>= 5x peer':>22}",
        f"{'  ratio':<44}{t['ratio']:>12.1f}{'':>12}{'':>22}",
        f"{'server RSS (MB)':<44}{results['server_rss_mb']['ours']:>12.0f}{results['server_rss_mb']['peer']:>12.0f}"
        f"{'':>22}",
    ]


def goals(results: dict) -> dict:
    out = {}
    if "single_record_ms" in results:
        s, b, t = results["single_record_ms"], results["batch_1000_ms"], results["throughput_8_clients_rps"]
        out = {
            "single_p50_at_most_1ms": s["ours_p50"] <= 1.0,
            "single_p50_10x_lower_than_peer": s["speedup_p50"] >= 10,
            "batch_at_most_1_2x_inprocess": b["ratio_to_inprocess"] <= 1.2,
            "throughput_5x_peer": t["ratio"] >= 5,
        }
    if results.get("training"):
        out["training_at_most_1_15x_bare_fit"] = results["training"]["ratio"] <= 1.15
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data and fewer requests (a smoke run)")
    parser.add_argument("--train-rows", type=int, default=None, help="rows of the training benchmark (default 200,000)")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="training runs of each kind; the fastest counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vwt-container-bench-") as tmp:
        work = Path(tmp)
        results = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
        }
        if not args.skip_serving:
            results.update(bench_serving(work, args.quick))
        if not args.skip_training:
            rows = args.train_rows or (20000 if args.quick else 200000)
            results["training"] = bench_training(work, rows, max(1, args.repeat))
    results["goals"] = goals(results)
    print(table(results))
    print("goals: " + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in results["goals"].items()))
    out = {"container": results}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return out


if __name__ == "__main__":
    main()
