"""Running under ``torchrun``: one process group, one verdict, one exit code.

Without torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) nothing here does
anything: every helper is the identity and ``is_main()`` is True, so the single-process path is
untouched.

Under torchrun each rank runs every check on its own shard of the data; the numbers a decision is
made on are all-reduced to the global mean (:func:`mean`) before they are judged, so every stop
and verdict is the same on every rank. Only rank 0 prints and writes reports; every rank exits with
the largest exit code of all ranks.

A rank whose check raises must not hang the others, which may be blocked inside a collective
(DDP's gradient all-reduce) that it will never join. So the ranks agree on the end of each check
through the rendezvous store, never through a collective, and a watchdog thread on every rank ends
the run (exit code 2, an error naming the rank) when some rank has posted an error and the others
have not reached the same point within a few seconds.
"""

from __future__ import annotations

import datetime
import os
import sys
import threading
import time

from dlcheck.results import listing

#: Seconds a rank's posted error waits for the other ranks to finish the same check before the
#: watchdog ends the run (they are probably blocked in a collective the failed rank never joins).
GRACE_S = float(os.environ.get("DLCHECK_DIST_GRACE", "5"))
#: Timeout of the process group's collectives (gloo and NCCL): the last resort against a hang.
TIMEOUT_S = float(os.environ.get("DLCHECK_DIST_TIMEOUT", "120"))

_session: "Session | None" = None


def launched() -> bool:
    """True when this process was started by torchrun (or another launcher setting its env vars)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def active() -> bool:
    """True while a dlcheck session under torchrun holds a process group."""
    return _session is not None and _session.ready


def rank() -> int:
    return _session.rank if _session is not None else 0


def world_size() -> int:
    return _session.world if active() else 1


def is_main() -> bool:
    """Rank 0 (or no torchrun at all): the one process that prints and writes reports."""
    return _session is None or _session.rank == 0


# -- the session --------------------------------------------------------------------------------------
class Session:
    """This rank's place in a torchrun run: rank, device, process group, agreement and watchdog."""

    def __init__(self):
        self.rank = int(os.environ["RANK"])
        self.world = int(os.environ["WORLD_SIZE"])
        self.local_rank = int(os.environ["LOCAL_RANK"])
        self.ready = False
        self.created = False  # dlcheck created the process group (and so destroys it)
        self.collective_device = None
        self.store = None
        self.phase = 0  # the number of agree() calls done: every rank makes them in the same order
        self.phase_label = "set-up"
        self.doing = "set-up"  # the check this rank is in (the runner says), for a dead peer's sentence
        self.report = None  # (Report, Settings) of this run once it exists: what finished, for rank 0
        self.render = None  # the CLI's renderer of a report, for a run a dead peer cut short
        self._stop = threading.Event()
        self._watchdog = None
        self._sentinel = None
        self._exiting = False
        self.leaving = False  # the run's exit code is decided and not 0 (exit_code)

    def device_spec(self, spec: str | None) -> str | None:
        """The device this rank uses: ``cuda:LOCAL_RANK`` for auto/cuda on a CUDA machine."""
        import torch

        wanted = (spec or "auto").strip().lower()
        if wanted in ("auto", "cuda") and torch.cuda.is_available():
            torch.cuda.set_device(self.local_rank)
            return f"cuda:{self.local_rank}"
        return spec

    def init_group(self, device) -> None:
        """The default process group from torchrun's environment, unless the target made one:
        NCCL when this rank runs on CUDA, gloo on the CPU."""
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=TIMEOUT_S))
            self.created = True
        backend = dist.get_backend()
        self.collective_device = device if backend == "nccl" else "cpu"
        from torch.distributed import distributed_c10d

        self.store = distributed_c10d._get_default_store()
        self.ready = True
        self._watchdog = threading.Thread(target=self._watch, name="dlcheck-watchdog", daemon=True)
        self._watchdog.start()
        from dlcheck.distributed import liveness

        self._sentinel = liveness.Sentinel(self)
        self._sentinel.install()

    # -- agreement through the store (no collective: a failed rank may have left one half-done)
    def _key(self, phase: int, rank: int) -> str:
        return f"dlcheck/phase{phase}/rank{rank}"

    def agree(self, label: str, error: str | None) -> list[tuple[int, str]]:
        """Post this rank's end of phase ``label`` (``error``: one sentence, or None) and wait for
        every rank's; returns ``(rank, error)`` for each rank that failed, the same list on every
        rank. A rank that never arrives is dealt with by the watchdog."""
        if not self.ready:
            return [(self.rank, error)] if error else []
        self.phase_label = label
        self.store.set(self._key(self.phase, self.rank), f"error\t{label}\t{time.time()!r}\t{error}" if error else "ok")
        keys = [self._key(self.phase, r) for r in range(self.world)]
        deadline = time.monotonic() + TIMEOUT_S
        while not all(self.store.check([k]) for k in keys):  # polled: a blocking wait would hold
            if time.monotonic() > deadline:  # the store's client lock the watchdog needs
                self.abort(f"rank {self.rank} waited {TIMEOUT_S:g} s for the other ranks to finish "
                           f"{label}")
            time.sleep(0.02)
        failed = []
        for r, key in enumerate(keys):
            value = self.store.get(key).decode()
            if value.startswith("error\t"):
                failed.append((r, value.split("\t", 3)[3]))
        self.phase += 1
        return failed

    def _watch(self) -> None:
        """End the run when a rank posted an error and this rank has not finished the same phase
        GRACE_S after the post (it is blocked in a collective the failed rank will not join).
        Every rank ends at the same moment (the post's time + GRACE_S), so that torchrun sees them
        all leave with exit code 2 rather than stopping the late ones itself."""
        from dlcheck.distributed.liveness import beat_key

        beats = 0
        while not self._stop.wait(0.2):
            phase = self.phase
            try:
                beats += 1
                self.store.set(beat_key(self.rank), str(beats))  # a dead rank's beat stands still
                failed = None
                for r in range(self.world):
                    key = self._key(phase, r)
                    if self.store.check([key]):
                        value = self.store.get(key).decode()
                        if value.startswith("error\t"):
                            failed = (r, *value.split("\t", 3)[1:])
                            break
            except Exception:  # the store went away: torchrun is ending the run
                return
            if failed is None:
                continue
            r, label, posted, message = failed
            if self._stop.wait(max(0.0, float(posted) + GRACE_S - time.time())):
                return
            if self.phase == phase:
                self.abort(f"rank {r}: {label}: {message} (the other ranks could not go "
                           f"on without it; the run stopped there and no report was written)")

    def abort(self, message: str) -> None:
        """End this rank now with exit code 2; rank 0 says why (one sentence on stderr)."""
        self._post_exit()
        if self.rank == 0:
            sys.stderr.write(f"dlcheck: error: {message}\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(2)

    def _post_exit(self) -> None:
        """This rank leaves on its own (its heartbeat stops, but it is not dead)."""
        self._exiting = True
        try:
            from dlcheck.distributed.liveness import exit_key

            self.store.set(exit_key(self.rank), "1")
        except Exception:
            pass

    def terminated(self) -> None:
        """SIGTERM reached this rank (the sentinel's thread): a peer died (exit 2, the lowest living
        rank says which, rank 0 writes the report of what finished) or the run was cancelled (143)."""
        from dlcheck.distributed import liveness

        if self._exiting:
            return
        try:
            dead = liveness.dead_ranks(self.store, self.world, self.rank)
        except Exception:  # the store is gone: torchrun is ending the run, not for a death it saw
            dead = []
        if self._exiting:  # this rank ended on its own meanwhile
            return
        self._exiting = True
        code = 2 if dead else 143
        if self.rank == min(r for r in range(self.world) if r not in dead):
            try:
                liveness.speak(self, code, dead)
            except Exception as exc:  # the exit code is decided: say what went wrong, no more
                sys.stderr.write(f"dlcheck: error: rank {listing(dead) or '?'} stopped the run ({exc})\n")
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)

    def exit_code(self, code: int) -> int:
        """The largest exit code of all ranks (the same on every rank)."""
        if not self.ready:
            return code
        import torch
        import torch.distributed as dist

        value = torch.tensor([float(code)], device=self.collective_device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        code = int(value.item())
        self.leaving = code != 0  # torchrun will SIGTERM the ranks still exiting: their code is decided
        return code

    def close(self) -> None:
        if self.ready:
            self._post_exit()
        if self._sentinel is not None:
            self._sentinel.uninstall(ignore=self.leaving)
        self._stop.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=1.0)
        if self.ready and self.created:
            import torch.distributed as dist

            try:
                dist.barrier()
            except Exception:
                pass
            dist.destroy_process_group()
        self.ready = False


def start() -> Session | None:
    """The session for this process when torchrun started it, else None (nothing changes)."""
    global _session
    if not launched():
        return None
    _session = Session()
    return _session


def session() -> Session | None:
    return _session


def stop() -> None:
    global _session
    if _session is not None:
        _session.close()
        _session = None
