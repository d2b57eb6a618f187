"""data-check's rules: pure functions of the measured numbers (measure.py), the task and the
settings, one per finding code, in :data:`RULES` in report order. The input rules judge one input
stream each (stream_rules.py); the pairing control's rules are in verdict.py. :func:`obstacle`
says, from the same numbers, why the pairing control cannot run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck.checks.data_check import copies, dominance, multihot
from dlcheck.checks.data_check.leakage import leakage
from dlcheck.checks.data_check.measure import Measured
from dlcheck.checks.data_check.stream_rules import inputs, nonfinite_inputs, raw_range
from dlcheck.checks.data_check.verdict import PAIRING_RULES
from dlcheck.results import Finding, listing
from dlcheck.rules import finding

Settings = Mapping[str, Any]


def metric_key(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")


# -- rules: the batches -----------------------------------------------------------------------
def inputs_unknown(m: Measured, task, s: Settings) -> Finding | None:
    """DLC710 (info): the target's forward() takes the batches apart its own way."""
    if not m.inputs_known:
        return finding("DLC710", "the target's forward() takes the batches apart and dlcheck cannot tell "
                                 "which part are the inputs: input statistics, NaN/Inf and duplicates skipped")


def duplicates(m: Measured, task, s: Settings) -> Finding | None:
    """DLC708: samples whose input bytes repeat an earlier one; the first pair named."""
    if not m.inputs_known or not m.hashed or not m.duplicates:
        return
    (b0, i0), (b1, i1) = m.first_duplicate
    clash = f", {m.conflicting} of them with a different label" if m.conflicting else ""
    severity = "warn" if m.duplicates / max(m.hashed, 1) >= s["duplicate_share"] else "info"
    return finding("DLC708", f"{m.duplicates} of {m.hashed} samples repeat an earlier one{clash} "
                             f"(first: batch {b1} sample {i1} = batch {b0} sample {i0})", severity=severity)


# -- rules: the targets -----------------------------------------------------------------------
def nonfinite_targets(m: Measured, task, s: Settings) -> Finding | None:
    """DLC704: NaN/Inf in regression or multi-label targets, the first batch named."""
    if m.target_bad is not None:
        first_count, batch = m.target_bad
        return finding("DLC704", f"{m.target_stats.nonfinite} non-finite values in the targets; first in "
                                 f"batch {batch} ({first_count} there)")


def regression_columns(m: Measured) -> tuple[list[int], list[float]]:
    """(varying target columns, each column's RMS sqrt(mean² + std²))."""
    st = m.target_stats
    return [i for i in st.seen if i not in st.constant], \
        [(st.mean[i] ** 2 + st.std[i] ** 2) ** 0.5 for i in range(len(st.mean))]


def targets_unscaled(m: Measured, task, s: Settings) -> Finding | None:
    """DLC711: a model's outputs start near 0 with unit-scale spread; targets in the hundreds
    (or with a vanishing spread) make the first steps chase the scale instead of the signal."""
    if m.target_kind != "regression":
        return
    st = m.target_stats
    seen, rms = regression_columns(m)
    far = [i for i in seen if rms[i] > s["target_scale"]]
    tiny = [i for i in seen if st.std[i] < s["target_std_low"]]
    cols = len(st.mean)
    name = (lambda i: "the targets") if cols == 1 else (lambda i: f"target column {i}")
    if far:
        i = max(far, key=lambda j: rms[j])
        more = f" ({len(far)} of {cols} columns)" if cols > 1 else ""
        return finding("DLC711", f"{name(i)} have mean {st.mean[i]:.4g} and std {st.std[i]:.4g}{more}: far "
                                 f"from the unit scale a freshly initialised output starts at (MSE at init "
                                 f"~{rms[i] ** 2:.3g})")
    if tiny:
        i = min(tiny, key=lambda j: st.std[j])
        return finding("DLC711", f"{name(i)} vary by a std of only {st.std[i]:.3g}: the loss and its "
                                 f"gradients are tiny next to any output noise")


def constant_targets(m: Measured, task, s: Settings) -> Finding | None:
    """DLC703 (info): constant columns among several regression targets."""
    if m.target_kind != "regression":
        return
    st = m.target_stats
    if st.constant and len(st.mean) > 1:
        return finding("DLC703", f"{len(st.constant)} of {len(st.mean)} target columns are constant (columns "
                                 f"{listing(st.constant)})", severity="info")


def binary_out_of_range(m: Measured) -> bool:
    """Multi-label targets outside 0..1."""
    st = m.target_stats
    if m.target_kind != "multilabel" or not st.seen:
        return False
    lo, hi = st.range
    return lo < 0 or hi > 1


def labels_out_of_range(m: Measured, task, s: Settings) -> Finding | None:
    """DLC705: class labels outside 0..C-1, or binary (BCE) targets outside 0..1."""
    if binary_out_of_range(m):
        lo, hi = m.target_stats.range
        return finding("DLC705", f"binary targets range {lo:g}..{hi:g}: a BCE target must lie in 0..1")
    lab = m.labels
    if m.target_kind != "classes" or lab is None or not lab.valid or not lab.out_of_range:
        return
    b, i, value = lab.first_out
    span = f"0..{lab.classes - 1} ({lab.source})" if lab.classes is not None else "0 and up"
    return finding("DLC705", f"{lab.out_of_range} labels outside {span}; first: label {value} in batch {b}, "
                             f"index {i}")


def counted(m: Measured, s: Settings) -> bool:
    """Hard labels whose classes are counted (some valid, and not a million classes)."""
    return m.target_kind == "classes" and m.labels is not None and bool(m.labels.valid) \
        and m.labels.width <= s["max_classes"]


def targets_skipped(m: Measured, task, s: Settings) -> Finding | None:
    """DLC710 (info): soft or float targets, every label ignored, or too many classes to count."""
    if m.target_kind in ("soft", "float"):
        what = "soft labels (class probabilities)" if m.target_kind == "soft" else "regression or soft labels"
        return finding("DLC710", f"the targets are {m.target_dtype} ({what}): label range, class balance "
                                 f"and shuffling checks skipped")
    if m.target_kind in ("none", "parts", "unused"):
        return finding("DLC710", _parts_skipped(m))
    if m.target_kind != "classes" or m.labels is None:
        return
    if not m.labels.valid:
        return finding("DLC710", "every label is the loss's ignore_index: label checks skipped")
    if not counted(m, s):  # one garbage label must not make a table of a million classes
        return finding("DLC710", f"labels reach {m.labels.high} and the number of classes is not known: class "
                                 f"balance and shuffling checks skipped (set num_classes in the target)")


def _parts_skipped(m: Measured) -> str:
    if m.target_kind == "none":
        return "the batches carry no targets (the forward returns None): target checks skipped"
    if m.target_kind == "unused":
        return (f"{m.target_parts[0].part} are labels the loss does not use (permuted across the batch, the "
                f"initial model's loss and gradients were identical): label checks skipped")
    reasons: dict[str, list[str]] = {}
    for p in m.target_parts:
        reasons.setdefault(p.reason, []).append(p.part)
    shown = "; ".join(f"{listing(names)}: {why}" for why, names in reasons.items())
    return f"the targets have {len(m.target_parts)} parts, none judged ({shown})"


def prevalence_judged(m: Measured, s: Settings) -> bool:
    st = m.target_stats
    return m.target_kind == "multilabel" and bool(st.seen) and not binary_out_of_range(m) \
        and st.values / max(len(st.mean), 1) >= s["prevalence_min_samples"]


def prevalence(m: Measured, task, s: Settings) -> list[Finding]:
    """DLC712: multi-label labels never or always positive (the model learns to always say no);
    a note for rare ones."""
    if not prevalence_judged(m, s):
        return []
    st, found = m.target_stats, []
    labels = len(st.mean)
    p = [st.mean[i] for i in range(labels)]
    n = int(st.values / max(labels, 1))
    never = [i for i, v in enumerate(p) if v == 0]
    always = [i for i, v in enumerate(p) if v == 1]
    rare = [i for i, v in enumerate(p) if 0 < v < s["prevalence_low"] or 1 - s["prevalence_low"] < v < 1]
    if never or always:
        said = []
        if never:
            said.append(f"label{'s' if len(never) > 1 else ''} {listing(never)} never positive")
        if always:
            said.append(f"label{'s' if len(always) > 1 else ''} {listing(always)} always positive")
        found.append(finding("DLC712", f"{' and '.join(said)} in {n} samples: nothing to learn there but a constant"))
    if rare:
        shown = ", ".join(f"{i} ({p[i]:.2%})" for i in rare[:4]) + (" ..." if len(rare) > 4 else "")
        found.append(finding("DLC712", f"{len(rare)} of {labels} labels are rarely or almost always positive: "
                                       f"{shown}", severity="info"))
    return found


def imbalance(m: Measured, task, s: Settings) -> list[Finding]:
    """DLC706: a warning for skewed classes of per-sample labels; for per-position labels (tokens,
    pixels) skew is the nature of the data (character frequencies, background pixels): a note.
    A note for classes that never appear."""
    if not counted(m, s):
        return []
    classes, found = m.labels.classes, []
    counts = m.labels.table(m.labels.width)[1]
    present = [c for c in counts if c]
    if not present:
        return []
    ratio = max(present) / min(present)
    if ratio > s["imbalance_ratio"]:
        big, small = counts.index(max(present)), counts.index(min(present))
        natural = f" (per-position labels: skew is natural for {m.position_word})" if m.per_position else ""
        unit_word = m.position_word if m.per_position else "samples"
        found.append(finding("DLC706", f"class {big} has {max(present)} {unit_word} and class {small} only "
                                       f"{min(present)} ({ratio:.0f}x) in the batches seen{natural}",
                             severity="info" if m.per_position else None))
    total = sum(counts)
    missing = [k for k, c in enumerate(counts) if not c]
    if classes is not None and missing and total >= 5 * classes:
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        found.append(finding("DLC706", f"{len(missing)} of {classes} classes never appear in {total} labels "
                                       f"(classes {shown})", severity="info"))
    return found


def batches_sorted(m: Measured, s: Settings) -> bool:
    return m.batch_entropy is not None and m.batch_entropy < s["entropy_ratio"]


def sorted_batches(m: Measured, task, s: Settings) -> Finding | None:
    """DLC707: per-batch label entropy far below that of batches drawn at random (same sizes)."""
    if batches_sorted(m, s):
        shown = ", ".join(f"{v:.0%} class {k}" for v, k in m.batch_tops)
        return finding("DLC707", f"label entropy per batch is {m.batch_entropy:.0%} of what shuffled batches give; "
                                 f"the first batches are {shown}")


def obstacle(m: Measured, task, s: Settings) -> str | None:
    """Why the pairing control cannot run, from the numbers the rules above judge."""
    if m.target_kind == "none":
        return "the batches carry no targets: nothing to pair"
    if m.target_kind == "unused":
        return "the loss does not depend on the labels (permuted labels gave the identical loss and gradients)"
    if m.target_kind == "parts":
        return "no part of the targets is known to hold one class label per sample"
    if m.ignored_where_varies:
        return ("the labels hold the loss's ignore_index at positions that differ from sample to sample "
                "(masked-LM style): permuting them moves the positions the loss counts, not only the labels")
    if (dominated := dominance.obstacle(m, task, s)) is not None:
        return dominated
    if m.targets_are_inputs:
        return ("the targets are the batch's own inputs (an autoencoder): permuting them tests no pairing "
                "of inputs and labels")
    if m.labels_read:
        return ("the model reads the labels as inputs too (its outputs change when they are permuted: teacher "
                "forcing, an encoder-decoder's decoder inputs): permuted label sequences teach their own "
                "structure as fast, so the control cannot tell whether inputs and labels are paired")
    if task.problem:
        return f"the set-up cannot train ({task.problem})"
    if m.target_bad is not None or any(nonfinite_inputs(st, task, s) for st in m.inputs):
        return "the inputs or targets hold NaN/Inf"
    if any(raw_range(st, task, s) for st in m.inputs):
        return "the inputs are raw 0-255 values (scale them first)"
    if labels_out_of_range(m, task, s) or (m.target_kind == "regression" and m.target_bad is not None):
        return "labels are out of range"
    if batches_sorted(m, s):
        return "the batches are sorted by class"
    return None


#: The rules before the pairing control, in report order.
DATA_RULES = (inputs_unknown, inputs, duplicates, nonfinite_targets, targets_unscaled, constant_targets,
              labels_out_of_range, targets_skipped, prevalence, imbalance, sorted_batches,
              dominance.dominant_target, multihot.multihot_softmax, copies.target_in_inputs, leakage)
#: Every rule, in report order.
RULES = DATA_RULES + PAIRING_RULES
