"""The pairing control's verdict (DLC709) on its runs (pairing.py), and its rules: pure.

Subset evidence: learning = the mean loss over the run (an area under the curve, so an early
lead counts and late memorisation of the permuted labels cannot hide it) as a share of (loss at
step 1 - floor). Held-out evidence: how far the held-out loss fell below the best
input-independent loss (the task's constant reference; the initial loss without one), as a
share of the way to the floor, clipped at 0: a model trained on labels that do not belong to
their inputs cannot beat the constant on new samples, however much it memorised.

Measured (seeds 0-2, tests/zoo and tests/tasks): labels apart (digits, diabetes, text, masks)
held-out 0 % in both runs, subset 0.14-0.55 vs 0.14-0.56 after 160 steps, memorised 0.22-0.91;
healthy set-ups held-out 10-93 % with the true labels (an LSTM on a plateau only after 160
steps), at most 14 % with permuted ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dlcheck.checks.data_check.pairing import Pairing, Run
from dlcheck.results import Finding
from dlcheck.rules import finding

Settings = Mapping[str, Any]


@dataclass
class Verdict:
    """paired | apart | weak (a lead short of the margin, an init that dominates) | unlearned (too
    little learned to tell) | nan; the message for all but paired,
    and the numbers it rests on (the check's pair_* metrics)."""

    kind: str
    message: str | None = None
    metrics: dict = field(default_factory=dict)


def pct(share: float) -> str:
    """A share as a readable percentage: capped, and a diverged loss said in words."""
    if not math.isfinite(share) or share < -10:
        return "none (the loss diverged)"
    return "over 1000%" if share > 10 else f"{share:.0%}"


def _share(start: float, value: float, floor: float) -> float:
    """How far ``value`` came from ``start`` towards ``floor``, as a share of the way."""
    span = start - floor
    return (start - value) / span if span > 1e-12 else 0.0


def curves(true: Run, perm: Run) -> tuple[list[float], list[float]]:
    """The two training curves, as long as the shorter one."""
    steps = min(len(true.curve), len(perm.curve))
    return true.curve[:steps], perm.curve[:steps]


@dataclass
class _Subset:
    steps: int
    floor: float
    start: float
    learn_true: float
    learn_perm: float
    final_true: float
    final_perm: float


def _subset(true: Run, tc: list[float], pc: list[float], n: int) -> _Subset:
    steps = len(tc)
    floor = true.floor if true.floor is not None else min(0.0, *tc, *pc)
    start = (tc[0] + pc[0]) / 2
    m = max(1, min(n, steps // 4))  # one pass over the subset
    return _Subset(steps, floor, start, _share(start, sum(tc) / steps, floor), _share(start, sum(pc) / steps, floor),
                   sum(tc[-m:]) / m, sum(pc[-m:]) / m)


def _held(true: Run, perm: Run) -> tuple[float, float] | None:
    """How far below the best constant output each run took the held-out loss (None: no held-out batches)."""
    if None in (true.held_before, true.held_after, perm.held_after):
        return None
    h_floor = true.held_floor if true.held_floor is not None else min(0.0, true.held_before)
    ref = min(true.held_before, true.held_constant) if true.held_constant is not None else true.held_before
    return max(0.0, _share(ref, true.held_after, h_floor)), max(0.0, _share(ref, perm.held_after, h_floor))


def _held_accuracy(true: Run, perm: Run, s: Settings) -> tuple[float, float, bool, float] | None:
    """Held-out accuracy after each run, whether the true labels' is ahead beyond chance, and by how
    many standard errors of the difference of two proportions it is ahead. Ahead beyond chance: by
    ``pair_holdout_z`` standard errors of the difference of two proportions and at least
    ``pair_holdout_accuracy`` (a model that memorised both subsets can still carry over what the
    true labels taught, where its overconfident held-out loss hides it)."""
    if true.held_hits is None or perm.held_hits is None or min(true.held_hits[1], perm.held_hits[1]) <= 0:
        return None
    (ct, nt), (cp, np_) = true.held_hits, perm.held_hits
    at, ap = ct / nt, cp / np_
    pooled = (ct + cp) / (nt + np_)
    se = math.sqrt(max(pooled * (1 - pooled), 0.0) * (1 / nt + 1 / np_))
    z = (at - ap) / se if se > 0 else (math.inf if at > ap else 0.0)
    ahead = at - ap >= s["pair_holdout_accuracy"] and z >= s["pair_holdout_z"]
    return at, ap, ahead or _beats_constant(at, nt, true.held_majority, s), z


def _beats_constant(accuracy: float, n: int, majority: int | None, s: Settings) -> bool:
    """The held-out accuracy after the true labels is above the best constant prediction's (the
    held-out majority class's share) by ``pair_holdout_accuracy`` and ``pair_holdout_z`` binomial
    standard errors. Labels that do not belong to their inputs leave no model more than that share
    on new samples in expectation, however much of the subset it memorised; so this is evidence of
    pairing where the permuted run is too noisy a reference (few held-out samples, two proportions)."""
    if majority is None or n <= 0:
        return False
    base = majority / n
    if base >= 1:
        return False
    margin = accuracy - base
    return margin >= s["pair_holdout_accuracy"] and margin / math.sqrt(base * (1 - base) / n) >= s["pair_holdout_z"]


def verdict(true: Run, perm: Run, n: int, lr: float, s: Settings) -> Verdict:
    """The verdict on one pair of runs over ``n`` subset batches at learning rate ``lr``."""
    tc, pc = curves(true, perm)
    if not all(map(math.isfinite, tc + pc)):
        return Verdict("nan", "pairing control inconclusive: the loss became NaN/Inf (see overfit-small and lr-find)")
    u = _subset(true, tc, pc, n)
    out = Verdict("paired", metrics={
        "pair_steps": u.steps, "pair_final_true_loss": round(u.final_true, 6),
        "pair_final_permuted_loss": round(u.final_perm, 6),
        "pair_final_ratio": round(u.final_true / u.final_perm, 6) if u.final_perm > 0 else None,
        "pair_learning_true": round(u.learn_true, 6), "pair_learning_permuted": round(u.learn_perm, 6),
        "pair_floor": round(u.floor, 6), "pair_subset_batches": n,
    })
    held, paired_held = "", False
    gen = _held(true, perm)
    if gen is not None:
        out.metrics.update({"pair_heldout_true": round(gen[0], 6), "pair_heldout_permuted": round(gen[1], 6)})
        paired_held = gen[0] - gen[1] >= s["pair_holdout_margin"]
        held = f"; on held-out batches {pct(gen[0])} vs {pct(gen[1])} below the best constant output"
    acc = _held_accuracy(true, perm, s)
    if acc is not None:
        out.metrics.update({"pair_heldout_accuracy_true": round(acc[0], 6),
                            "pair_heldout_accuracy_permuted": round(acc[1], 6)})
        if true.held_majority is not None:  # the best constant prediction's held-out accuracy
            out.metrics["pair_heldout_majority"] = round(true.held_majority / true.held_hits[1], 6)
        paired_held = paired_held or acc[2]
        held += f", accuracy {acc[0]:.0%} vs {acc[1]:.0%}"
    gap = u.learn_true - u.learn_perm
    # learned several times more, or (a big model memorises permuted labels too) left several times
    # less unlearned: the share of the way cannot pass 1, so 0.87 vs 0.74 is 2x less left, not 1.2x more
    faster = u.learn_true >= s["pair_ratio"] * max(u.learn_perm, 0.0) or \
        (1 - u.learn_perm) >= s["pair_ratio"] * max(1 - u.learn_true, 0.0)
    if (gap >= s["pair_margin"] and faster) or paired_held:
        return out
    out.kind, out.message = _unpaired(true, u, n, lr, held, acc, s, out.metrics)
    return out


def _unpaired(true: Run, u: _Subset, n: int, lr: float, held: str, acc: tuple | None, s: Settings,
              metrics: dict) -> tuple[str, str]:
    """No evidence of pairing: apart, or weak when too little was learned to tell; ``acc``: the
    held-out accuracies after the true and the permuted labels (None where accuracy does not apply)."""
    # memorised: how far below the best constant output the runs ended (learning an output scale
    # or the label prior is no evidence either way)
    base = min(u.start, true.constant) if true.constant is not None else u.start
    below_true, below_perm = _share(base, u.final_true, u.floor), _share(base, u.final_perm, u.floor)
    memorised = max(below_true, below_perm)
    metrics["pair_memorised"] = round(memorised, 6)
    steps, start = u.steps, u.start
    if memorised < s["pair_memorised"]:
        if acc is not None and acc[0] - acc[1] >= s["pair_holdout_accuracy"] and acc[3] >= s["pair_hint_z"]:
            # too little learned on the subset to judge it, but what was learned carried over to new
            # samples with the true labels only: short of proof, yet no evidence that they are apart
            return "weak", (f"pairing control inconclusive: in {steps} steps at lr {lr:g} on {n} batches neither "
                            f"run learned the subset below the best constant output by more than "
                            f"{pct(max(memorised, 0))} of the way to the floor, yet on held-out batches the true "
                            f"labels lead (accuracy {acc[0]:.0%} vs {acc[1]:.0%} on {true.held_hits[1]} predictions, "
                            f"{acc[3]:.1f} standard errors) short of the {s['pair_holdout_z']:g} that show pairing (see "
                            f"overfit-small; raise pair_max_steps)")
        return "unlearned", (f"pairing control inconclusive: in {steps} steps at lr {lr:g} on {n} batches neither "
                             f"the true nor the permuted labels were learned below the best constant output by more "
                             f"than {pct(max(memorised, 0))} of the way to the floor: too little to tell them apart "
                             f"(see overfit-small; raise pair_max_steps)")
    if memorised >= s["pair_memorised_all"] and acc is not None and acc[0] - acc[1] >= s["pair_holdout_accuracy"]:
        return "weak", (f"pairing control inconclusive: the {n} batches were memorised ({pct(memorised)} of the way "
                        f"below the best constant output), so how fast says little and only the held-out batches "
                        f"can tell; there the true labels lead (accuracy {acc[0]:.0%} vs {acc[1]:.0%} on {true.held_hits[1]} "
                        f"predictions) short of the {s['pair_holdout_z']:g} standard errors that show pairing")
    if true.expected is not None and start > s["pair_init_ratio"] * max(true.expected, 1e-12):
        return "weak", (f"pairing control inconclusive: both runs memorised the subset alike, but the loss at step 1 "
                        f"({start:.3g}) is {start / max(true.expected, 1e-12):.3g}x that of outputs at zero "
                        f"({true.expected:.3g}): the model's init dominates what it learns (see init-loss)")
    excess_true, excess_perm = u.final_true - u.floor, u.final_perm - u.floor
    learn_true, learn_perm, final_true, final_perm = u.learn_true, u.learn_perm, u.final_true, u.final_perm
    # the true labels ahead, but not by enough to call them paired: weak evidence either way. Ahead on
    # average from step 1, at the end from the floor, or at the end from the best constant output
    # (where both runs first shed an init's excess loss alike, e.g. a head scaled up)
    if learn_true - learn_perm > s["pair_apart_gap"] or below_true - below_perm > s["pair_apart_gap"] or \
            (excess_perm > 0 and s["pair_ratio"] * excess_true < excess_perm):
        return "weak", (f"pairing control inconclusive: the true labels were learned somewhat faster than "
                        f"permuted ones ({pct(learn_true)} vs {pct(learn_perm)} of the way to the floor; final "
                        f"{final_true:.3g} vs {final_perm:.3g}, {pct(max(below_true, 0))} vs "
                        f"{pct(max(below_perm, 0))} of the way below the best constant output{held}), not by the "
                        f"margin that shows pairing: a model that memorises permuted labels too leaves too little "
                        f"to tell apart")
    return "apart", (f"in {steps} steps on {n} batches the true labels were learned no faster than permuted "
                     f"ones (loss fell {pct(learn_true)} vs {pct(learn_perm)} of the way to its floor on average; "
                     f"final {final_true:.3g} vs {final_perm:.3g}{held})")


def judged(p: Pairing | None, s: Settings) -> list[Verdict]:
    """The verdict on each pair of runs, in order (the last one stands)."""
    if p is None or p.skipped:
        return []
    return [verdict(true, perm, n, p.lr, s) for (true, perm), n in zip(p.judged, p.sizes)]


def pairing_metrics(p: Pairing | None, s: Settings) -> dict:
    """The pair_* metrics: each verdict's numbers over the previous one's."""
    out: dict = {}
    for v in judged(p, s):
        out.update(v.metrics)
    return out


# -- rules --------------------------------------------------------------------------------------
def pairing_skipped(m, task, s: Settings) -> Finding | None:
    """DLC710 (info): the control could not run (an obstacle found earlier, labels it cannot permute)."""
    if m.pairing is not None and m.pairing.skipped:
        return finding("DLC710", m.pairing.skipped)


def unpaired(m, task, s: Settings) -> Finding | None:
    """DLC709: the true labels were learned no faster than permuted ones, and nothing carried over."""
    found = judged(m.pairing, s)
    if found and found[-1].kind == "apart":
        return finding("DLC709", found[-1].message)


def pairing_inconclusive(m, task, s: Settings) -> Finding | None:
    """DLC710 (info): too little learned to tell, an init that dominates, a lead short of the margin, NaN."""
    found = judged(m.pairing, s)
    if found and found[-1].kind in ("weak", "unlearned", "nan"):
        return finding("DLC710", found[-1].message)


#: The pairing control's rules, in report order (after every other data-check finding).
PAIRING_RULES = (pairing_skipped, unpaired, pairing_inconclusive)
