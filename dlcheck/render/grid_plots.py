"""Plots of the grid and curves checks (matplotlib, Agg backend): they only draw result rows."""

from __future__ import annotations

import math


def _figure(width: float, height: float, rows: int = 1):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(rows, 1, figsize=(width, height), squeeze=False)


def _save(fig, path) -> None:
    """PNG to a path (``--out``), SVG to a file object (the HTML report)."""
    from dlcheck.render.plots import save

    save(fig, path)


def _num(v):
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def heatmap(path, rows: list[dict], title: str = "grid") -> None:
    """Val loss by learning rate (columns) and weight decay (rows); each cell annotated with its
    val loss (and accuracy), pruned / diverged / not-run cells marked, the best cell framed."""
    import numpy as np
    from matplotlib.patches import Rectangle

    lrs = sorted({r["lr"] for r in rows})
    wds = sorted({r["weight_decay"] for r in rows}, reverse=True)
    grid = np.full((len(wds), len(lrs)), np.nan)
    labels = [["" for _ in lrs] for _ in wds]
    best, best_value = None, math.inf
    for r in rows:
        i, j = wds.index(r["weight_decay"]), lrs.index(r["lr"])
        value = _num(r.get("val_loss"))
        status = r.get("status")
        if value is not None and status in ("done", "pruned"):
            grid[i, j] = value
        text = f"{value:.3g}" if value is not None else ""
        acc = _num(r.get("val_accuracy"))
        if acc is not None and status == "done":
            text += f"\n{acc:.1%}"
        if status != "done":
            at = _num(r.get("epochs"))
            text += ("\n" if text else "") + str(status) + (f" at {at:.2g} ep" if status == "pruned" and at else "")
        labels[i][j] = text
        if status == "done" and value is not None and value < best_value:
            best, best_value = (i, j), value
    fig, axes = _figure(1.6 * len(lrs) + 2.4, 1.0 * len(wds) + 1.8)
    ax = axes[0][0]
    shown = np.ma.masked_invalid(grid)
    image = ax.imshow(shown, cmap="viridis_r", aspect="auto")
    fig.colorbar(image, ax=ax, label="val loss")
    for i in range(len(wds)):
        for j in range(len(lrs)):
            dark = False  # white text on dark cells: by the luminance of the cell's colour
            if np.isfinite(grid[i, j]):
                r, g, b, _ = image.cmap(image.norm(grid[i, j]))
                dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    if best is not None:
        ax.add_patch(Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5))
    ax.set_xticks(range(len(lrs)), [f"{v:.2g}" for v in lrs])
    ax.set_yticks(range(len(wds)), [f"{v:g}" for v in wds])
    ax.set_xlabel("learning rate")
    ax.set_ylabel("weight decay")
    ax.set_title(title)
    _save(fig, path)


def curves(path, points: list[dict], title: str = "curves") -> None:
    """Train and val loss by epoch (accuracy below where it applies); the lowest val loss marked."""
    epochs = [p["epoch"] for p in points]
    has_acc = any(_num(p.get("val_accuracy")) is not None for p in points)
    fig, axes = _figure(6.4, 6.4 if has_acc else 4.0, rows=2 if has_acc else 1)
    ax = axes[0][0]
    series = [("train_loss", "train (running mean)", ":"), ("train_eval_loss", "train (eval mode)", "-"),
              ("val_loss", "val", "-")]
    for key, label, style in series:
        values = [_num(p.get(key)) for p in points]
        if any(v is not None for v in values):
            ax.plot(epochs, [v if v is not None else float("nan") for v in values], style, marker=".", label=label)
    val = [(_num(p.get("val_loss")), e) for p, e in zip(points, epochs) if _num(p.get("val_loss")) is not None]
    if val:
        low, at = min(val)
        ax.axvline(at, color="grey", linewidth=0.8, linestyle="--")
        ax.annotate(f"lowest val {low:.3g}", (at, low), textcoords="offset points", xytext=(4, 8), fontsize=8)
    finite = [v for v, _ in val] + [_num(p.get("train_eval_loss")) or 0 for p in points]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    if has_acc:
        ax2 = axes[1][0]
        for key, label in (("train_accuracy", "train (eval mode)"), ("val_accuracy", "val")):
            values = [_num(p.get(key)) for p in points]
            if any(v is not None for v in values):
                ax2.plot(epochs, [v if v is not None else float("nan") for v in values], marker=".", label=label)
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("accuracy")
        ax2.legend()
    _save(fig, path)
