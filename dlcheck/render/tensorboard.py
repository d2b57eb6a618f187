"""Results as TensorBoard events (``--tensorboard DIR``), with ``torch.utils.tensorboard.SummaryWriter``.

What goes in: each check's curves as scalars (overfit-small's loss by step, lr-find's LR, loss and
smoothed loss by step of the sweep, data-check's pairing losses, curves' points by step, grid's
val loss of every trial by step, init-stats' and bn-gap's per-layer values by depth), each plot as
an image (the PNG already written to ``--out``, else drawn by ``dlcheck.render.plots``), each
per-item table (init-stats' layers and parameters, ...) and each check's verdict, findings and
metrics as Markdown text, and the run's verdict table as ``summary``. Nothing per training step
beyond the curves the checks keep anyway. init-stats keeps per-layer summaries, not weights or
activations, so its tables are text, not histograms.

A directory takes more than one event file over time, so the set is not replaced: like
``SummaryWriter`` itself, each run adds one new event file to DIR and never touches the ones
there. That file appears whole or not at all: it is written into a temporary folder beside DIR
(:func:`stage`) and moved into DIR only once every other report of the run is written
(:func:`dlcheck.render._write.write_reports`).
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
from pathlib import Path

from dlcheck.errors import UserError
from dlcheck.render.markdown import code, text

MISSING = "--tensorboard needs the tensorboard package: pip install tensorboard"
#: rows of one table written as text (TensorBoard shows text, not data grids)
MAX_TABLE_ROWS = 500


def available() -> bool:
    """Whether the tensorboard package is installed (found, not imported)."""
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError(MISSING) from None
    return SummaryWriter(log_dir=str(folder))


def _num(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _series(writer, tag: str, values, steps=None) -> None:
    """One curve: non-finite points are left out (TensorBoard draws a gap)."""
    for i, value in enumerate(values):
        v = _num(value)
        if v is not None:
            writer.add_scalar(tag, v, int(steps[i]) if steps is not None else i)


def _points(writer, tag: str, points: list[dict]) -> None:
    """Points ``{"step": .., "val_loss": ..}`` (curves, grid trials): one curve per numeric key."""
    steps = [p.get("step", i) for i, p in enumerate(points)]
    keys = dict.fromkeys(k for p in points for k in p if k not in ("step", "epoch"))
    for key in keys:
        values = [p.get(key) for p in points]
        if any(_num(v) is not None for v in values):
            _series(writer, f"{tag}/{key}", values, steps)


def _scalars(writer, check: str, figure) -> None:
    """The curves one figure's data holds, as scalars under ``<check>/``."""
    d, kind = figure.data, figure.kind
    if kind == "loss_curve":
        _series(writer, f"{check}/loss", d.get("losses", []), range(1, len(d.get("losses", [])) + 1))
    elif kind == "lr_curve":
        for key, tag in (("lrs", "lr"), ("losses", "loss"), ("smoothed", "smoothed_loss")):
            values = d.get(key, [])
            _series(writer, f"{check}/{tag}", values, range(1, len(values) + 1))  # steps as in curve.csv
    elif kind == "data_pairing_curves":
        for key, tag in (("true_losses", "true_labels"), ("permuted_losses", "permuted_labels")):
            values = d.get(key, [])
            _series(writer, f"{check}/pairing/{tag}", values, range(1, len(values) + 1))
    elif kind == "layer_stats_by_depth":
        label = "_".join(str(d.get("ylabel") or "value").split())
        _series(writer, f"{check}/by_depth/{label}", d.get("values", []))
    elif kind == "bn_layer_gaps":
        _series(writer, f"{check}/by_depth/bn_gap", d.get("gaps", []))
    elif kind == "curves":
        _points(writer, check, d.get("points", []))


def _image(writer, tag: str, check, figure) -> str | None:
    """One plot as an image: the PNG --out wrote when it is there, else drawn now. Returns a note
    when it cannot be drawn (the other events are still written)."""
    import io

    import numpy as np
    from PIL import Image

    from dlcheck.render import plots

    written = [Path(a) for a in check.artifacts if figure.file and a.endswith(f"{check.name}-{figure.file}")]
    try:
        data = written[0].read_bytes() if written and written[0].is_file() else plots.png_bytes(figure)
        pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except Exception as exc:  # a plot that cannot be drawn must not cost the other events
        return f"{figure.title or figure.kind} could not be drawn: {type(exc).__name__}: {exc}"
    writer.add_image(tag, pixels, 0, dataformats="HWC")
    return None


def _table_text(rows: list[dict]) -> str:
    """Rows as a Markdown table (user text escaped), at most MAX_TABLE_ROWS of them."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(text(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for r in rows[:MAX_TABLE_ROWS]:
        lines.append("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |")
    if len(rows) > MAX_TABLE_ROWS:
        lines.append(f"\n{len(rows) - MAX_TABLE_ROWS} more rows: see the CSV under --out or the JSON report")
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return text(value)


def _verdict_text(check) -> str:
    status = "skipped" if check.skipped and check.status == "pass" else check.status
    lines = [f"**{status}** in {check.seconds:.1f} s: {text(check.summary)}"]
    if check.reason:
        lines.append(f"\nreason: {text(check.reason)}")
    if check.findings:
        lines.append("")
        for f in check.findings:
            lines.append(f"- **{text(f.code)}** ({text(f.severity)}) {text(f.message)}")
            if f.advice:
                lines.append(f"  - advice: {text(f.advice)}")
    if check.metrics:
        lines += ["", _table_text([{"metric": k, "value": v} for k, v in check.metrics.items()])]
    return "\n".join(lines)


def _summary_text(report) -> str:
    lines = [f"**dlcheck {report.status}** (exit code {report.exit_code()}): target {code(report.target)} on "
             f"{code(report.device)}, seed {report.seed}", "",
             "| check | status | seconds | summary |", "|---|---|---|---|"]
    lines += [f"| {text(c.name)} | {c.status} | {c.seconds:.1f} | {text(c.summary)} |" for c in report.checks]
    return "\n".join(lines)


def _check(writer, check) -> None:
    notes = []
    for figure in check.figures:
        _scalars(writer, check.name, figure)
        name = Path(figure.file).stem if figure.file else figure.kind
        note = _image(writer, f"{check.name}/plot/{name}", check, figure)
        if note:
            notes.append(note)
    for table in check.tables:
        if table.rows:
            writer.add_text(f"{check.name}/table/{Path(table.file).stem}", _table_text(table.rows), 0)
    if check.name == "grid":  # every trial's curve (kept for the JSON report)
        for key, points in (check.details.get("evaluations") or {}).items():
            _points(writer, f"{check.name}/trials/{key}", points)
    verdict = _verdict_text(check) + "".join(f"\n\n{text(n)}" for n in notes)
    writer.add_text(f"{check.name}/verdict", verdict, 0)


def stage(report, folder: str) -> Path:
    """Write the events of ``report`` into a new temporary folder beside ``folder`` and return it;
    :func:`commit` moves its event file into ``folder``. Raises UserError (nothing left behind)."""
    target = Path(folder).absolute()
    beside = target.parent
    while not beside.is_dir():  # nothing is created for DIR until commit()
        beside = beside.parent
    tmp = beside / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        writer = _writer(tmp)
        try:
            writer.add_text("summary", _summary_text(report), 0)
            for check in report.checks:
                _check(writer, check)
        finally:
            writer.close()
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"--tensorboard {folder} cannot be written: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def commit(staged: Path, folder: str) -> list[str]:
    """Move the staged event file(s) into ``folder`` (created when missing); the paths, in DIR."""
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
        moved = []
        for event in sorted(staged.iterdir()):
            os.replace(event, target / event.name)
            moved.append(str(target / event.name))
        return moved
    except OSError as exc:
        raise UserError(f"--tensorboard {folder} cannot be written: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def write(report, folder: str) -> list[str]:
    """The events of ``report`` as one new event file in ``folder``; its path(s)."""
    return commit(stage(report, folder), folder)
