"""Groups (ncclGroupStart/End): operations issued inside one run together
when the outermost group ends, so send/recv pairs and collectives on several
communicators cannot deadlock. Python keeps each queued call's arrays alive,
and runs its copy-back, once the group has run."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

from . import _strata

_state = threading.local()


def in_group() -> bool:
    return _strata.group_depth() > 0


def defer_in_group(call: Any) -> None:
    """Keeps `call` (its arrays, its copy-back) until the outermost group_end."""
    if not hasattr(_state, "calls"):
        _state.calls = []
    _state.calls.append(call)


def group_start() -> None:
    _strata.group_start()


def group_end() -> None:
    """Ends a group; the outermost one runs every queued operation (GIL released)."""
    outermost = _strata.group_depth() == 1
    try:
        _strata.group_end()
    finally:
        if outermost:
            calls, _state.calls = getattr(_state, "calls", []), []
    if outermost:
        for call in calls:
            if call.after is not None:
                call.after()


@contextlib.contextmanager
def group() -> Iterator[None]:
    """with strata.group(): ... — the operations inside run together at the end."""
    group_start()
    try:
        yield
    except BaseException:
        _strata.group_end_simulated()  # drop what was queued: a half-issued group must not run
        if _strata.group_depth() == 0:
            _state.calls = []
        raise
    group_end()
