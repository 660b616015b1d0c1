"""One lock per model object: every path that runs a model holds it while it does.

nnsight refuses a second trace while one runs on the same model ("Cannot invoke during an
active model execution"), and two at once have aborted the interpreter. So
``collect_logit_lens`` and its seed-API siblings, studies, a widget's runs and follow-ups,
generation and diffs all take :func:`model_lock` of the model they run. The lock is
re-entrant: a widget's run holds it and may call the collection API underneath.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

__all__ = ["model_lock"]

_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_by_id: dict[int, threading.RLock] = {}
_guard = threading.Lock()


def model_lock(model: Any) -> threading.RLock:
    """The (re-entrant) lock that serializes every computation on ``model``."""
    with _guard:
        try:
            lock = _locks.get(model)
        except TypeError:  # not weak-referenceable: keyed by identity for its lifetime
            return _by_id.setdefault(id(model), threading.RLock())
        if lock is None:
            lock = _locks[model] = threading.RLock()
        return lock
