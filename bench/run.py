"""`make bench`: run every bench/*_bench.py, print one table, write bench/results.json.

Each benchmark module has `run() -> list[dict]`, one dict per figure:
{"name": str, "value": float, "unit": str, "goal": str | None, "met": bool | None}.
`python bench/run.py cli lambda` runs only those.
"""

from __future__ import annotations

import importlib.util
import json
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
    results: dict[str, list[dict]] = {}
    for path in sorted(HERE.glob("*_bench.py")):
        name = path.stem.removesuffix("_bench")
        if wanted and name not in wanted:
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        results[name] = load(path).run()
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    rows = [(group, r) for group, figures in results.items() for r in figures]
    width = max((len(f"{g}: {r['name']}") for g, r in rows), default=10)
    print()
    print(f"{'figure':<{width}}  {'value':>12}  {'goal':<22} met")
    for group, r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        print(f"{group + ': ' + r['name']:<{width}}  {r['value']:>10.3f} {r['unit']:<3} {str(r.get('goal') or ''):<22} {met}")
    out = HERE / "results.json"
    previous = json.loads(out.read_text()) if out.exists() and wanted else {}
    doc = {**previous.get("results", {}), **results}
    out.write_text(json.dumps({"machine": {"python": platform.python_version(), "cores": __import__("os").cpu_count(),
                                           "platform": platform.platform()},
                               "results": doc}, indent=2, sort_keys=True) + "\n")
    print(f"\nwritten {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
