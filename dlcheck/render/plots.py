"""Plots from plain result data (matplotlib, Agg backend: no display needed).

Checks compute numbers; these functions only draw them. Each takes where to write and the data:
a path gets a PNG (``--out``); a binary file object gets an SVG (matplotlib plots) or a PNG (the
aug-preview grid), which is how the HTML report embeds them (``draw``).
"""

from __future__ import annotations

import io
from pathlib import Path


def figure(width: float = 6.4, height: float = 4.0):
    """A new (fig, ax) on the Agg backend; imported lazily so the CLI starts fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


class PNGBuffer(io.BytesIO):
    """A binary file object that gets a PNG, not an SVG (TensorBoard's images, ``png_bytes``)."""


def save(fig, path) -> None:
    """Write ``fig`` as PNG to a path or a PNGBuffer, or as SVG to a binary file object, and free it."""
    import matplotlib
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if isinstance(path, (str, Path, PNGBuffer)):
        fig.savefig(path, dpi=110, format="png")
    else:  # text stays text (small files, crisp at any zoom); fixed ids: the same run, the same bytes
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "dlcheck"}):
            fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def draw(figure) -> tuple[str, bytes]:
    """A ``results.Figure`` drawn in memory: (MIME type, bytes). ``kind`` names one of the plot
    functions below; ``png`` is an image drawn already (``data["png"]``: its bytes)."""
    if figure.kind == "png":
        return "image/png", bytes(figure.data["png"])
    if figure.kind not in KINDS:
        raise ValueError(f"unknown plot kind '{figure.kind}' (known: {', '.join(KINDS)})")
    buffer = io.BytesIO()
    KINDS[figure.kind](buffer, **figure.data)
    return ("image/png" if figure.kind == "aug_grid" else "image/svg+xml"), buffer.getvalue()


def png_bytes(figure) -> bytes:
    """A ``results.Figure`` drawn in memory as a PNG (what ``write_png`` writes)."""
    if figure.kind == "png":
        return bytes(figure.data["png"])
    if figure.kind not in KINDS:
        raise ValueError(f"unknown plot kind '{figure.kind}' (known: {', '.join(KINDS)})")
    buffer = PNGBuffer()
    KINDS[figure.kind](buffer, **figure.data)
    return buffer.getvalue()


def write_png(figure, path) -> None:
    """A ``results.Figure`` written as a PNG file (``--out``)."""
    if figure.kind == "png":
        Path(path).write_bytes(bytes(figure.data["png"]))
        return
    if figure.kind not in KINDS:
        raise ValueError(f"unknown plot kind '{figure.kind}' (known: {', '.join(KINDS)})")
    KINDS[figure.kind](Path(path), **figure.data)


# -- overfit-small / lr-find ------------------------------------------------------------------
def loss_curve(path, losses: list[float], title: str = "training loss") -> None:
    """Loss by step, on a log scale when it spans more than a decade."""
    import math

    fig, ax = figure()
    finite = [v for v in losses if math.isfinite(v)]
    ax.plot(range(1, len(losses) + 1), losses)
    if finite and min(finite) > 0 and max(finite) / min(finite) > 10:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    save(fig, path)


def lr_curve(path, lrs: list[float], losses: list[float], smoothed: list[float], *,
             marks: dict[str, float], configured: float | None = None, diverge: float | None = None) -> None:
    """The LR range test: raw and smoothed loss against the LR (log x), each rule's suggestion and
    the configured LR as vertical lines."""
    import math

    fig, ax = figure()
    ax.plot(lrs, losses, color="0.75", linewidth=0.8, label="loss")
    ax.plot(lrs, smoothed, color="C0", label="smoothed")
    ax.set_xscale("log")
    finite = [v for v in smoothed if math.isfinite(v)]
    if finite:
        top = min(max(finite), 4 * finite[0])
        ax.set_ylim(min(finite) - 0.05 * abs(top - min(finite)), top * 1.05 if top > 0 else top + 1)
    for i, (name, lr) in enumerate(marks.items()):
        ax.axvline(lr, color=f"C{i + 1}", linestyle="--", label=f"{name} {lr:.2g}")
    if configured:
        ax.axvline(configured, color="k", linestyle=":", label=f"configured {configured:.2g}")
    if diverge:
        ax.axvspan(diverge, lrs[-1] if lrs[-1] > diverge else diverge, color="red", alpha=0.08)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title("lr-find: LR range test")
    ax.legend(fontsize=7)
    save(fig, path)


# -- init-stats / bn-gap ----------------------------------------------------------------------
def layer_stats_by_depth(path, layers: list[str], values: list, ylabel: str, title: str) -> None:
    """init-stats: one value per layer (activation std, gradient norm) against depth, log scale
    when positive; non-finite values are left out of the line."""
    import math

    fig, ax = figure(max(6.4, min(16.0, 0.12 * len(layers) + 4)), 4.0)
    xs = [i for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)]
    ys = [values[i] for i in xs]
    ax.plot(xs, ys, marker="o", markersize=3)
    if ys and min(ys) > 0:
        ax.set_yscale("log")
    step = max(1, len(layers) // 30)
    ax.set_xticks(range(0, len(layers), step))
    ax.set_xticklabels(layers[::step], rotation=90, fontsize=6)
    ax.set_xlabel("layer (depth order)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    save(fig, path)


def bn_layer_gaps(path, names: list[str], gaps: list) -> None:
    """bn-gap: each BatchNorm layer's own train-vs-eval gap, in execution order (None: not measured)."""
    import math

    fig, ax = figure(width=min(30.0, max(6.4, 0.25 * len(names) + 2)), height=4.0)
    values = [g if isinstance(g, (int, float)) and math.isfinite(g) else 0.0 for g in gaps]
    ax.bar(range(len(names)), values)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("relative gap, train vs eval mode")
    ax.set_title("bn-gap: each BatchNorm layer's own gap")
    save(fig, path)


# -- aug-preview / data-check -----------------------------------------------------------------


def data_pairing_curves(path, true_losses: list[float], permuted_losses: list[float]) -> None:
    """data-check's pairing control: training loss with the true labels and with permuted ones."""
    fig, ax = figure()
    steps = range(1, len(true_losses) + 1)
    ax.plot(steps, true_losses, label="true labels")
    ax.plot(steps, permuted_losses, label="permuted labels", linestyle="--")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("data-check: are inputs and labels paired?")
    ax.legend()
    save(fig, path)
#: aug-preview grid layout: gap between cells, the wider gap after the original column, the
#: header strip over each panel ("original" | "augmented draws"), the caption strip under each row,
#: the gap between panels.
AUG_GAP, AUG_SOURCE_GAP, AUG_HEADER, AUG_CAPTION, AUG_PANEL_GAP = 2, 8, 16, 15, 10
AUG_FRAMES = {"destroyed": (220, 40, 40), "blank": (240, 150, 20), "mismatch": (220, 40, 40)}
AUG_SOURCE_FRAME = (110, 170, 235)  # the original of each row
AUG_TEXT, AUG_DIM_TEXT, AUG_BACKGROUND = (235, 235, 235), (170, 170, 170), (30, 30, 30)


def aug_grid_layout(n_rows: int, n_cols: int, cell: int = 64, max_rows: int = 25) -> tuple[int, int, int, int]:
    """(width, height, panels, rows per panel) of an aug-preview grid: rows of ``n_cols`` cells
    (the original, then its draws), wrapped into side-by-side panels of at most ``max_rows`` rows."""
    import math

    panels = max(1, math.ceil(n_rows / max(1, max_rows)))
    per_panel = math.ceil(n_rows / panels) if n_rows else 0
    panel_w = _aug_panel_width(n_cols, cell)
    width = panels * panel_w + (panels - 1) * AUG_PANEL_GAP
    height = AUG_HEADER + per_panel * (cell + AUG_CAPTION + AUG_GAP) + AUG_GAP
    return width, height, panels, per_panel


def _aug_panel_width(n_cols: int, cell: int) -> int:
    return n_cols * (cell + AUG_GAP) + AUG_GAP + (AUG_SOURCE_GAP - AUG_GAP if n_cols > 1 else 0)


def _font(size: int):
    """Pillow's own scalable font (Pillow >= 10.1), else its small bitmap font."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # older Pillow: no sizes
        return ImageFont.load_default()


def _fit(draw, text: str, font, width: int) -> str:
    """``text`` shortened with an ellipsis until it fits ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def aug_grid(path, rows, captions, marks, cell: int = 64, max_rows: int = 25) -> None:
    """A contact sheet: each row is an original (HxWxC float array in 0..1) followed by its
    augmented draws. The original column is framed blue, set apart by a wider gap and headed
    "original"; the caption (sample index and class name) goes under the row; draws marked
    "destroyed" or "blank" get a red or orange frame. Drawn with PIL so the size is exact (see
    aug_grid_layout); ``path`` is a file path or a binary file object (PNG either way)."""
    import numpy as np
    from PIL import Image, ImageDraw

    n_cols = max((len(r) for r in rows), default=1)
    width, height, panels, per_panel = aug_grid_layout(len(rows), n_cols, cell, max_rows)
    sheet = Image.new("RGB", (width, height), AUG_BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(11 if cell < 48 else 12)
    panel_w = _aug_panel_width(n_cols, cell)

    def cell_left(panel: int, c: int) -> int:
        return panel * (panel_w + AUG_PANEL_GAP) + AUG_GAP + c * (cell + AUG_GAP) + \
            (AUG_SOURCE_GAP - AUG_GAP if c > 0 else 0)

    for panel in range(panels if rows else 0):
        draw.text((cell_left(panel, 0), 1), _fit(draw, "original", font, cell), fill=AUG_SOURCE_FRAME, font=font)
        if n_cols > 1:
            span = cell_left(panel, n_cols - 1) + cell - cell_left(panel, 1)
            draw.text((cell_left(panel, 1), 1), _fit(draw, f"{n_cols - 1} augmented draws", font, span),
                      fill=AUG_DIM_TEXT, font=font)
    for r, row in enumerate(rows):
        panel, line = divmod(r, per_panel)
        top = AUG_HEADER + AUG_GAP + line * (cell + AUG_CAPTION + AUG_GAP)
        for c, image in enumerate(row):
            left = cell_left(panel, c)
            pixels = (np.clip(np.asarray(image, dtype=np.float32), 0, 1) * 255).round().astype(np.uint8)
            if pixels.ndim == 3 and pixels.shape[2] == 1:
                pixels = pixels[:, :, 0]
            elif pixels.ndim == 3 and pixels.shape[2] not in (3, 4):
                pixels = pixels.mean(2).astype(np.uint8)
            tile = Image.fromarray(pixels).convert("RGB")
            factor = cell / max(tile.size)
            size = (max(1, round(tile.size[0] * factor)), max(1, round(tile.size[1] * factor)))
            tile = tile.resize(size, Image.NEAREST if factor >= 2 else Image.BILINEAR)
            sheet.paste(tile, (left + (cell - size[0]) // 2, top + (cell - size[1]) // 2))
            mark = marks[r][c] if r < len(marks) and c < len(marks[r]) else None
            if c == 0:
                draw.rectangle([left - 1, top - 1, left + cell, top + cell], outline=AUG_SOURCE_FRAME, width=1)
            elif mark in AUG_FRAMES:
                draw.rectangle([left, top, left + cell - 1, top + cell - 1], outline=AUG_FRAMES[mark], width=2)
        if r < len(captions) and captions[r]:
            left = cell_left(panel, 0)
            row_width = cell_left(panel, len(row) - 1) + cell - left
            draw.text((left, top + cell + 1), _fit(draw, captions[r], font, row_width), fill=AUG_TEXT, font=font)
    if isinstance(path, (str, Path)):
        sheet.save(path)
    else:
        sheet.save(path, format="PNG")


def grid_heatmap(path, **data) -> None:
    from dlcheck.render.grid_plots import heatmap

    heatmap(path, **data)


def grid_curves(path, **data) -> None:
    from dlcheck.render.grid_plots import curves

    curves(path, **data)


#: The plot functions a results.Figure may name (``draw``, ``write_png``).
KINDS = {"loss_curve": loss_curve, "lr_curve": lr_curve, "layer_stats_by_depth": layer_stats_by_depth,
         "bn_layer_gaps": bn_layer_gaps, "data_pairing_curves": data_pairing_curves, "aug_grid": aug_grid,
         "heatmap": grid_heatmap, "curves": grid_curves}
