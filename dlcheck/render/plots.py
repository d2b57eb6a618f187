"""PNG plots from plain result data (matplotlib, Agg backend: no display needed).

Checks compute numbers; these functions only draw them. Each takes the path to write and the data.
"""

from __future__ import annotations

from pathlib import Path


def figure(width: float = 6.4, height: float = 4.0):
    """A new (fig, ax) on the Agg backend; imported lazily so the CLI starts fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def save(fig, path: str | Path) -> None:
    """Write ``fig`` as PNG and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


# -- init-stats / bn-gap ----------------------------------------------------------------------


# -- aug-preview / data-check -----------------------------------------------------------------
