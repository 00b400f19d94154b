"""Helpers of the container tests (a uniquely named module, so other areas' conftest files never shadow it)."""

from __future__ import annotations

import csv
import datetime
import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import REPO

CONTEXT = REPO / "containers" / "sklearn"

SCHEMA = {
    "features": [
        {"name": "deposits_per_week", "type": "float", "min": 0, "max": 1000},
        {"name": "session_minutes", "type": "float", "min": 0},
        {"name": "cancelled_withdrawals", "type": "int", "min": 0},
        {"name": "product", "type": "category", "allowed": ["casino", "sports", "poker", "lottery"]},
        {"name": "night_player", "type": "bool"},
        {"name": "bonus", "type": "float", "required": False, "default": 0},
    ]
}
FEATURES = [f["name"] for f in SCHEMA["features"]]


def make_rows(n: int, task: str, seed: int = 0) -> list[dict]:
    """Synthetic gambling-behaviour rows with signal in the label (risk or stake)."""
    rng = np.random.default_rng(seed)
    rows = []
    products = ["casino", "sports", "poker", "lottery"]
    for _ in range(n):
        dep = float(rng.gamma(2.0, 2.0))
        minutes = float(rng.uniform(0, 300))
        cancels = int(rng.poisson(1.0))
        product = products[int(rng.integers(0, 4))]
        night = bool(rng.random() < 0.3)
        score = 0.4 * dep + 0.01 * minutes + 0.8 * cancels + (1.0 if product == "casino" else 0) + 1.5 * night
        row = {
            "deposits_per_week": round(dep, 3),
            "session_minutes": round(minutes, 2),
            "cancelled_withdrawals": cancels,
            "product": product,
            "night_player": "true" if night else "false",
            "bonus": round(float(rng.uniform(0, 10)), 2),
        }
        if task == "classification":
            row["self_excluded"] = int(score + rng.normal(0, 1.0) > 4.5)
        elif task == "regression":
            row["stake"] = round(10 * score + float(rng.normal(0, 2)), 3)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict], columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(rows[0])
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


LABELS = {"classification": "self_excluded", "regression": "stake", "unsupervised": None}


class MlRoot:
    """One /opt/ml tree in a temporary folder."""

    def __init__(self, root: Path):
        self.root = root
        (root / "input" / "config").mkdir(parents=True)
        (root / "input" / "data").mkdir(parents=True)

    def hyperparameters(self, **hp) -> None:
        (self.root / "input" / "config" / "hyperparameters.json").write_text(
            json.dumps({k: str(v) for k, v in hp.items()})
        )

    def channel(self, name: str) -> Path:
        path = self.root / "input" / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def schema(self, doc: dict = SCHEMA, channel: str = "train") -> None:
        (self.channel(channel) / "schema.json").write_text(json.dumps(doc))

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"

    def model_files(self) -> list[str]:
        return sorted(p.name for p in self.model.iterdir()) if self.model.exists() else []

    def train(self) -> int:
        from vwt_model.train import main

        return main(self.root)


def classifier_root(base: Path, algorithm: str = "random_forest", n: int = 300) -> MlRoot:
    root = MlRoot(base)
    write_csv(root.channel("train") / "data.csv", make_rows(n, "classification"))
    root.schema()
    root.hyperparameters(algorithm=algorithm, task="classification", label="self_excluded", no_trees=8, max_depth=6)
    return root


class Served:
    """A `python -m vwt_model serve --port 0` subprocess; knows its port; stopped by the fixture."""

    def __init__(self, model_dir: Path, env: dict | None = None):
        self.log_path = model_dir.parent / f"serve-{time.monotonic_ns()}.log"
        self.log = self.log_path.open("w+")
        self.proc = subprocess.Popen(
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
                str(model_dir),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        self.port = self._wait_for(r"listening on 127\.0\.0\.1:(\d+)", 30)

    def output(self) -> str:
        return self.log_path.read_text()

    def _wait_for(self, pattern: str, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return int(found.group(1))
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"serve did not start:\n{self.output()}")

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.request("GET", "/ping")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"serve never became ready:\n{self.output()}")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        content_type: str | None = None,
        conn: http.client.HTTPConnection | None = None,
    ):
        own = conn is None
        conn = conn or self.connection()
        headers = {"Content-Type": content_type} if content_type else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            if own:
                conn.close()
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = data
        return resp.status, payload

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def capture_record(rows: list[dict], scores: list[float], when: datetime.datetime) -> str:
    """One line of an endpoint's data capture, as SageMaker writes it: the JSON request of `rows` (their features)
    and the answer `scores`, at `when`."""
    request = json.dumps([{k: r[k] for k in FEATURES} for r in rows])
    answer = json.dumps({"predictions": scores, "model_version": "v"})
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "application/json",
                    "mode": "INPUT",
                    "data": request,
                    "encoding": "JSON",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
    )
