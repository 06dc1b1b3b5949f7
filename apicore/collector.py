"""The garbage collector of a served process, told once its app has started what it can skip.

Python's cyclic collector now and then runs a full collection that walks every object the
process holds: the modules, the GraphQL schema, the routes, the pools (~180,000 objects
in the gateway). Under load a request's objects outlive young collections (32 requests in
flight), so full collections come often, and each walks all of that again. Measured in
process (`python -m bench.request_cost --only S2 --concurrency 32 --collector`,
docs/performance.md), that was about a fifth of the gateway's own CPU per request at 32
requests in flight.

So once the app has started (everything it keeps for its lifetime exists), the process
collects once and freezes what is left (`gc.freeze()`): those objects are never walked
again, and they live as long as the process anyway. How often collections run is left as
Python has it: young collections every 7,000 allocations instead of 700 saved a little
more CPU, but let ~150 MB of refused 1 MB documents wait in memory for a collection
(tests/hostile/test_graphql.py, `test_padded_documents_do_not_stay_in_memory`).

Only in processes started by `apicore.serve` (the servers): tests build apps in one long
process and keep the collector as it comes. Off: `*_GC_FREEZE=false`.
"""

from __future__ import annotations

import gc
import os

ENV = "APICORE_GC_FREEZE"  # set by apicore.serve for the server's processes (its workers too)


def tune_for_serving() -> None:
    """Freeze what startup made (see above), in a served process."""
    if os.environ.get(ENV) != "1":
        return
    gc.collect()
    gc.freeze()
