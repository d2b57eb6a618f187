"""aug-preview's rules, one per finding code (DLC601-607), and its summary and metrics: functions
of the measured numbers alone (dlcheck/rules.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dlcheck import scale
from dlcheck.results import Finding, rounded
from dlcheck.rules import finding

from .measure import Measured

Settings = Mapping[str, Any]

def no_transform(m: Measured, task, s: Settings) -> Finding | None:
    """DLC601 (info): nothing to preview."""
    if m.where is None:
        return finding("DLC601", "no train_transform in the target and no transform on the train dataset "
                                 "(tensor datasets usually have none)")


def destroyed(m: Measured, task, s: Settings) -> Finding | None:
    """DLC602: a share of the judged draws no longer resemble their original (warn, then fail)."""
    frac = m.destroyed_fraction
    if frac is not None and frac >= s["destroyed_warn"]:
        severity = "fail" if frac >= s["destroyed_fail"] else "warn"
        return finding("DLC602", f"{m.destroyed} of {m.judged} augmented draws ({frac:.0%}) no longer resemble "
                                 f"their original (framed red in the grid)", severity=severity)


def blank(m: Measured, task, s: Settings) -> Finding | None:
    """DLC603: a share of the judged draws are blank (warn, then fail)."""
    frac = m.blank_fraction
    if frac is not None and frac >= s["blank_warn"]:
        severity = "fail" if frac >= s["blank_fail"] else "warn"
        return finding("DLC603", f"{m.blank} of {m.judged} augmented draws ({frac:.0%}) are blank "
                                 f"(near-constant; framed orange in the grid)", severity=severity)


def _double_normalise(m: Measured) -> str | None:
    """Two Normalize steps, or one Normalize fed data that is already normalised: what to say."""
    where = [i for i, st in enumerate(m.steps) if st.normalize]
    if len(where) >= 2:
        return ("Normalize appears " + f"{len(where)} times in the pipeline (steps "
                + ", ".join(str(i + 1) for i in where) + f"): {m.steps[where[0]].name}")
    for i in where:
        if i == 0:
            continue
        before, after = m.steps[i - 1], m.steps[i]
        if not before.mean or not after.mean:
            continue
        already = before.lo < -0.5 and max(abs(v) for v in before.mean) < 0.5 \
            and all(0.5 < v < 2 for v in before.std)
        shifted = max(abs(v) for v in after.mean) > 0.5 or not all(0.5 < v < 2 for v in after.std)
        if already and shifted:
            return (f"step {i + 1}, {after.name}, gets data that is already normalised "
                    f"(mean {_mean(before.mean):.2f}, std {_mean(before.std):.2f}) and shifts it to mean "
                    f"{_mean(after.mean):.2f}, std {_mean(after.std):.2f}")
    return None


def double_normalise(m: Measured, task, s: Settings) -> Finding | None:
    """DLC605: Normalize applied twice."""
    message = _double_normalise(m)
    if message:
        return finding("DLC605", message)


def output_scale(m: Measured, task, s: Settings) -> Finding | None:
    """DLC604: raw 0..255 values or a far-off mean/std; DLC606 (info): a Normalize-less 0..1
    output (ToTensor only), common and fine with BatchNorm. Not judged when Normalize is doubled
    (DLC605 says why the scale is off)."""
    means, stds = m.means, m.stds
    if not means or _double_normalise(m):
        return
    after = "after its Normalize" if m.has_normalize else "and the pipeline has no Normalize"
    peak = max(abs(m.lo), abs(m.hi))
    stats = scale.ChannelStats(mean=list(means), std=list(stds), low=[m.lo] * len(means), high=[m.hi] * len(means))
    verdict = scale.judge(stats, scale.Thresholds(raw_max=s["raw_max"], centre_tolerance=s["max_abs_mean"],
                                                  std_low=s["std_low"], std_high=s["std_high"], centre_share=0.0))
    if verdict.raw or peak > 255.5:
        return finding("DLC604", f"the augmented values reach {peak:.4g} {after}: raw pixel values, not normalised")
    elif verdict.off_centre or verdict.small or verdict.huge:
        return finding("DLC604", f"the augmented tensors have per-channel mean "
                                 f"({', '.join(f'{v:.2f}' for v in means)}) and std "
                                 f"({', '.join(f'{v:.2f}' for v in stds)}) {after}: far from 0 and 1")
    elif not m.has_normalize and m.lo >= 0 and m.hi <= 1 and _mean(means) > 0.2:
        return finding("DLC606", f"outputs lie in [0, 1] with mean {_mean(means):.2f}: scaled but not zero-centred")


def mask_mismatch(m: Measured, task, s: Settings) -> Finding | None:
    """DLC607: segmentation-style masks that do not follow their image's geometric augmentation."""
    frac = m.mask_fraction
    if frac is None or frac < s["mask_fail"] or m.mask_mismatched < 2:
        return None
    moved = m.mask_mismatched - m.mask_resized
    how = []
    if m.mask_still:
        how.append(f"in {m.mask_still} the image moved (flipped, cropped, rotated) while its mask stayed as it was")
    if moved - m.mask_still > 0:
        how.append(f"in {moved - m.mask_still} the mask moved differently from its image")
    if m.mask_resized:
        how.append(f"in {m.mask_resized} image and mask came out with different heights and widths")
    steps = f" (its steps that move pixels: {', '.join(m.mask_steps)})" if m.mask_steps else ""
    return finding("DLC607", f"{m.mask_mismatched} of {m.mask_judged} draws ({frac:.0%}) of segmentation-style "
                             f"samples through {m.where}{steps} have a mask that does not follow the image: "
                             + "; ".join(how) + f" (samples #{', #'.join(m.mask_examples)}; framed red in the "
                             f"mask grid)")


#: The rules, in the order their findings are reported.
RULES = (no_transform, destroyed, blank, double_normalise, output_scale, mask_mismatch)


# -- summary and metrics ------------------------------------------------------------------------
def metrics(m: Measured) -> dict:
    out = {
        "transform_from": m.where, "steps": len(m.steps), "normalize_steps": sum(st.normalize for st in m.steps),
        "images": m.images, "shown": m.shown, "draws": m.draws, "judged_draws": m.judged,
        "flat_sources": m.flat_sources, "destroyed_fraction": rounded(m.destroyed_fraction),
        "blank_fraction": rounded(m.blank_fraction), "output": m.output, "min": rounded(m.lo),
        "max": rounded(m.hi), "mean": [rounded(v) for v in m.means], "std": [rounded(v) for v in m.stds],
    }
    if m.grid:
        out["grid"] = m.grid
    if m.mask_judged:
        out.update(mask_judged_draws=m.mask_judged, mask_mismatch_fraction=rounded(m.mask_fraction))
    if m.mask_grid:
        out["mask_grid"] = m.mask_grid
    return out


def summary(m: Measured) -> str:
    if m.where is None:
        return "no train transform found: nothing to preview"
    means = ", ".join(f"{v:.2f}" for v in m.means)
    stds = ", ".join(f"{v:.2f}" for v in m.stds)
    damage = (f"{m.destroyed_fraction:.0%} destroyed, {m.blank_fraction:.0%} blank" if m.judged
              else "sources too flat to judge damage")
    return (f"{m.images} images x {m.draws} draws through {len(m.steps)} steps: {damage}; output "
            f"range [{m.lo:.3g}, {m.hi:.3g}], mean ({means}), std ({stds})"
            + (f"; grid: {m.grid}" if m.grid else "") + _mask_summary(m))


def _mask_summary(m: Measured) -> str:
    if m.mask_note:
        return f"; masks not judged: {m.mask_note}"
    if not m.mask_judged:
        return ""
    return (f"; masks: {m.mask_mismatched} of {m.mask_judged} draws do not follow their image"
            + (f" (grid: {m.mask_grid})" if m.mask_grid else ""))


def _mean(values) -> float:
    return sum(values) / len(values)
