"""The garbage collector of a served process, tuned once its app has started.

Python's cyclic collector runs a young collection every 700 allocations, and now and then
a full one that walks every object the process holds: the modules, the GraphQL schema,
the routes, the pools (~180,000 objects in the gateway). Under load a request's objects
outlive young collections (32 requests in flight), so full collections come often, and
each walks all of that again. Measured in process (`python -m bench.request_cost
--concurrency 32`, docs/performance.md), the collector took a tenth to a fifth of the
gateway's own CPU per request at 32 requests in flight.

So once the app has started (everything it keeps for its lifetime exists), the process
collects once and freezes what is left (`gc.freeze()`: those objects are never walked
again; they live as long as the process anyway), and runs young collections every 7,000
allocations instead of 700 (fewer walks of the requests in flight; the garbage waiting
for a collection stays a few MB at most). Only in processes started by `apicore.serve`
(the servers): tests build apps in one long process and keep the collector as it comes.
Off: `*_GC_FREEZE=false`.
"""

from __future__ import annotations

import gc
import os

ENV = "APICORE_GC_FREEZE"  # set by apicore.serve for the server's processes (its workers too)
YOUNG_THRESHOLD = 7000


def tune_for_serving() -> None:
    """Freeze what startup made and collect young objects less often (see above)."""
    if os.environ.get(ENV) != "1":
        return
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
