"""data-check's metrics, details and summary: functions of the measured numbers (and settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck.checks.data_check.measure import InputSummary, Measured
from dlcheck.checks.data_check.rules import counted, metric_key, regression_columns
from dlcheck.checks.data_check.stream_rules import judged_stream, scale_verdict, unit

Settings = Mapping[str, Any]


def metrics(m: Measured, s: Settings) -> dict:
    """Everything but the pairing control's numbers (verdict.pairing_metrics), in report order."""
    out: dict = {"batches": m.batches, "samples": m.samples}
    if m.per_position:
        out[m.position_word] = m.targets
    for st in m.inputs:
        _stream_metrics(out, st, s)
    if m.inputs_known and m.hashed:
        out["duplicates"] = m.duplicates
    if m.target_kind == "regression":
        seen, rms = regression_columns(m)
        out.update({"target_mean": max((m.target_stats.mean[i] for i in seen), key=abs, default=None),
                    "target_rms": max((rms[i] for i in seen), default=None)})
    elif m.target_kind == "multilabel" and m.target_stats.seen:
        p = m.target_stats.mean
        out.update({"labels": len(p), "prevalence_min": min(p), "prevalence_max": max(p)})
    elif m.target_kind == "classes" and m.labels.valid:
        out.update({"label_min": m.labels.low, "label_max": m.labels.high})
        if counted(m, s):
            _class_metrics(out, m)
    return out


def _stream_metrics(out: dict, st: InputSummary, s: Settings) -> None:
    if st.kind in ("ids", "other"):
        return
    if st.stats.nonfinite:
        out["nonfinite_values"] = out.get("nonfinite_values", 0) + st.stats.nonfinite
    if not judged_stream(st):
        return
    key, (lo, hi), v = metric_key(st.shown), st.stats.range, scale_verdict(st, s)
    out.update({f"{key}_min": lo, f"{key}_max": hi, f"{key}_constant": len(v.constant)})
    if not v.raw and v.varying:
        out[f"{key}_off_scale"] = len(v.off)


def _class_metrics(out: dict, m: Measured) -> None:
    out["num_classes"] = m.labels.width
    present = [c for c in m.labels.table(m.labels.width)[1] if c]
    if present:
        out["imbalance_ratio"] = round(max(present) / min(present), 4)
    if m.batch_entropy is not None:
        out["batch_entropy_ratio"] = round(m.batch_entropy, 4)


def details(m: Measured, s: Settings) -> dict:
    """Per-channel, per-column, per-label and per-class tables (when small enough to read)."""
    out: dict = {}
    for st in m.inputs:
        if judged_stream(st) and (st.kind == "image" or len(st.stats.seen) <= 40):
            stats = st.stats
            out[f"{metric_key(st.shown)}_{unit(st)}s"] = [
                {unit(st): i, "mean": stats.mean[i], "std": stats.std[i], "min": stats.low[i],
                 "max": stats.high[i]} for i in stats.seen]
    if m.target_parts:
        out["targets_parts"] = [p.row() for p in m.target_parts]
    st = m.target_stats
    if m.target_kind == "regression" and len(st.seen) <= 40:
        out["targets_columns"] = [{"output": i, "mean": st.mean[i], "std": st.std[i], "min": st.low[i],
                                   "max": st.high[i]} for i in st.seen]
    elif m.target_kind == "multilabel" and st.seen and len(st.mean) <= 100:
        out["label_prevalence"] = [{"label": i, "prevalence": p} for i, p in enumerate(st.mean)]
    elif m.target_kind == "classes" and counted(m, s) and m.labels.width <= 100:
        lab = m.labels
        out["classes"] = [{"class": k, "count": c, "share": c / lab.valid}
                          for k, c in enumerate(lab.table(lab.width)[1])]
    return out


def _stream_part(st: InputSummary) -> str:
    if st.kind in ("ids", "other"):
        return f"{st.shown}: {st.dtype} ids"
    if not st.stats.seen:
        return f"{st.shown}: no finite values"
    lo, hi = st.stats.range
    return f"{st.shown} {st.kind} ({'x'.join(str(d) for d in st.shape)}) range {lo:.3g}..{hi:.3g}"


def _target_part(m: Measured, s: Settings) -> str | None:
    st = m.target_stats
    if m.target_kind in ("none", "parts", "unused"):
        return {"none": "no targets", "unused": "labels unused by the loss"}.get(
            m.target_kind, f"targets in {len(m.target_parts)} parts, not judged")
    if m.label_part is not None and counted(m, s):
        counts = m.labels.table(m.labels.width)[1]
        return f"{m.label_part}: {sum(1 for c in counts if c)} of {m.labels.width} classes seen"
    if m.target_kind == "regression":
        return f"regression targets range {st.range[0]:.3g}..{st.range[1]:.3g}" if st.seen else "regression targets"
    if m.target_kind == "multilabel":
        if not st.seen:
            return None
        labels = len(st.mean)
        return f"{labels} binary label{'s' if labels != 1 else ''}, prevalence {min(st.mean):.2g}..{max(st.mean):.2g}"
    if m.target_kind in ("soft", "float"):
        return f"{m.target_dtype} targets"
    if not counted(m, s):
        return None
    counts = m.labels.table(m.labels.width)[1]
    return f"{sum(1 for c in counts if c)} of {m.labels.width} classes seen"


def summary(m: Measured, s: Settings) -> str:
    parts = [_stream_part(st) for st in m.inputs] + [_target_part(m, s)]
    what = f"{m.samples} samples" + (f" ({m.targets} {m.position_word})" if m.per_position else "")
    return f"{what} in {m.batches} batches: " + "; ".join(p for p in parts if p)
