"""`python -m vwt_model train` / `serve [--port P]` / `drift [--since-hours H]` (the image's ENTRYPOINT)."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vwt_model", description="train or serve a VWT model (SageMaker contract)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("train", help="train from $VWT_ML_ROOT/input (default /opt/ml) into $VWT_ML_ROOT/model")
    serve = sub.add_parser("serve", help="serve $VWT_ML_ROOT/model over HTTP: GET /ping, POST /invocations")
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")),
        help="port (default $SAGEMAKER_BIND_TO_PORT or 8080)",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--model-dir", default=None, help="model folder (default $VWT_ML_ROOT/model)")
    drift = sub.add_parser(
        "drift", help="compare the captured requests with the model's training baseline (a Processing job)"
    )
    drift.add_argument("--since-hours", type=float, default=24.0, help="only records of the last H hours (24)")
    drift.add_argument("--now", default=None, help=argparse.SUPPRESS)  # tests: the check's clock
    args = parser.parse_args(argv)
    if args.command == "train":
        from .train import main as train_main

        return train_main()
    if args.command == "drift":
        from .drift import main as drift_main

        return drift_main(args.since_hours, args.now)
    from .serve import main as serve_main

    return serve_main(args.host, args.port, args.model_dir)


if __name__ == "__main__":
    sys.exit(main())
