"""The Terraform state's lock: who holds it, whether that holder still runs, and how to release a stale one.

The S3 backend locks with a lockfile beside the state (`use_lockfile`: `<key>.tflock` in the state bucket), whose
JSON is Terraform's lock info: ID, Operation, Who (`user@host`), Version, Created, Path. While vwt-deploy runs
terraform it records its own pid and host in `.vwt/envs/<env>/terraform.holder.<pid>.json`, so that a lock left by a
run that was killed (a cancelled CI runner, a closed laptop) can be told from one whose run still goes on: the
holder is on this machine and its process no longer exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vwt_deploy.errors import ProcessError
from vwt_deploy.process import pid_alive

HOLDER_FILE = "terraform.holder.{pid}.json"
HOLDER_GLOB = "terraform.holder.*.json"


@dataclass(frozen=True)
class Lock:
    """Terraform's lock info, as the lockfile holds it."""

    id: str
    operation: str
    who: str
    created: str
    path: str

    @property
    def host(self) -> str:
        return self.who.rsplit("@", 1)[-1] if "@" in self.who else ""

    def describe(self) -> str:
        operation = self.operation.removeprefix("OperationType").lower() or "unknown operation"
        return f"lock {self.id}, held by {self.who or 'unknown'} since {self.created or 'unknown'} ({operation})"


def read_lock(s3: Any, bucket: str, key: str) -> Lock | None:
    """The state's lock (None when it is not locked)."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=f"{key}.tflock")["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket", "404", "NotFound"):
            return None
        raise
    try:
        info = json.loads(body)
    except ValueError:
        info = {}
    return Lock(
        id=str(info.get("ID") or ""),
        operation=str(info.get("Operation") or ""),
        who=str(info.get("Who") or ""),
        created=str(info.get("Created") or ""),
        path=str(info.get("Path") or f"{bucket}/{key}"),
    )


def _records(work: Path) -> list[dict[str, Any]]:
    """The holder records of other vwt-deploy processes on this machine (each writes its own file)."""
    out = []
    for path in sorted(work.glob(HOLDER_GLOB)):
        try:
            record = json.loads(path.read_text())
            record["pid"] = int(record["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if record["pid"] != os.getpid() and record.get("host") == socket.gethostname():
            record["file"] = path
            out.append(record)
    return out


@contextlib.contextmanager
def holding(work: Path, operation: str) -> Iterator[None]:
    """Record this process as one running terraform on the environment while the block runs (its own file, so a
    killed run's record stays for `holder_state` to find)."""
    work.mkdir(parents=True, exist_ok=True)
    path = work / HOLDER_FILE.format(pid=os.getpid())
    record = {"pid": os.getpid(), "host": socket.gethostname(), "operation": operation, "started": time.time()}
    path.write_text(json.dumps(record))
    killed = False
    try:
        yield
    except ProcessError as exc:
        killed = exc.returncode is not None and exc.returncode < 0
        raise
    finally:
        if not killed:  # terraform killed by a signal left its lock: the record stays, naming this process
            path.unlink(missing_ok=True)


def holder_state(lock: Lock, work: Path) -> tuple[str, int | None]:
    """("alive", pid): another vwt-deploy process on this machine still runs terraform on this environment;
    ("gone", pid): the one that did on this machine no longer runs (the lock is stale); ("elsewhere", None): the
    lock was taken on another machine; ("unknown", None): this machine has no record of who took it."""
    if lock.host and lock.host != socket.gethostname():
        return "elsewhere", None
    records = _records(work)
    if not records:
        return "unknown", None
    for record in records:
        if pid_alive(record["pid"]):
            return "alive", record["pid"]
    newest = max(records, key=lambda r: r.get("started") or 0)
    return "gone", newest["pid"]


def forget_dead_holders(work: Path) -> None:
    """Remove the records of runs that no longer exist (once their lock is released)."""
    for record in _records(work):
        if not pid_alive(record["pid"]):
            record["file"].unlink(missing_ok=True)
