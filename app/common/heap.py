"""Keep the collector off the objects every process holds for its whole life.

A served process holds some 300,000 objects from its imports and start-up (modules, classes,
SQLAlchemy and pydantic machinery). The cyclic garbage collector walks all of them at every
full collection: on these machines one such pass took 100–200 ms, and it falls on whichever
request allocates at that moment. `gc.freeze()` moves what exists at start-up into a permanent
generation that collections skip; what requests allocate is collected as before.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> None:
    """Once per process (test runs start many apps in one process; the first start freezes the
    imports, which is what matters)."""
    global _frozen
    if not _frozen:
        gc.collect()  # what start-up left as garbage goes now, not into the permanent generation
        gc.freeze()
        _frozen = True
