"""Placeholder: filled in by the runtime work (issue 8)."""


def install(runtime) -> None:
    pass
