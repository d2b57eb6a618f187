"""The one progress bar of the house: rich, on stderr, transient; silent with --quiet, off a
terminal, and on every rank but 0 under torchrun (the runner sets ``quiet`` there)."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def bar(total: int, description: str, quiet: bool = True):
    """A progress bar of ``total`` steps; yields ``advance(steps=1)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    disabled = quiet or not sys.stderr.isatty()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True, disable=disabled) as shown:
        task = shown.add_task(description, total=total)
        yield lambda steps=1: shown.advance(task, steps)
