"""`make bench`: run every bench/*_bench.py and write all their figures to bench/results.json.

Each benchmark module has `main(argv) -> dict`: it measures, prints its own table (with its goals) and
returns its figures. `python bench/run.py cli lambda` runs only those; their figures replace the
previous ones in results.json, the others are kept. A module is registered by its name alone: authorizer, cli,
container, faults, iam, lambda, local, runtime, scoring (a transform job over 1,000,000 rows against the model
in-process: `make bench ONLY=scoring`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    wanted = set(argv)
    out = HERE / "results.json"
    doc = json.loads(out.read_text()) if out.exists() else {}
    results = doc.get("results", {})
    for path in sorted(HERE.glob("*_bench.py")):
        name = path.stem.removesuffix("_bench")
        if wanted and name not in wanted:
            continue
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        results[name] = load(path).main([])
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cores": os.cpu_count(),
                    "platform": platform.platform(),
                },
                "results": results,
            },
            indent=2,
            sort_keys=True,
            default=str,
        )
        + "\n"
    )
    print(f"\nwritten {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
