"""causality's rules (DLC851-852), its summary, metrics and per-position table: functions of the
measured gradient norms alone (dlcheck/rules.py)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from dlcheck.results import Finding, rounded
from dlcheck.rules import finding

from .measure import Measured
from .trace import leak, leaking

Settings = Mapping[str, Any]


def _examined(m: Measured) -> list[tuple[int, float, list[int], list[float]]]:
    """Per examined output position with any gradient: (t, leak ratio, leaking positions, norms)."""
    out = []
    for t, row in zip(m.positions, m.norms):
        ratio = leak(row, t)
        if not math.isnan(ratio):
            out.append((t, ratio, leaking(row, t, m.noise), row))
    return out


def rows(m: Measured) -> list[dict]:
    """The per-position table: one row per examined output position with any gradient."""
    return [{"position": t, "leak_ratio": rounded(ratio, 4), "first_leak": later[0] if later else "-",
             "future_positions": len(later), "past_gradient": rounded(max(row[:t + 1]), 4),
             "largest_future": rounded(max(row[t + 1:], default=0.0), 4)}
            for t, ratio, later, row in _examined(m)]


def leaks(m: Measured) -> list[dict]:
    """The rows whose output sees the future."""
    return [r for r, (_, ratio, later, _) in zip(rows(m), _examined(m)) if later and ratio > m.noise]


def not_measured(m: Measured) -> str | None:
    """Why nothing was judged (None when some positions were examined)."""
    if m.causal is None:
        return m.skipped or "the model is not taken as causal"
    if rows(m):
        return None
    return m.unmeasured or "no gradient reaches the inputs from the outputs"


# -- rules: one per finding code ----------------------------------------------------------------
def unmeasured(m: Measured, task, s: Settings) -> Finding | None:
    """DLC852 (info): a causal model whose causality could not be measured."""
    if m.causal is None:
        return None
    reason = not_measured(m)
    if reason is not None:
        return finding("DLC852", f"causality was not measured ({m.causal}): {reason}")


def future(m: Measured, task, s: Settings) -> Finding | None:
    """DLC851: an output at position t depends on inputs at positions after t."""
    found = leaks(m)
    if m.causal is None or not found:
        return None
    ratios = [ratio for _, ratio, later, _ in _examined(m) if later and ratio > m.noise]
    place, advice = _where(m.where)
    pairs = "; ".join(f"position {r['position']} on {r['future_positions']} later (first: {r['first_leak']})"
                      for r in found[:4])
    strength = ("some get no gradient from the positions up to their own at all"
                if max(ratios) == float("inf") else
                f"the largest gradient on a later position is {max(ratios):.2g}x the largest on "
                f"the positions up to their own")
    message = (f"{len(found)} of {len(rows(m))} output positions examined depend on later input positions "
               f"({pairs}; {strength}), yet the model is causal ({m.causal}){place}")
    return finding("DLC851", message, advice=advice)


#: The rules, in the order their findings are reported.
RULES = (unmeasured, future)


# -- summary and metrics ------------------------------------------------------------------------
def metrics(m: Measured) -> dict:
    examined = rows(m)
    found = leaks(m)
    out = {"causal": m.causal, "sequence_length": m.length, "positions_examined": len(examined),
           "positions_leaking": len(found),
           "max_leak_ratio": rounded(max((x[1] for x in _examined(m)), default=0.0), 4) if examined else None}
    if examined:
        out["gradient_at"] = m.through
    if found:
        out["first_leak"] = {"position": found[0]["position"], "input_position": found[0]["first_leak"]}
        if m.where:
            out["mixing_starts"] = _where(m.where)[0].removeprefix("; the mixing across time starts ")
    return out


def summary(m: Measured) -> str:
    reason = not_measured(m)
    if reason is not None:
        return f"not judged: {reason}" if m.causal is None else f"not measured: {reason}"
    examined, found = rows(m), leaks(m)
    if not found:
        worst = max(x[1] for x in _examined(m))
        return (f"{len(examined)} output positions each depend on input positions up to their own alone "
                f"(gradient on later positions: {worst:.2g} of the past's; {m.causal})")
    first = found[0]
    return (f"the future leaks: the output at position {first['position']} depends on input position "
            f"{first['first_leak']}{_where(m.where)[0]}")


def _where(where: dict | None) -> tuple[str, str]:
    """``; the mixing across time starts in 'attn' (MultiheadAttention)`` and the advice for it."""
    from dlcheck.codes import CODES

    default = CODES["DLC851"].fix
    if not where:
        return "", default
    if where.get("module"):
        kind, module = where["type"], where["module"]
        place = f"; the mixing across time starts in {module} ({kind})"
        if kind == "MultiheadAttention":
            advice = (f"{module} attends to every position: pass attn_mask="
                      f"nn.Transformer.generate_square_subsequent_mask(T) (or is_causal=True with that mask)")
        elif kind in ("LSTM", "GRU", "RNN"):
            advice = f"{module} reads the sequence both ways: make it unidirectional (bidirectional=False)"
        elif kind.startswith("Conv"):
            advice = (f"{module} sees positions on both sides: pad it on the left only (a causal "
                      f"convolution), e.g. F.pad(x, (k - 1, 0)) and padding=0")
        else:
            advice = f"look at how {module} mixes positions; {default}"
        return place, advice
    if where.get("before"):
        place = (f"; the mixing across time starts between {where['after']} and {where['before']}"
                 if where.get("after") else f"; the mixing across time starts before {where['before']}")
        return place, ("the forward mixes positions between these modules (attention scores without "
                       "their causal mask?): mask the scores above the diagonal with -inf before the "
                       "softmax (torch.triu(..., diagonal=1)), or pass is_causal=True to "
                       "F.scaled_dot_product_attention")
    if not where.get("after"):
        return "", default
    return (f"; the mixing across time starts after {where['after']} (in the forward after its last module)",
            "the forward mixes positions after its last module (a sum, pooling or reshape over the "
            "time axis?); keep every output position on the positions up to its own")
