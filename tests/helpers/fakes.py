"""A fake process seam: records every argv and answers from a script of canned results."""

from __future__ import annotations

import json
from collections.abc import Callable

from vwt_deploy.errors import ProcessError
from vwt_deploy.process import Result


class FakeRunner:
    """`answers` maps a subcommand (argv element after -chdir, e.g. "plan") to (returncode, output) or a callable."""

    def __init__(self, answers: dict[str, object] | None = None):
        self.calls: list[list[str]] = []
        self.envs: list[dict] = []
        self.answers = {"version": (0, json.dumps({"terraform_version": "1.11.4"})), **(answers or {})}

    def subcommands(self) -> list[str]:
        return [self._sub(argv) for argv in self.calls]

    @staticmethod
    def _sub(argv: list[str]) -> str:
        rest = [a for a in argv[1:] if not a.startswith("-chdir=")]
        return rest[0] if rest else ""

    def run(self, argv, *, cwd=None, env=None, stream=True, ok_codes=(0,), hint=None) -> Result:
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        self.envs.append(dict(env or {}))
        answer = self.answers.get(self._sub(argv), (0, ""))
        if isinstance(answer, Callable):
            answer = answer(argv)
        code, output = answer  # type: ignore[misc]
        if code not in ok_codes:
            raise ProcessError(argv, code, output, hint)
        return Result(tuple(argv), code, output)


def show_json(*changes: tuple[str, list[str]]) -> str:
    """`terraform show -json` output with the given (type, actions) resource changes."""
    return json.dumps(
        {
            "resource_changes": [
                {"address": f"{t}.r{i}", "mode": "managed", "type": t, "change": {"actions": a}}
                for i, (t, a) in enumerate(changes)
            ]
        }
    )
