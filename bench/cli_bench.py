"""Start-up time of `vwt-deploy --help` (goal: under 0.3 s; heavy imports are lazy)."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 20


def main(argv: list[str] | None = None) -> dict:
    exe = shutil.which("vwt-deploy", path=str(Path(sys.executable).parent)) or "vwt-deploy"
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    median_ms = statistics.median(times) * 1000
    print(
        f"vwt-deploy --help start-up, median of {RUNS}: {median_ms:.0f} ms (goal < 300 ms: "
        f"{'met' if median_ms < 300 else 'MISSED'})"
    )
    return {"help_startup_ms": round(median_ms, 1), "goal_ms": 300, "met": median_ms < 300}


if __name__ == "__main__":
    main(sys.argv[1:])
