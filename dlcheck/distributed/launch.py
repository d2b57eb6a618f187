"""``dlcheck run --nproc N``: the same command line under ``torch.distributed.run`` (torchrun), N
processes on this machine, in this process; torchrun's result read back into dlcheck's exit code
and, when a rank was killed by a signal, one sentence naming the rank and the signal."""

from __future__ import annotations

import os

import typer

from dlcheck.errors import UserError


def launch(nproc, argv: list[str]) -> int:
    """Run ``argv`` (this command line, ``--nproc`` dropped) on ``nproc`` ranks; the exit code is
    the ranks' (they all agree on it), or 2 for a rank killed by a signal."""
    from dlcheck.config import integer

    try:
        nproc = integer(nproc, "--nproc", minimum=1)
    except UserError as exc:
        typer.secho(f"dlcheck: error: {exc.message}", fg="red", err=True)
        return 2
    from torch.distributed import run as torchrun

    args, skip = [], False
    for arg in argv:  # the ranks get the same command without --nproc
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        args.append(arg)
    command = ["--standalone", f"--nproc_per_node={nproc}", "--module", "dlcheck", *args]
    return run(torchrun.get_args_parser().parse_args(command))


def run(args) -> int:
    """torchrun in this process; a failed child's result read into one sentence: a rank killed by
    a signal is named with the signal (and, from the speaking rank's note, the check it died in
    and what the report holds), exit 2; else the ranks' own (agreed) exit code."""
    import tempfile
    from pathlib import Path

    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from dlcheck.distributed import liveness

    with tempfile.TemporaryDirectory(prefix="dlcheck-") as folder:
        note = Path(folder) / "note.json"
        os.environ[liveness.NOTE_ENV] = str(note)
        try:
            torchrun.run(args)
        except ChildFailedError as exc:
            rank, first = exc.get_first_failure()
            if first.exitcode >= 0:
                return max([f.exitcode for f in exc.failures.values() if f.exitcode > 0], default=2)
            typer.secho(f"dlcheck: error: {killed(rank, first.exitcode, note)}", fg="red", err=True)
            return 2
        finally:
            os.environ.pop(liveness.NOTE_ENV, None)
    return 0


def killed(rank: int, exitcode: int, note) -> str:
    """The sentence for rank ``rank`` killed by signal ``-exitcode`` (torchrun's first failure),
    completed by the speaking rank's note (the check, what the report holds) when it left one."""
    import json
    import signal

    from dlcheck.distributed import liveness

    try:
        how = signal.Signals(-exitcode).name
    except ValueError:
        how = f"signal {-exitcode}"
    said = json.loads(note.read_text()) if note.is_file() else None
    if said is None:  # no rank lived to say more
        return f"rank {rank} was killed by {how} (torchrun's exit status {exitcode}); the run stopped"
    return liveness.dead_message(said["dead"], said["doing"], said["finished"],
                                 how=how if said["dead"] == [rank] else None)
