"""Artifacts apart from checks: a check keeps its plots and tables on its result as data
(``CheckResult.figure`` / ``.table``); this module writes them under ``--out`` — tables as CSV
(pandas), plots as PNG (``dlcheck.render.plots``) — and records their paths in the result.
Checks import nothing from ``dlcheck.render``."""

from __future__ import annotations

from pathlib import Path

from dlcheck.errors import UserError
from dlcheck.results import CheckResult


def write(result: CheckResult, out_dir: str | Path | None) -> list[str]:
    """Write ``result``'s tables and plots that name a file under ``out_dir`` as
    ``<check>-<file>``, tables first; the paths are added to ``result.artifacts`` and returned."""
    if out_dir is None or not (result.tables or any(f.file for f in result.figures)):
        return []
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {folder} cannot be created: {exc.strerror}") from exc
    written = []
    for table in result.tables:
        path = folder / f"{result.name}-{table.file}"
        result.artifacts.append(str(path))  # recorded first: an interrupted write is removed
        table.frame().to_csv(path, index=False)
        written.append(str(path))
    for figure in result.figures:
        if not figure.file:
            continue
        from dlcheck.render import plots

        path = folder / f"{result.name}-{figure.file}"
        result.artifacts.append(str(path))
        plots.write_png(figure, path)
        written.append(str(path))
    return written
