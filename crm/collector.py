"""Python's cyclic garbage collector, paused around big computations that make no cycles.

The duplicate screen builds millions of small tuples and sets in a few seconds. The collector
runs every 700 allocations and, as the heap grows, walks all of it again and again; it finds
nothing, since pairs and keys make no reference cycles, and costs a fifth of the run at 100k
customers. :func:`collector_paused` stops it for the duration and starts it again after, also
when several threads (or nested calls) pause it at once: the last one out restarts it, and
only if it was running when the first came in. The objects made meanwhile join the oldest
generation without being examined. Memory is unaffected except for reference cycles made
meanwhile elsewhere in the process, which wait for the oldest generation's next collection.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PROMOTE_AFTER = 100_000  # objects made while paused: beyond this they skip the young collection
_lock = threading.Lock()
_depth = 0
_restart = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside (usable as a decorator: ``@collector_paused()``)."""
    global _depth, _restart
    with _lock:
        if _depth == 0:
            _restart = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                if gc.get_count()[0] > PROMOTE_AFTER:
                    # What was made meanwhile goes straight to the oldest generation, unexamined:
                    # examining millions of fresh tuples once costs as much as the pause saved.
                    # (freeze moves every tracked object to the permanent generation, unfreeze
                    # puts them back into the oldest; cycles among them wait for its next
                    # collection.) A small run is left to the young collection, as usual.
                    gc.freeze()
                    gc.unfreeze()
                if _restart:
                    gc.enable()
