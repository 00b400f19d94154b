"""The training job's log: its stderr, which SageMaker sends to CloudWatch Logs and reads the metric lines from
(the metric definitions' regexes)."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
