"""Placeholder: filled in by the runtime work (issue 8)."""


def install(runtime) -> None:
    pass


def middleware(app, runtime):
    return app
