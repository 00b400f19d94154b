"""What IAM enforcement costs (issue "local IAM enforcement"): retrain and the local API's latency, with the
emulator's `VWT_LOCAL_IAM` off and enforce, measured in one run. Goal: enforce at most 10% above off.

Two throw-away copies of the project, one per mode, each with its own emulator, both running at once (started by
`up` with `VWT_LOCAL_IAM` set in the CLI's environment, which the emulator inherits; both stopped at the end,
always). In each: `up --env local` (the API's throttle lifted, as in the runtime bench) and `data sample`. Then,
so that the machine's drift (2 cores, other processes) falls on both modes alike, the measurements alternate:

* `retrain --wait` (train, gate, deploy) of one model, ROUNDS rounds, the modes' order swapped every round
  (off/enforce, enforce/off, ...); the figure is the median per mode (the first, which creates the endpoint, is
  kept too);
* the API: BLOCKS blocks of PER_BLOCK sequential one-record predictions per mode over a keep-alive connection,
  the modes alternating block by block (order swapped every block), each block after its own warm-up round
  (`runtime_bench._latencies`); p50 and p95 over all the blocks of a mode.

Then what the enforce emulator's IAM recorded (`/_vwt/iam/access`): the decisions (allowed + denied, over every
role), the denials (must be 0), and the decisions the latency phase alone made.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODES = ("off", "enforce")
ROUNDS = 4  # retrains per mode
BLOCKS = 8  # latency blocks per mode
PER_BLOCK = 50  # measured requests per block (after as many warm-up requests)
GOAL = 1.10  # enforce / off


def _access(url: str) -> dict:
    from vwt_deploy.emulator.server import ACCESS_PATH

    with urllib.request.urlopen(url + ACCESS_PATH, timeout=10) as resp:
        return json.loads(resp.read())


def _counts(access: dict) -> dict:
    entries = [e for pairs in access.values() for e in pairs]
    return {
        "roles": len(access),
        "pairs": len(entries),
        "allowed": sum(e["allowed"] for e in entries),
        "denied": sum(e["denied"] for e in entries),
    }


def _api(cli: list[str], url: str) -> tuple[str, str]:
    """(the local API's URL, its key), as the runtime bench reads them."""
    import boto3
    from runtime_bench import _step

    _, out = _step(cli, "status", "--env", "local", "--json")
    status = json.loads(out)
    apigw = boto3.client(
        "apigateway", endpoint_url=url, region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    key = apigw.get_api_key(apiKey=status["outputs"]["api_key_ids"]["northbet"], includeValue=True)["value"]
    return status["local_api_url"], key


def _order(i: int) -> tuple[str, ...]:
    return MODES if i % 2 == 0 else MODES[::-1]


def main(argv: list[str] | None = None) -> dict:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    from runtime_bench import MODEL, _latencies, _pct, _step

    from tests.helpers import copy_project
    from vwt_deploy.emulator.enforcement import MODE_ENV
    from vwt_deploy.emulator.manager import Emulator

    tmps = {mode: Path(tempfile.mkdtemp(prefix=f"vwt-iam-bench-{mode}-")) for mode in MODES}
    projects = {mode: copy_project(tmps[mode]) for mode in MODES}
    emulators = {mode: Emulator(projects[mode] / ".vwt" / "emulator") for mode in MODES}
    # the mode travels in the CLI's environment (`env` sets it for that process only), the emulator inherits it
    clis = {
        mode: [
            "env",
            f"{MODE_ENV}={mode}",
            sys.executable,
            "-m",
            "vwt_deploy.cli",
            "--project-dir",
            str(projects[mode]),
        ]
        for mode in MODES
    }
    lifted = ("--set", "api.throttle_rate_limit=10000", "--set", "api.throttle_burst_limit=5000")
    setup: dict[str, dict[str, float]] = {mode: {} for mode in MODES}
    retrains: dict[str, list[float]] = {mode: [] for mode in MODES}
    outcomes: dict[str, list[str]] = {mode: [] for mode in MODES}
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    block_p50: dict[str, list[float]] = {mode: [] for mode in MODES}
    try:
        for mode in MODES:
            setup[mode]["up --env local"], _ = _step(clis[mode], "up", "--env", "local", "--yes", *lifted)
            setup[mode]["data sample"], _ = _step(clis[mode], "data", "sample", "--env", "local")
        infos = {mode: emulators[mode].running() for mode in MODES}
        for mode in MODES:
            info = infos[mode]
            running = (emulators[mode].health(info) or {}).get("iam") if info else None
            if running != mode:
                raise SystemExit(f"the {mode} project's emulator runs with IAM {running!r}, not {mode!r}")
        for i in range(ROUNDS):
            for mode in _order(i):
                took, out = _step(clis[mode], "retrain", "--env", "local", "--model", MODEL, "--wait")
                retrains[mode].append(took)
                outcomes[mode].append(out.strip().splitlines()[-1] if out.strip() else "")
        apis = {mode: _api(clis[mode], infos[mode].url) for mode in MODES}
        before = _counts(_access(infos["enforce"].url))
        for i in range(BLOCKS):
            for mode in _order(i):
                block, _ = _latencies(*apis[mode], 1, PER_BLOCK)
                times[mode].extend(block)
                block_p50[mode].append(round(statistics.median(block) * 1000, 1))
        after = _counts(_access(infos["enforce"].url))
        off_access = _counts(_access(infos["off"].url))
        denials_file = projects["enforce"] / ".vwt" / "emulator" / "iam" / "denials.jsonl"
        denial_lines = len(denials_file.read_text().splitlines()) if denials_file.exists() else 0
    finally:
        for mode in MODES:
            emulators[mode].stop()
            shutil.rmtree(tmps[mode], ignore_errors=True)

    figures: dict[str, dict] = {}
    for mode in MODES:
        figures[mode] = {
            "retrain_s_median": round(statistics.median(retrains[mode]), 2),
            "retrain_s_first": round(retrains[mode][0], 2),
            "retrain_s_all": [round(t, 2) for t in retrains[mode]],
            "retrain_outcomes": sorted(set(outcomes[mode])),
            "api_p50_ms": round(_pct(times[mode], 0.50), 2),
            "api_p95_ms": round(_pct(times[mode], 0.95), 2),
            "api_mean_ms": round(statistics.fmean(times[mode]) * 1000, 2),
            "api_requests": len(times[mode]),
            "api_block_p50_ms": block_p50[mode],
            "setup_s": {k: round(v, 1) for k, v in setup[mode].items()},
        }
    off, on = figures["off"], figures["enforce"]
    ratios = {
        "retrain (median)": on["retrain_s_median"] / off["retrain_s_median"],
        "retrain (first)": on["retrain_s_first"] / off["retrain_s_first"],
        "API p50": on["api_p50_ms"] / off["api_p50_ms"],
        "API p95": on["api_p95_ms"] / off["api_p95_ms"],
    }
    met = {name: ratio <= GOAL for name, ratio in ratios.items()}
    latency_decisions = after["allowed"] + after["denied"] - before["allowed"] - before["denied"]
    iam = {
        "decisions": after["allowed"] + after["denied"],
        "allowed": after["allowed"],
        "denied": after["denied"],
        "denials_jsonl_lines": denial_lines,
        "roles": after["roles"],
        "action_resource_pairs": after["pairs"],
        "decisions_in_latency_phase": latency_decisions,
        "decisions_per_prediction": round(latency_decisions / (2 * BLOCKS * PER_BLOCK), 2),
        "off_mode_decisions": off_access["allowed"] + off_access["denied"],
    }

    print(f"{'':<28} {'off':>9} {'enforce':>9} {'enforce/off':>12}  goal")
    rows = [
        ("retrain --wait, median", "retrain_s_median", "s", "retrain (median)"),
        ("retrain --wait, first", "retrain_s_first", "s", "retrain (first)"),
        ("API p50 (1 client)", "api_p50_ms", "ms", "API p50"),
        ("API p95 (1 client)", "api_p95_ms", "ms", "API p95"),
    ]
    for label, key, unit, ratio_name in rows:
        ratio = ratios[ratio_name]
        print(
            f"{label + ' (' + unit + ')':<28} {off[key]:>9.2f} {on[key]:>9.2f} {ratio:>11.3f}x  "
            f"<= {GOAL:.2f}x {'met' if met[ratio_name] else 'MISSED'}"
        )
    print(
        f"retrains per mode: {ROUNDS} (order swapped each round); "
        f"off {off['retrain_s_all']}, enforce {on['retrain_s_all']}"
    )
    print(
        f"API: {BLOCKS} blocks x {PER_BLOCK} requests per mode, alternating; block p50s off {off['api_block_p50_ms']}, "
        f"enforce {on['api_block_p50_ms']}"
    )
    print(
        f"enforce emulator's IAM: {iam['decisions']} decisions ({iam['allowed']} allowed, {iam['denied']} denied) "
        f"over {iam['roles']} principals and {iam['action_resource_pairs']} action/resource pairs; "
        f"{iam['decisions_per_prediction']} per prediction request; off emulator: {iam['off_mode_decisions']}"
    )
    return {
        "goal_enforce_over_off": GOAL,
        "method": (
            f"two projects and emulators (off, enforce) up at once; {ROUNDS} retrains per mode with the order swapped "
            f"each round (median); {BLOCKS} x {PER_BLOCK} sequential predictions per mode, the modes alternating "
            "block by block, each block after a warm-up of the same size"
        ),
        "modes": figures,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "met": met,
        "iam": iam,
    }


if __name__ == "__main__":
    main(sys.argv[1:])
