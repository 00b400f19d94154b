"""Writing the tool's own files (packages, rendered definitions, documents, variables, state) so that a reader never
sees half of one, and an unchanged file keeps its bytes and its time."""

from __future__ import annotations

import os
from pathlib import Path


def write_if_changed(out: Path, data: bytes | str) -> Path:
    """Write `data` (text as UTF-8) to `out` atomically (a temporary file beside it, then a rename), leaving `out`
    alone when it holds `data` already; the folder is made when missing. Returns `out`."""
    raw = data.encode() if isinstance(data, str) else data
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and out.read_bytes() == raw:
        return out
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(raw)
    os.replace(tmp, out)
    return out
