"""Running under ``torchrun``: one process group, one verdict, one exit code.

Without torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) nothing here does
anything: every helper is the identity and ``is_main()`` is True, so the single-process path is
untouched. The seam has three parts:

* ``session`` — this rank's place in the run: the process group, the agreement at the end of each
  check through the rendezvous store, and the watchdog that ends a run whose rank raised;
* ``reduce`` — the reductions of the numbers a decision rests on (the identity on one process);
* ``findings`` — the distributed findings of the set-up (DLC011-014) as pure functions.
"""

from __future__ import annotations

from dlcheck.distributed.findings import BN_PER_RANK_BATCH, differing_weights, small_bn_batch, unsharded_loader
from dlcheck.distributed.reduce import (all_true, any_true, average_gradients, fingerprint, gather_floats,
                                        has_distributed_sampler, mean, mean_refs, mean_values, reduce_floats,
                                        sum_tensor, total, weights_checksum)
from dlcheck.distributed.session import (GRACE_S, TIMEOUT_S, Session, active, is_main, launched, rank, session,
                                         start, stop, world_size)

__all__ = ["BN_PER_RANK_BATCH", "GRACE_S", "TIMEOUT_S", "Session", "active", "all_true", "any_true",
           "average_gradients", "differing_weights", "fingerprint", "gather_floats", "has_distributed_sampler",
           "is_main", "launched", "mean", "mean_refs", "mean_values", "rank", "reduce_floats", "session",
           "small_bn_batch", "start", "stop", "sum_tensor", "total", "unsharded_loader", "weights_checksum",
           "world_size"]
