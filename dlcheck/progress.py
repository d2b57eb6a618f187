"""The one progress bar of the house: rich, on stderr, transient; silent with --quiet, off a
terminal, and on every rank but 0 under torchrun (the runner sets ``quiet`` there)."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def bar(total: int, description: str, quiet: bool = True):
    """A progress bar of ``total`` steps; yields ``advance(steps=1)``."""
    if quiet or not sys.stderr.isatty():  # nothing shown: no bar built (a short check's fixed cost)
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as shown:
        task = shown.add_task(description, total=total)
        yield lambda steps=1: shown.advance(task, steps)


def _nothing(steps: int = 1) -> None:
    """``advance`` of a bar that is not shown."""
