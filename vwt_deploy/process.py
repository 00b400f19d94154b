"""The one seam every subprocess goes through (terraform, docker, the emulator).

`Runner.run` takes an argv list, streams the output live (line by line) to a
sink, keeps its tail, and raises `ProcessError` on failure. Tests replace the
runner with a fake that records argv and returns canned results.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from vwt_deploy.errors import ProcessError

TAIL_LINES = 30


def pid_alive(pid: int) -> bool:
    """Whether the process runs. A killed process its parent has not reaped (an orphan: the command that started it
    has ended) is a zombie that signal 0 still reaches: on Linux its state in /proc says it is dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): signal 0 is all there is
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")  # zombie, or dead


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str


def _to_stderr(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


class Runner:
    """Runs processes. `sink` receives each output line when streaming (default: stderr)."""

    def __init__(self, sink: Callable[[str], None] | None = None):
        self.sink = sink or _to_stderr

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        stream: bool = True,
        ok_codes: Sequence[int] = (0,),
        hint: str | None = None,
    ) -> Result:
        """Run argv to completion. `env` is added to os.environ. Raises ProcessError unless the code is in ok_codes."""
        argv = [str(a) for a in argv]
        full_env = {**os.environ, **(env or {})}
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
        except FileNotFoundError:
            raise ProcessError(argv, None, "", hint or f"{argv[0]} is not on PATH: install it and try again") from None
        except OSError as exc:
            raise ProcessError(argv, None, str(exc), hint) from None
        lines: list[str] = []
        tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                lines.append(line)
                tail.append(line)
                if stream:
                    self.sink(line)
            code = proc.wait()
        except KeyboardInterrupt:
            # terraform handles SIGINT itself (it stops gracefully and releases its lock): wait for it
            code = proc.wait()
            raise
        output = "".join(lines)
        if code not in ok_codes:
            raise ProcessError(argv, code, "".join(tail), hint)
        return Result(tuple(argv), code, output)

    def spawn(
        self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | str | None = None
    ) -> int:
        """Start a long-running background process (its own session, output appended to `log`); return its pid."""
        argv = [str(a) for a in argv]
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env={**os.environ, **(env or {})},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ProcessError(argv, None, str(exc)) from None
        return proc.pid
