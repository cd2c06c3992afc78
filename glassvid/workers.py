"""One shared helper thread, for overlapping two OpenCV calls that each leave cores idle.

OpenCV releases the GIL, and its own parallel loops keep a 2-core machine only partly
busy on frame-sized work (DIS optical flow most of all), so running a second call in
this thread while the caller runs the first can shorten the wall time. Measured where
it is used (:meth:`glassvid.flow.dis.DISFlow.pair`); overlapping the temporal stage's
own flow with the rest of that stage was measured too, and was slower.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

_POOL: ThreadPoolExecutor | None = None
_LOCK = threading.Lock()


def helper() -> ThreadPoolExecutor:
    """The shared one-thread executor (created on first use)."""
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glassvid-helper")
        return _POOL
