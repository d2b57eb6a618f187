"""A rank that dies without a word under torchrun (SIGKILL, the kernel's OOM killer, a segfault).

Such a rank posts no error, so the session's watchdog never hears of it. torchrun's agent does:
it reaps the dead child within its monitor interval (0.1 s) and sends SIGTERM to every other rank.
So SIGTERM is the moment a surviving rank learns that the run is over, and the question it must
answer is why: a peer died, or the run was cancelled (CI's cancel reaches torchrun, which forwards
it). Each rank's watchdog beats a heartbeat key in the rendezvous store (the agent's, alive while
it tears the workers down); on SIGTERM the survivors watch the beats for STALL_S: the ranks whose
beat stood still and that posted no exit of their own are dead.

The SIGTERM is caught in a way that works while the main thread is blocked inside a collective
(gloo or NCCL, in C++, where a Python signal handler cannot run): the C-level handler writes the
signal number to a wakeup pipe (``signal.set_wakeup_fd``) and a thread reading that pipe acts. The
lowest living rank speaks: rank 0 writes the report of the checks that finished, with the check in
progress as an error naming the dead rank (DLC010); every survivor exits 2 (a death) or 143 (a
cancel). torchrun's own exit status is 1 for any failed child, whatever the ranks' codes: the
ranks' codes show in its failure summary, and ``dlcheck run --nproc`` turns them into one sentence.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time

#: Seconds the survivors watch the heartbeats after SIGTERM before naming the ranks that stood still
#: (the watchdog beats every 0.2 s; torchrun waits 30 s after its SIGTERM before it kills).
STALL_S = float(os.environ.get("DLCHECK_DIST_STALL", "1.5"))
#: Set by ``dlcheck run --nproc`` for its ranks: the file where the speaking rank leaves its sentence,
#: for the launcher to complete with the signal torchrun saw (one sentence, not two).
NOTE_ENV = "DLCHECK_LAUNCH_NOTE"


def beat_key(rank: int) -> str:
    return f"dlcheck/alive/rank{rank}"


def exit_key(rank: int) -> str:
    return f"dlcheck/exit/rank{rank}"


def dead_ranks(store, world: int, me: int, wait_s: float = STALL_S) -> list[int]:
    """The ranks (not ``me``) whose heartbeat stood still for ``wait_s`` and that posted no exit."""
    def beats():
        return {r: store.get(beat_key(r)) if store.check([beat_key(r)]) else b"" for r in range(world) if r != me}

    before = beats()
    time.sleep(wait_s)
    after = beats()
    return [r for r in sorted(after) if after[r] == before[r] and not store.check([exit_key(r)])]


def dead_message(dead: list[int], doing: str | None, finished: list[str] | None, how: str | None = None) -> str:
    """One sentence: which rank died (``how``: the signal, when the launcher knows it), in which
    check (``doing``; None when the sentence goes under the check's own name), and what the report
    holds (``finished``: the checks that did; None when rank 0 is gone and wrote nothing)."""
    from dlcheck.results import listing

    who = f"rank {listing(dead)} {'was' if len(dead) == 1 else 'were'} killed"
    how = f" by {how}" if how else (" without a word (SIGKILL, the out-of-memory killer or a crash of the "
                                    "process; torchrun's summary names the signal)")
    where = "" if doing is None else (" while the ranks were setting up" if doing == "set-up" else f" during {doing}")
    if finished is None:
        held = "no report was written (rank 0 writes it)"
    elif finished:
        held = f"the report holds the {len(finished)} check{'s' if len(finished) != 1 else ''} that finished " \
               f"({', '.join(finished)})"
    else:
        held = "no check had finished"
    return f"{who}{how}{where}: every other rank stopped with exit 2, and {held}"


def speak(session, code: int, dead: list[int]) -> None:
    """The lowest living rank's last word: on rank 0 the report of what finished (with the check in
    progress as an error naming the dead rank, DLC010), and one sentence on stderr. Under
    ``dlcheck run --nproc`` a death's sentence goes to the launcher's note instead (it adds the
    signal torchrun saw)."""
    import json
    import sys

    report, settings = session.report if session.rank == 0 and session.report else (None, None)
    finished = [c.name for c in report.checks] if report is not None else ([] if session.rank == 0 else None)
    note = os.environ.get(NOTE_ENV) if dead else None
    if note:
        with open(note, "w") as out:
            json.dump({"dead": dead, "doing": session.doing, "finished": finished}, out)
    said = bool(note)
    if report is not None and session.render is not None:
        in_check = session.doing != "set-up" and all(c.name != session.doing for c in report.checks)
        if dead and in_check:  # the check in progress: an error naming the rank (its error line says it)
            report.checks.append(_dead_check(session.doing, dead_message(dead, None, finished)))
            said = True
        session.render(report, settings, interrupted=None if dead else code, say=not note)
    if said:
        return
    if dead:
        sys.stderr.write(f"dlcheck: error: {dead_message(dead, session.doing, finished)}\n")
    else:
        held = "no report was written (rank 0 writes it)" if finished is None else \
            f"the report holds the {len(finished)} check{'s' if len(finished) != 1 else ''} that finished"
        sys.stderr.write(f"dlcheck: interrupted by SIGTERM during {session.doing}; {held}\n")


def _dead_check(name: str, summary: str):
    from dlcheck.codes import CODES
    from dlcheck.results import CheckResult, Finding

    return CheckResult(name=name, status="error", summary=summary,
                       findings=[Finding(code="DLC010", severity="error", message=summary, advice=CODES["DLC010"].fix)])


class Sentinel:
    """SIGTERM on this rank, seen by a thread even while the main thread is blocked in C++."""

    def __init__(self, session):
        self.session = session
        self._stop = threading.Event()
        self._thread = None
        self._pipe = None
        self._previous = None
        self._firing = False

    def install(self) -> bool:
        """Catch SIGTERM (from the main thread only: Python's rule); False when it cannot."""
        if threading.current_thread() is not threading.main_thread():
            return False
        read, write = os.pipe()
        os.set_blocking(write, False)
        try:
            previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
            previous_handler = signal.signal(signal.SIGTERM, lambda *_: None)  # the thread acts
        except (ValueError, OSError):
            os.close(read)
            os.close(write)
            return False
        self._pipe, self._previous = (read, write), (previous_fd, previous_handler)
        self._thread = threading.Thread(target=self._run, name="dlcheck-sigterm", daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        read = self._pipe[0]
        while not self._stop.is_set():
            ready, _, _ = select.select([read], [], [], 0.2)
            if not ready:
                continue
            try:
                got = os.read(read, 64)
            except OSError:
                return
            if signal.SIGTERM in got and not self._stop.is_set():
                self._firing = True
                self.session.terminated()
                return

    def uninstall(self, ignore: bool = False) -> None:
        """Hand SIGTERM back (``ignore``: ignore it from now on, the process is exiting with its
        code decided). A SIGTERM already being judged is left to end the process as it decides."""
        if self._firing and self._thread is not None:
            self._thread.join()  # it ends this process (os._exit)
        self._stop.set()
        if self._previous is None:
            return
        try:
            signal.set_wakeup_fd(self._previous[0])
            signal.signal(signal.SIGTERM, signal.SIG_IGN if ignore else self._previous[1])
        except (ValueError, OSError, TypeError):
            pass
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        for fd in self._pipe:
            try:
                os.close(fd)
            except OSError:
                pass
        self._previous = None
