"""lr-find keeps its curve incrementally (lr_rules.Tracker: the EMA, the divergence scan and the LRs
extended chunk by chunk) and reads the valley by patience sorting. The numbers must be exactly
those of the straightforward whole-curve computation, kept here as the reference (the code the
package ran before): the same cut, the same Curve, the same suggestions, on real and synthetic
curves."""

from __future__ import annotations

import math
import random

import pytest
import torch
from torch import nn

from dlcheck import lr_rules
from dlcheck.checks.lr_find import schedule, suggestions
from dlcheck.lr_rules import Curve, noise_of

SETTINGS = dict(beta=0.9, factor=4.0, window=10, z=3.0, onset_share=0.02)


# -- the reference: the whole curve, recomputed from scratch ---------------------------------------
def ref_smooth(losses, beta):
    out, avg = [], 0.0
    for i, value in enumerate(losses):
        avg = beta * avg + (1 - beta) * value
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def ref_divergence_index(smoothed, factor, skip=0, floor=None, initial=None, margin=0.0, settle=0):
    best, settled = math.inf, math.inf
    for i, value in enumerate(smoothed):
        if not math.isfinite(value):
            return i
        if i >= skip:
            gap = best - floor if floor is not None and best > floor else abs(best)
            if value - best > (factor - 1) * gap:
                return i
        if initial is not None and i >= settle:
            if settled < initial - margin and value > initial:
                return i
            settled = min(settled, value)
        best = min(best, value)
    return None


def ref_valley(smoothed):
    n = len(smoothed)
    if n < 3:
        return None
    length = [1] * n
    end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and length[j] + 1 > length[i]:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end = i
    if length[end] < 3:
        return None
    start = end - length[end]
    third = (end - start) / 3
    return max(0, start + int(third) + int(third / 2))


def ref_measure(lrs, losses, *, beta, factor, window, floor, z, onset_share):
    smoothed = ref_smooth(losses, beta)
    window = max(2, min(window, len(losses) // 5))
    head = [v for v in losses[:window] if math.isfinite(v)] or [float("nan")]
    curve = Curve(lrs=list(lrs[:len(losses)]), losses=list(losses), smoothed=smoothed, usable=len(smoothed),
                  diverge_lr=None, window=window, initial=sum(head) / len(head),
                  noise=noise_of(losses[:window]), floor=floor, beta=beta)
    margin = max(curve.band(z), onset_share * curve.span)
    full = max(2, min(SETTINGS["window"], len(lrs) // 5))  # the window of the whole planned sweep
    known = curve.initial if window >= full else None  # back above init: judged once the loss at init is known
    stop = ref_divergence_index(smoothed, factor, skip=1, floor=floor, initial=known, margin=margin,
                                settle=window)
    if stop is not None:
        curve.usable, curve.diverge_lr = stop, lrs[stop]
    return curve


def ref_sweep(lrs, losses, floor, chunk=10):
    """The sweep's stop as it was: the whole curve re-measured after every chunk."""
    seen = []
    for start in range(0, len(losses), chunk):
        seen += losses[start:start + chunk]
        curve = ref_measure(lrs, seen, floor=floor, **SETTINGS)
        if curve.diverge_lr is not None:
            return seen[:curve.usable + 1]
    return seen


def new_sweep(lrs, losses, floor, chunk=10):
    tracker = lr_rules.Tracker(lrs, floor=floor, **SETTINGS)
    for start in range(0, len(losses), chunk):
        tracker.extend(losses[start:start + chunk])
        stop = tracker.stop()
        if stop is not None:
            return tracker.losses[:stop + 1]
    return tracker.losses


# -- curves -----------------------------------------------------------------------------------------
def synthetic(seed: int, n: int) -> tuple[list[float], float | None]:
    """An LR sweep's shape: flat at init, a fall, a valley, a blow-up; noise, NaNs, negative losses."""
    rng = random.Random(seed)
    kind = seed % 6
    start, noise = rng.uniform(0.5, 3.0), rng.uniform(0.0, 0.3)
    out = []
    for i in range(n):
        t = i / n
        fall = start * (1 - 0.8 / (1 + math.exp(-(t - 0.5) * 20)))
        rise = math.exp((t - 0.8) * 40) if kind != 1 else 0.0  # kind 1 never diverges
        value = fall + rise + rng.gauss(0, noise)
        if kind == 2:
            value -= 2.0  # a Gaussian NLL: below zero
        if kind == 3 and t > 0.85:
            value = float("nan")
        if kind == 4:
            value = (fall if t < 0.7 else start * 1.1) + rng.gauss(0, noise)  # falls, then dies back above init
        out.append(value)
    floor = None if kind in (2, 5) else (0.5 if kind == 4 else 0.0)
    return out, floor


def real_curves() -> list[tuple[str, list[float]]]:
    """Raw losses of real LR sweeps (1e-7 -> 10, exponential): scikit-learn's digits with an MLP
    (Adam, and SGD with momentum), and breast cancer with plain SGD."""
    from sklearn.datasets import load_breast_cancer, load_digits

    out = []
    for name, (X, y), opt in [("digits Adam", load_digits(return_X_y=True), "adam"),
                              ("digits SGD", load_digits(return_X_y=True), "sgd"),
                              ("breast cancer SGD", load_breast_cancer(return_X_y=True), "plain")]:
        X = torch.tensor(X, dtype=torch.float32)
        X = (X - X.mean(0)) / (X.std(0) + 1e-6)
        y = torch.tensor(y)
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(X.shape[1], 64), nn.ReLU(), nn.Linear(64, int(y.max()) + 1))
        lrs = schedule(1e-7, 10.0, 300, False)
        optim = {"adam": lambda p: torch.optim.Adam(p, lr=1e-7),
                 "sgd": lambda p: torch.optim.SGD(p, lr=1e-7, momentum=0.9),
                 "plain": lambda p: torch.optim.SGD(p, lr=1e-7)}[opt](model.parameters())
        losses = []
        g = torch.Generator().manual_seed(0)
        for i in range(len(lrs)):
            idx = torch.randint(0, len(X), (64,), generator=g)
            for group in optim.param_groups:
                group["lr"] = lrs[i]
            loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
            losses.append(loss.item())
        out.append((name, losses))
    return out


REAL = real_curves()
CURVES = [(f"synthetic {seed}", *synthetic(seed, n)) for seed in range(18) for n in (40, 137, 400)] + \
         [(name, losses, 0.0) for name, losses in REAL] + [(f"{name}, no floor", losses, None) for name, losses in REAL]


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def assert_same_curve(new: Curve, ref: Curve) -> None:
    assert new.usable == ref.usable and new.diverge_lr == ref.diverge_lr and new.window == ref.window
    assert same(new.initial, ref.initial) and same(new.noise, ref.noise)
    assert new.lrs == ref.lrs
    assert all(same(a, b) for a, b in zip(new.smoothed, ref.smoothed)) and len(new.smoothed) == len(ref.smoothed)
    assert all(same(a, b) for a, b in zip(new.losses, ref.losses))


@pytest.mark.parametrize("name,losses,floor", CURVES, ids=[c[0] for c in CURVES])
def test_the_incremental_sweep_stops_where_the_whole_curve_did(name, losses, floor):
    lrs = schedule(1e-7, 10.0, len(losses), False)
    for chunk in (1, 10, 7):
        new, ref = new_sweep(lrs, losses, floor, chunk), ref_sweep(lrs, losses, floor, chunk)
        assert len(new) == len(ref) and all(same(a, b) for a, b in zip(new, ref))


@pytest.mark.parametrize("name,losses,floor", CURVES, ids=[c[0] for c in CURVES])
def test_the_curve_and_suggestions_are_the_same_numbers(name, losses, floor):
    lrs = schedule(1e-7, 10.0, len(losses), False)
    kept = new_sweep(lrs, losses, floor)
    new, ref = lr_rules.measure(lrs, kept, floor=floor, **SETTINGS), ref_measure(lrs, kept, floor=floor, **SETTINGS)
    assert_same_curve(new, ref)
    # the Tracker fed chunk by chunk ends on the same Curve as the whole-curve measure
    tracker = lr_rules.Tracker(lrs, floor=floor, **SETTINGS)
    for start in range(0, len(kept), 10):
        tracker.extend(kept[start:start + 10])
        tracker.stop()
    assert_same_curve(tracker.curve(), ref)
    cut_l, cut_s = ref.lrs[:ref.usable], ref.smoothed[:ref.usable]
    assert lr_rules.valley(cut_s) == ref_valley(cut_s)
    got = suggestions(cut_l, cut_s)
    want = {}
    i = lr_rules.steepest(cut_l, cut_s)
    if i is not None:
        want["steepest"] = cut_l[i]
    if ref_valley(cut_s) is not None:
        want["valley"] = cut_l[ref_valley(cut_s)]
    if lr_rules.minimum_over_ten(cut_l, cut_s) is not None:
        want["minimum/10"] = lr_rules.minimum_over_ten(cut_l, cut_s)
    assert got == want


def test_valley_matches_the_quadratic_rule_on_random_sequences():
    rng = random.Random(0)
    for trial in range(400):
        n = rng.randrange(0, 60)
        values = [rng.choice([rng.random(), float(rng.randrange(5)), math.inf, -math.inf, math.nan])
                  if trial % 4 == 0 else rng.random() for _ in range(n)]
        assert lr_rules.valley(values) == ref_valley(values), values


def test_the_divergence_scan_matches_point_by_point():
    for name, losses, floor in CURVES:
        smoothed = ref_smooth(losses, 0.9)
        for kw in ({}, {"skip": 1, "floor": floor, "initial": smoothed[0], "margin": 0.05, "settle": 10}):
            assert lr_rules.divergence_index(smoothed, 4.0, **kw) == ref_divergence_index(smoothed, 4.0, **kw)


#: the first chunk of timm's tiny ViT's sweep on digits (seed 2, lr 1e-7 .. 3e-7): batch noise around ln(10),
#: one low batch (2.23) among the first steps
VIT_FIRST_CHUNK = [2.3801, 2.3627, 2.2334, 2.3673, 2.4676, 2.515, 2.4027, 2.3306, 2.3743, 2.4523]


@pytest.mark.parametrize("grown", [False, True])
def test_batch_noise_in_the_first_chunk_is_not_a_climb_back_above_init(grown):
    """With 10 of 100 planned steps in, the loss at init is known from 2 of them only: one low batch
    and the next high ones read as a fall below init and a climb back (it "diverged at lr 2.5e-7").
    The climb back is judged once the sweep's full noise window is in, also where the LRs kept grow
    with the steps (under a GradScaler)."""
    lrs = schedule(1e-7, 10.0, 100, False)
    kept = lrs[:10] if grown else lrs
    tracker = lr_rules.Tracker(list(kept), floor=0.0, planned=100, **SETTINGS)
    tracker.extend(VIT_FIRST_CHUNK)
    assert tracker.stop() is None
    # the same losses once the window is full (50 points: 5 x 10) and the loss at init well known: still no
    # divergence; a real climb back above init after a fall is still found
    rest = [2.30] * 40
    tracker.extend(rest)
    assert tracker.stop() is None
    falls_and_dies = [1.2] * 20 + [3.0] * 20
    tracker.extend(falls_and_dies)
    assert tracker.stop() is not None and tracker.stop() >= 60
