"""The one error type the CLI reports: what went wrong and what to do."""

from __future__ import annotations


class VwtError(Exception):
    """An error a user can act on. `exit_code` 1 is a failure, 2 a usage or configuration error."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class ConfigError(VwtError):
    """The configuration (files or options) is invalid; nothing was run."""

    exit_code = 2


class NotAvailableError(VwtError):
    """A command that exists but is not built yet."""

    exit_code = 2


class ProcessError(VwtError):
    """A subprocess (terraform, docker, ...) failed. Carries its argv and the tail of its output."""

    def __init__(self, argv: list[str], returncode: int | None, tail: str, hint: str | None = None):
        shown = " ".join(argv[:3]) + (" ..." if len(argv) > 3 else "")
        status = "could not be started" if returncode is None else f"exited with {returncode}"
        message = f"`{shown}` {status}"
        if tail.strip():
            message += ":\n" + "\n".join("    " + line for line in tail.rstrip().splitlines())
        super().__init__(message, hint)
        self.argv = argv
        self.returncode = returncode
        self.tail = tail
