"""Garbage collection fitted to a long-running server process, and to an env process.

Both make many short-lived small objects (JSON messages, step replies) and hold a large,
long-lived heap (the app, an env's libraries: numpy, pygame, ...). With the default thresholds
the collector runs hundreds of times a second and full collections walk that whole heap,
stalling the event loop or every game of an env process. :func:`tune_gc` collects the young
generation every 50,000 allocations instead of 700 and freezes what exists (never garbage).
Used by ``ingest.py`` (the server, at its first connection) and ``env_process.py``.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Set :data:`GC_THRESHOLDS` and freeze every object that exists now."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()
