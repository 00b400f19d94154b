"""Patching moto in place, idempotently: a patch made again replaces the earlier one (patches never stack), and
`restore` puts moto's own back.

moto keeps its classes (and the Step Functions interpreter's factory) process-wide, so a patch is too: the
emulator server patches once; a test may patch an in-process moto and restore it afterwards. A patch is a
closure over the runtime it was made for; the latest one made is the one moto calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_ABSENT = object()  # the owner had no attribute of that name of its own before the first patch
_ORIGINAL = "vwt_original"  # the attribute of a patch that holds what it replaced


def patch(owner: Any, name: str, make: Callable[[Any], Callable]) -> Callable:
    """Set `owner.name` to `make(moto's own owner.name)`, replacing an earlier patch of ours, not wrapping it."""
    current = owner.__dict__.get(name, _ABSENT)
    own = getattr(current, _ORIGINAL, current)
    fn = make(None if own is _ABSENT else own)
    fn.__name__ = name  # moto's responses dispatch on the method's name
    setattr(fn, _ORIGINAL, own)
    setattr(owner, name, fn)
    return fn


def patched(owner: Any, name: str) -> bool:
    return hasattr(owner.__dict__.get(name), _ORIGINAL)


def restore(owner: Any, name: str) -> None:
    """Put moto's own `owner.name` back (nothing if it is not patched)."""
    if not patched(owner, name):
        return
    own = getattr(owner.__dict__[name], _ORIGINAL)
    if own is _ABSENT:
        delattr(owner, name)
    else:
        setattr(owner, name, own)
