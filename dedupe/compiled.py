"""Compiled loops: the inner loops of every stage, compiled by numba once there is work for them.

A stage writes its loop over numpy arrays as a plain function, marked ``@jit``, and calls it by its
module-level name. Until enough work has come (``worth``), the loops run as the Python they are
written in: a pre-publication check of one draft must answer at once, and importing numba and
loading its cached machine code costs more (about 0.7 s) than such a check does interpreted. Past
``WORK_LIMIT`` code points or pairs in all (the first batch of a scan, a crawler's first hundreds
of stories), every marked function is replaced in its module by its numba-compiled version, cached
on disk by numba, and the loops release the GIL so that threads run them side by side
(``in_threads``). Both ways run the same code on the same arrays, so they give the same results.

``DEDUPE_KERNELS=compiled`` compiles at the first call, ``interpreted`` never.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

# Code points (or pairs) of work past which compiling pays for itself.
WORK_LIMIT = 400_000

_registry: list[tuple[dict[str, Any], str, Callable[..., Any]]] = []
_lock = threading.Lock()
# Set while an interpreted loop runs in this thread: the loops it calls need no setup of their own.
_inside = threading.local()
_state = {"compiled": False, "work": 0}
_MODE = os.environ.get("DEDUPE_KERNELS", "")


def jit(function: F) -> F:
    """Mark a loop to be compiled with numba (``njit``, cached, without the GIL) once it pays.
    Until then it runs interpreted, where numpy's integers wrap around as numba's do, silently.
    A loop marked after the others were compiled (its module imported late, as a scan imports
    its topics) is compiled at once."""
    with _lock:
        if _state["compiled"]:
            return _compiler()(function)
        _registry.append((function.__globals__, function.__name__, function))

    @functools.wraps(function)
    def interpreted(*args: Any) -> Any:
        if getattr(_inside, "loop", False):
            return function(*args)
        _inside.loop = True
        try:
            with np.errstate(over="ignore"):
                return function(*args)
        finally:
            _inside.loop = False

    return interpreted  # type: ignore[return-value]


def worth(amount: int) -> None:
    """Count the work the loops are about to do; compile them all once it is enough."""
    if _state["compiled"] or _MODE == "interpreted":
        return
    _state["work"] += amount
    if _MODE == "compiled" or _state["work"] > WORK_LIMIT:
        _compile()


def compile_now() -> None:
    """Compile every marked loop now, unless ``DEDUPE_KERNELS=interpreted``."""
    if _MODE != "interpreted":
        _compile()


def is_compiled() -> bool:
    return bool(_state["compiled"])


def _compile() -> None:
    with _lock:
        if _state["compiled"]:
            return
        compile_ = _compiler()
        for namespace, name, function in _registry:
            namespace[name] = compile_(function)
        _state["compiled"] = True


def _compiler() -> Callable[[F], F]:
    import numba

    return numba.njit(cache=True, nogil=True)


def threads() -> int:
    """Threads for work split across cores: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def in_threads(work: Callable[[int, int], Any], count: int, minimum: int = 2048) -> list[Any]:
    """``work(start, stop)`` over ``range(count)``, cut into one contiguous part per thread, or
    one part when there is too little to share (or the loops are not compiled: interpreted, they
    hold the GIL); the results in order."""
    parts = min(threads(), max(1, count // minimum)) if is_compiled() else 1
    if parts == 1:
        return [work(0, count)]
    bounds = np.linspace(0, count, parts + 1).astype(np.int64).tolist()
    with ThreadPoolExecutor(parts) as pool:
        return list(pool.map(work, bounds[:-1], bounds[1:]))
