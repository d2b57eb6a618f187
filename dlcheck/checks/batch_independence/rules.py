"""batch-independence's rules (DLC801-803), its summary, metrics and per-sample table: functions
of the measured gradient norms alone (dlcheck/rules.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlcheck.results import Finding, listing, rounded
from dlcheck.rules import finding

from .measure import Batch, Measured
from .trace import _leak

Settings = Mapping[str, Any]


@dataclass
class Leaks:
    """The per-sample table, the samples that depend on others (batch, sample, others, leak
    ratio) and the largest leak ratio."""

    rows: list[dict] = field(default_factory=list)
    mixed: list[tuple[Batch, int, list[int], float]] = field(default_factory=list)
    worst: float = 0.0


def leaks(m: Measured) -> Leaks:
    out = Leaks()
    for b in m.batches:
        for sample, row in zip(b.samples, b.norms):
            leak = _leak(row, sample)
            if math.isnan(leak):  # no gradient on the sample itself nor on others, or not finite
                continue
            others = [j for j, v in enumerate(row) if j != sample and v > 0 and v > m.noise * row[sample]]
            if leak > m.noise:
                out.mixed.append((b, sample, others, leak))
            out.worst = max(out.worst, leak)
            out.rows.append({"batch": b.index, "sample": sample, "own_gradient": rounded(row[sample], 4),
                             "largest_other": rounded(max(v for j, v in enumerate(row) if j != sample), 4),
                             "leak_ratio": rounded(leak, 4), "depends_on": len(others),
                             "other_samples": _ranges(others) or "-"})
    return out


def not_measured(m: Measured) -> str | None:
    """Why nothing was examined (None when some samples were)."""
    if leaks(m).rows:
        return None
    unmeasured = [b for b in m.batches if b.unmeasured]
    return unmeasured[0].unmeasured if unmeasured else "no gradient reaches the inputs from the outputs"


# -- rules: one per finding code ----------------------------------------------------------------
def unmeasured(m: Measured, task, s: Settings) -> Finding | None:
    """DLC803 (info): nothing examined, or a batch not measured."""
    reason = not_measured(m)
    if reason is not None:
        return finding("DLC803", f"batch independence was not measured: {reason}")
    skipped = [b for b in m.batches if b.unmeasured]
    if skipped:
        return finding("DLC803", f"batch {skipped[0].index} was not measured: {skipped[0].unmeasured}")


def mixed(m: Measured, task, s: Settings) -> Finding | None:
    """DLC801: one sample's output depends on other samples' inputs; DLC802 (info) when the model
    mixes samples by design (mixes_samples)."""
    found = leaks(m)
    if not found.rows or not found.mixed:
        return None
    b, sample, others, leak = max(found.mixed, key=lambda x: (x[3], len(x[2])))
    place, advice = _where(_first_where(m))
    of_batch = (lambda b: f" of batch {b.index}") if len(m.batches) > 1 else (lambda b: "")
    pairs = "; ".join(f"sample {s}{of_batch(b)} on {_count(o)}" for b, s, o, _ in found.mixed[:4])
    strength = ("some get no gradient from their own input at all" if leak == float("inf") else
                f"the largest gradient on another sample is {leak:.2g}x the one on their own input")
    message = (f"{len(found.mixed)} of {len(found.rows)} samples examined depend on other samples' inputs "
               f"({pairs}; {strength}){place}")
    if m.by_design:
        return finding("DLC802", message)
    relations = next((b.relations for b in m.batches if b.relations), None)
    if relations is not None:  # the batch relates its samples to each other: the mixing may be the point
        size = "x".join(map(str, relations))
        return finding("DLC801", f"{message}; the batch carries a {size} input relating its samples to each "
                                 f"other (a graph's adjacency over the batch?), so this mixing may be the point",
                       severity="warn", advice=f"if the model mixes samples on purpose (a graph over the batch, "
                                               f"in-batch attention), set mixes_samples = True in the target; "
                                               f"else {advice}")
    return finding("DLC801", message, advice=advice if "mixes_samples" in advice else advice + _ON_PURPOSE)


_ON_PURPOSE = "; if the model mixes samples on purpose, set mixes_samples = True in the target"


#: The rules, in the order their findings are reported.
RULES = (unmeasured, mixed)


# -- summary and metrics ------------------------------------------------------------------------
def metrics(m: Measured) -> dict:
    found = leaks(m)
    examined = len(found.rows)
    out = {"batches": len(m.batches), "batch_size": m.batches[0].size if m.batches else 0,
           "samples_examined": examined, "samples_mixed": len(found.mixed),
           "max_leak_ratio": rounded(found.worst, 4) if examined else None}
    done = [b for b in m.batches if not b.unmeasured]
    if done:
        out["gradient_at"] = done[0].through
    where = _first_where(m)
    if examined and found.mixed and where:
        out["mixing_starts"] = _where(where)[0].removeprefix("; the mixing starts ")
    return out


def summary(m: Measured) -> str:
    reason = not_measured(m)
    if reason is not None:
        return f"not measured: {reason}"
    found = leaks(m)
    examined = len(found.rows)
    if not found.mixed:
        return (f"{examined} samples' outputs each depend on their own input alone (gradient on "
                f"other samples: {found.worst:.2g} of their own)")
    place, _ = _where(_first_where(m))
    return (f"samples mix across the batch: {len(found.mixed)} of {examined} examined depend on other "
            f"samples{place}" + (" (by design: mixes_samples is set)" if m.by_design else ""))


def _first_where(m: Measured) -> dict | None:
    return next((b.where for b in m.batches if b.where), None)


def _where(where: dict | None) -> tuple[str, str]:
    """`` ; it starts in 'lstm' (LSTM)`` and the advice for that place."""
    from dlcheck.codes import CODES

    default = CODES["DLC801"].fix
    if not where:
        return "", default
    if where.get("module"):
        kind = where["type"]
        module = where["module"]
        place = f"; the mixing starts in {module} ({kind})"
        if kind in ("LSTM", "GRU", "RNN"):
            advice = (f"{module} reads axis 0 of its input as time, so it runs along the batch: "
                      f"pass batch_first=True to the {kind}, or feed it (time, batch, features)")
        elif kind == "MultiheadAttention":
            advice = (f"{module} attends along axis 0 of its input, here the batch: pass "
                      f"batch_first=True to it (or to the Transformer layer holding it), or feed it "
                      f"(sequence, batch, features)")
        elif "BatchNorm" in kind:
            advice = (f"{module} normalises with the batch's own statistics in eval mode "
                      f"(track_running_stats=False): keep track_running_stats=True, or use "
                      f"LayerNorm / GroupNorm")
        else:
            advice = f"look at how {module} treats the batch axis; {default}"
        return place, advice
    if where.get("before"):
        place = (f"; the mixing starts between {where['after']} and {where['before']}" if where.get("after")
                 else f"; the mixing starts before {where['before']}")
        advice = ("a view/reshape/flatten between them moves values across samples: swap axes with "
                  "permute/transpose (not view/reshape), and keep the batch axis where the next layer "
                  "expects it")
        return place, advice
    if not where.get("after"):
        return "", default
    return (f"; the mixing starts after {where['after']} (in the forward after its last module)",
            "the forward mixes samples after its last module (a reduction, normalisation or reshape "
            "over the batch axis?); keep every operation per sample")


def _count(others: list[int]) -> str:
    if not others:
        return "other samples"
    return f"{len(others)} other{'s' if len(others) > 1 else ''} ({_ranges(others)})"


def _ranges(indices: list[int], shown: int = 4) -> str:
    """``0-62, 64`` for sorted sample indices."""
    spans = []
    for i in indices:
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return listing([f"{a}-{b}" if b > a else f"{a}" for a, b in spans], shown)
