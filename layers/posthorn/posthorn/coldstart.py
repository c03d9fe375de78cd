"""Lambda's init phase: importing a function's handler module, with CPython's cyclic collector paused.

The import allocates some 50,000 objects (modules, classes, functions, pydantic's validators) that live as
long as the process. The collector runs as they pile up, walking more of them each time, and finds almost
nothing to free: in SendFunction's init one full collection and a dozen young ones, a share of the cold
start the baseline of `make bench`'s figure 1 does not pay (measured with `gc.callbacks` in that figure's
environment). So during the init the collector is off; at its end the survivors
are frozen (`gc.freeze`: moved to a generation the collector never walks), so the warm invocations'
collections do not walk them either, and the collector is back on. Reference counting frees everything
as usual; what the collector alone could free is kept: the few cycles the imports leave behind (a few
hundred objects), and any init-time object that later becomes part of a garbage cycle.

Only in Lambda (LAMBDA_TASK_ROOT set: a fresh process whose first act is this import). Elsewhere (tests,
the local stack, which imports handlers in a long-running threaded process) it does nothing.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def lambda_init() -> Iterator[None]:
    if not os.environ.get("LAMBDA_TASK_ROOT") or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
