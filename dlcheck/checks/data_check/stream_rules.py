"""data-check's rules on one input stream each (:data:`INPUT_RULES`, run stream by stream by
:func:`inputs`): pure functions of an :class:`InputSummary` (measure.py), the task and the settings,
one per finding code, in report order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck import scale
from dlcheck.checks.data_check.measure import InputSummary, Measured
from dlcheck.results import Finding
from dlcheck.rules import finding, judge

Settings = Mapping[str, Any]


def thresholds(s: Settings) -> scale.Thresholds:
    return scale.Thresholds(raw_max=s["raw_max"], centre_tolerance=s["centre_tolerance"],
                            std_low=s["std_low"], std_high=s["std_high"], centre_share=s["centre_share"])


def judged_stream(st: InputSummary) -> bool:
    """An input stream with moments and finite values (ids and all-NaN streams are not judged)."""
    return st.kind not in ("ids", "other") and bool(st.stats.seen)


def pixel_row(st: InputSummary, s: Settings) -> bool:
    """A table whose many features share one grid of at most ``pixel_levels`` values: an image
    flattened to a row (8-bit pixels under any affine normalisation), normalised as a whole by
    convention (MNIST's Normalize((0.1307,), (0.3081,))), not feature by feature."""
    return st.kind == "table" and row_of_pixels(st.levels, len(st.stats.seen), s)


def row_of_pixels(levels: int | None, width: int, s: Settings) -> bool:
    """``width`` features sharing ``levels`` distinct values (parts.levels): pixels flattened to a row."""
    return levels is not None and levels <= s["pixel_levels"] and width >= s["pixel_row_min"]


def pixel_grid(st: InputSummary, s: Settings) -> bool:
    """Could these values be raw pixels? Always for a batch of 4+ axes or of bytes; a float batch of
    3 axes is also a sequence of feature rows (B, T, F) or 1-D signals, so there only when its values
    share a grid of at most ``pixel_levels`` (8-bit pixels cast to float): a series in its own units
    (a percentage, 20..77) is no image to fail as raw 0-255 pixels; its scale is judged as any other."""
    if st.kind != "image":
        return False
    if len(st.shape) != 2 or "uint8" in st.dtype:
        return True
    return st.levels is not None and st.levels <= s["pixel_levels"]


def judged_stats(st: InputSummary, s: Settings) -> scale.ChannelStats:
    """The moments the scale is judged on: each channel or feature, or a pixel row's as one channel."""
    return scale.pooled(st.stats) if pixel_row(st, s) else st.stats


def scale_verdict(st: InputSummary, s: Settings) -> scale.Verdict:
    """Raw, off-centre, too small or large a spread; constant features are listed one by one always."""
    if not pixel_row(st, s):
        return scale.judge(st.stats, thresholds(s), image=pixel_grid(st, s))
    v = scale.judge(scale.pooled(st.stats), thresholds(s), image=True)
    v.constant = st.stats.constant
    return v


def unit(st: InputSummary) -> str:
    return "channel" if st.kind == "image" else "feature"


def shown_as(st: InputSummary, s: Settings) -> tuple[str, str]:
    """How a finding names the stream and its judged unit: a pixel row is one channel."""
    if pixel_row(st, s):
        return (f"{st.shown} ({len(st.stats.seen)} features on {st.levels} shared levels: judged as one channel, "
                f"as pixels flattened to a row are)", "channel")
    return st.shown, unit(st)


# -- rules: one input stream ------------------------------------------------------------------
def ids_inputs(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC710 (info): token or category ids have no mean/std."""
    if st.kind in ("ids", "other"):
        return finding("DLC710", f"{st.shown} are {st.dtype} ids (tokens or categories): mean/std and NaN "
                                 f"checks do not apply")


def nonfinite_inputs(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC704: NaN/Inf in the inputs, the first batch and sample indices named."""
    if st.kind in ("ids", "other") or not st.stats.nonfinite:
        return
    first, where, kinds = st.first_bad
    shown = ", ".join(map(str, where[:5])) + (" ..." if len(where) > 5 else "")
    return finding("DLC704", f"{st.stats.nonfinite} non-finite values in {st.shown} ({st.bad_batches} batches); "
                             f"first in batch {first}, sample index {shown} ({kinds})")


def transformed(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC710 (info): the target's own step feeds the model something made from the stream (noised,
    rescaled): the stream's scale is not what the model sees, so it is not judged."""
    if judged_stream(st) and st.given is False:
        return finding("DLC710", f"{st.shown} reach the model only transformed by the target's own step "
                                 f"(no tensor the model was called with on the first batch equals them): "
                                 f"their range and scale are not judged")


def raw_range(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC701: images whose values are raw 0-255 pixels."""
    if not judged_stream(st) or st.given is False or not scale_verdict(st, s).raw:
        return
    stats, (shown, per) = judged_stats(st, s), shown_as(st, s)
    lo, hi = stats.range
    means = ", ".join(f"{stats.mean[i]:.0f}" for i in stats.seen[:4])
    return finding("DLC701", f"{shown} range {lo:g}..{hi:g} with per-{per} means {means}: raw 0-255 pixel values")


def off_scale(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC702: any of up to 4 image channels off, else a share of channels/features off-centre or
    too small, or any one with a huge scale (it dominates the first layer)."""
    if not judged_stream(st) or st.given is False:
        return
    v, stats, (name, per) = scale_verdict(st, s), judged_stats(st, s), shown_as(st, s)
    if v.raw or not v.varying:
        return
    share = len(set(v.off_centre) | set(v.small)) / len(v.varying)
    few_channels = per == "channel" and len(v.varying) <= 4  # RGB-like: every channel counts
    if not (v.huge or (v.off and few_channels) or share > s["uncentred_share"]):
        return
    shown = "; ".join(f"{per} {i}: mean {stats.mean[i]:.3g}, std {stats.std[i]:.3g}" for i in v.off[:4])
    more = f" and {len(v.off) - 4} more" if len(v.off) > 4 else ""
    return finding("DLC702", f"{len(v.off)} of {len(v.varying)} {per}s of {name} are not zero-centred "
                             f"and unit-scale ({shown}{more})")


def constant_inputs(st: InputSummary, task, s: Settings) -> Finding | None:
    """DLC703: constant channels/features; a warning above constant_share of them, else a note."""
    if not judged_stream(st) or st.samples < 2:
        return
    constant, seen = scale_verdict(st, s).constant, st.stats.seen
    if not constant:
        return
    shown = ", ".join(str(i) for i in constant[:8]) + (" ..." if len(constant) > 8 else "")
    severity = "warn" if len(constant) / len(seen) > s["constant_share"] else "info"
    return finding("DLC703", f"{len(constant)} of {len(seen)} {unit(st)}s of {st.shown} are constant "
                             f"({unit(st)}s {shown})", severity=severity)


#: The rules for one input stream, in report order.
INPUT_RULES = (ids_inputs, nonfinite_inputs, transformed, raw_range, off_scale, constant_inputs)


def inputs(m: Measured, task, s: Settings) -> list[Finding]:
    """DLC701-704 and DLC710: :data:`INPUT_RULES` on each input stream in turn."""
    return [f for stream in m.inputs for f in judge(INPUT_RULES, stream, task, s)]
