"""Start-up time of `vwt-deploy --help` (goal: under 0.3 s; heavy imports are lazy)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 20


def run() -> list[dict]:
    exe = shutil.which("vwt-deploy", path=str(Path(sys.executable).parent)) or "vwt-deploy"
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return [{"name": f"vwt-deploy --help start-up (median of {RUNS})", "value": median * 1000, "unit": "ms",
             "goal": "< 300 ms", "met": median < 0.3}]
