"""Preflight: before the GPU-day, will the loader keep up and will fp16 / bf16 hold (and, with the
memory part, will the batch fit)?

The check is a set of parts, each one module of this package with the shape of a check:
``SETTINGS`` (its own, joined into this check's), a ``Measured`` dataclass, ``measure(ctx)``,
``RULES`` (pure, one per code), and ``summary(m)``, ``metrics(m)`` (keys prefixed by the part),
``details(m)`` (its tables) and ``skipped(m)`` (why nothing was measured, or None). ``run`` runs
the parts named by the ``parts`` setting (``--parts loader,precision``; default every part this
version has) in order and joins their findings, metrics, tables and summaries; a part that finds
nothing to look at says why in the summary, and the check skips only when every part did.

- ``loader`` (loader.py, DLC981): training steps fed by the user's loader against steps on batches
  already on the device, and a num_workers / pin_memory sweep when the loader cannot keep up.
- ``precision`` (precision.py, DLC982-984): per-module activation and gradient ranges against
  float16 / bfloat16, and a few steps under autocast against float32.
- ``memory`` (memory.py, DLC986-989): peak memory and the largest batch that fits.

Cost on the CPU: about 30 training steps of the user's model plus the loader's batches (a sweep,
with its worker start-ups, only when the loader is the bottleneck). The model is handed back
exactly as found (``ctx.model()``), the loader object is never changed.
"""

from __future__ import annotations

import importlib
import importlib.util

from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.results import CheckResult
from dlcheck.rules import judge

NAME = "preflight"
#: The parts in the order they run; those whose module this version lacks are left out.
PARTS = ("memory", "loader", "precision")


def available() -> list[str]:
    return [p for p in PARTS if importlib.util.find_spec(f"{__name__}.{p}") is not None]


def _part(name: str):
    return importlib.import_module(f"{__name__}.{name}")


SETTINGS: dict = {"parts": "all"}  # the parts to run, comma-separated (memory, loader, precision), or all
for _name in available():
    SETTINGS.update(_part(_name).SETTINGS)


def chosen(value) -> list[str]:
    """The parts a ``parts`` setting names, in run order."""
    have = available()
    if value in (None, "", "all"):
        return have
    names = [p.strip() for p in str(value).split(",") if p.strip()]
    unknown = [p for p in names if p not in have]
    if unknown:
        raise UserError(f"preflight has no part '{unknown[0]}' (parts: {', '.join(have)})")
    return [p for p in have if p in names]


def run(ctx: Context) -> CheckResult:
    result = ctx.result
    summaries, reasons = [], []
    for name in chosen(ctx.settings.get("parts", "all")):
        part = _part(name)
        m = part.measure(ctx)
        reason = part.skipped(m)
        if reason is not None:
            reasons.append(f"{name}: {reason}")
            summaries.append(f"{name}: not measured ({reason})")
            continue
        result.metrics.update(part.metrics(m))
        result.details.update(part.details(m))
        result.findings += judge(part.RULES, m, ctx.task, ctx.settings)
        summaries.append(part.summary(m))
    result.summary = "; ".join(summaries)
    if reasons and len(reasons) == len(summaries):
        result.skip("; ".join(reasons))
    return result
