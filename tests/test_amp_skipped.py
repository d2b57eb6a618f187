"""Steps a GradScaler skipped (inf/NaN fp16 gradients: no optimizer step) are left out of
lr-find's and overfit-small's curves and counted in the report. The scaler's path runs on the CPU
through ``forced_precision`` (fp16 autocast and GradScaler("cpu")); a huge ``init_scale`` makes
the scaler skip the first steps, as fp16 training on CUDA does with its default 65536 on a
larger model. Without a scaler nothing changes (``--amp`` on the CPU stays a no-op)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

import torch
from torch import nn

import dlcheck
from dlcheck.checks.lr_find import schedule
from dlcheck.checks.overfit_small.record import Record
from dlcheck.context import Context
from dlcheck.target import Target
from dlcheck.training import Precision, Trainer, forced_precision, kept_losses
from dlcheck.training.step import skipped_note

SETUP = str(Path(__file__).parent / "modern" / "pytest_digits_ok.py")  # a healthy digits MLP, Adam
SKIPS = dict(init_scale=2.0 ** 30)  # fp16 gradients overflow until the scale has halved ~12 times


def _run(seed: int, checks: list[str], **scaler):
    if not scaler:
        return {c.name: c for c in dlcheck.run(SETUP, device="cpu", seed=seed, checks=checks).checks}
    with forced_precision(torch.float16, **scaler):
        return {c.name: c for c in dlcheck.run(SETUP, device="cpu", seed=seed, checks=checks).checks}


def _codes(result) -> set[str]:
    return {f.code for f in result.findings}


def _trainer(amp: bool = False, precision: Precision | None = None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    data = [(torch.randn(16, 8), torch.randint(0, 3, (16,))) for _ in range(3)]
    ctx = Context("overfit-small", Target(model=lambda: model, train_loader=data), torch.device("cpu"), 0, {}, amp=amp)
    return Trainer(ctx, model, torch.optim.SGD(model.parameters(), lr=0.1), precision), data


def test_the_trainer_says_on_the_device_which_steps_the_scaler_skipped():
    trainer, data = _trainer(precision=Precision(torch.float16, dict(SKIPS)))
    flags, changed = [], []
    for i in range(20):
        before = [p.detach().clone() for p in trainer.model.parameters()]
        out = trainer.step(data[i % 3], i % 3, outputs=False)
        assert out.skipped.dtype == torch.bool and out.skipped.dim() == 0
        flags.append(bool(out.skipped))
        changed.append(any(not torch.equal(a, p) for a, p in zip(before, trainer.model.parameters())))
    k = flags.index(False)
    assert 5 <= k < 20 and all(flags[:k])
    assert changed == [not f for f in flags]  # skipped: the weights stayed; else they moved


def test_amp_on_the_cpu_stays_float32_without_a_scaler():
    trainer, data = _trainer(amp=True)
    assert trainer.autocast_dtype is None and trainer.scaler is None
    assert trainer.step(data[0], 0).skipped is None


def test_kept_losses_leaves_out_skipped_steps_but_keeps_a_non_finite_loss():
    losses = torch.tensor([2.0, 2.5, math.inf, 1.5, 1.25])
    skipped = [torch.tensor(v) for v in (True, True, True, False, False)]
    kept, mask = kept_losses(losses, skipped)
    assert kept.tolist() == [math.inf, 1.5, 1.25] and mask.tolist() == [True, True, True, False, False]
    same, none = kept_losses(losses, [None] * 5)
    assert same is losses and none is None


def test_the_record_judges_the_kept_steps_only():
    record = Record(2)
    for v, s in ((2.0, True), (2.0, True), (1.5, False), (1.0, False)):
        record.add(torch.tensor(v), None, torch.tensor(s))
    assert record.flush() == (True, None)
    assert record.curve() == [1.5, 1.0] and record.steps == 2 and record.first == 1.5 and record.skipped == 2
    record.add(torch.tensor(math.nan), None, torch.tensor(True))  # a forward that overflowed: kept
    assert record.flush() == (False, 2)
    assert record.skipped == 3 and record.as_run()[:4] == [2.0, 2.0, 1.5, 1.0]


def test_the_summary_line():
    assert skipped_note(None, 10) == skipped_note(0, 10) == ""
    assert "skipped 3 of 10 steps" in skipped_note(3, 10) and "left out of the curve" in skipped_note(3, 10)
    assert "skipped all 10 steps" in skipped_note(10, 10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_skipped_steps_leave_the_verdicts_of_float32(seed):
    plain = _run(seed, ["overfit-small", "lr-find"])
    amp = _run(seed, ["overfit-small", "lr-find"], **SKIPS)
    for name in ("overfit-small", "lr-find"):
        assert amp[name].status == plain[name].status == "pass", amp[name].summary
        assert _codes(amp[name]) == _codes(plain[name])
        assert "amp_skipped_steps" not in plain[name].metrics  # no scaler: no metric, no line
        assert "GradScaler" not in plain[name].summary
    fit = amp["overfit-small"]
    skipped = fit.metrics["amp_skipped_steps"]
    assert skipped >= 5 and f"the GradScaler skipped {skipped} of {fit.metrics['steps'] + skipped} steps" \
        in fit.summary
    rows = next(t.rows for t in fit.tables if t.file == "loss.csv")
    assert len(rows) == fit.metrics["steps"]  # the curve: the kept steps only
    assert fit.metrics["fit"] and plain["overfit-small"].metrics["fit"]
    sweep = amp["lr-find"]
    k = sweep.metrics["amp_skipped_steps"]
    assert k >= 5 and f"the GradScaler skipped {k} of" in sweep.summary
    run = int(re.search(rf"skipped {k} of (\d+) steps of the sweep", sweep.summary).group(1))
    lrs = [r["lr"] for r in next(t.rows for t in sweep.tables if t.file == "curve.csv")]
    grid = list(schedule(1e-7, 10.0, 100, False))
    places = [min(range(100), key=lambda i: abs(math.log(grid[i] / lr))) for lr in lrs]
    assert [grid[i] for i in places] == pytest.approx(lrs) and places == sorted(set(places))
    assert places[0] >= 5 and len(lrs) + k <= run  # the first steps' LRs (skipped) are not in the curve (nor,
    # once it diverged, the rest of the chunk it diverged in)
    ratio = sweep.metrics["suggested_lr"] / plain["lr-find"].metrics["suggested_lr"]
    assert 1 / 3 < ratio < 3


def test_a_scaler_that_never_stops_skipping_is_said_and_nothing_breaks():
    amp = _run(0, ["overfit-small", "lr-find"], init_scale=2.0 ** 60, backoff_factor=0.99)
    fit, sweep = amp["overfit-small"], amp["lr-find"]
    assert fit.status == "fail" and "DLC204" in _codes(fit)  # no parameter ever changed: true
    assert fit.metrics["amp_skipped_steps"] == fit.metrics["steps"] == 500
    assert "the GradScaler skipped all 500 steps" in fit.summary
    assert sweep.status != "error" and sweep.metrics["amp_skipped_steps"] == 100
    assert "skipped all 100 steps of the sweep" in sweep.summary


def test_a_scaler_that_skips_nothing_changes_no_curve():
    plain = _run(0, ["overfit-small"])["overfit-small"]
    amp = _run(0, ["overfit-small"], init_scale=1024.0)["overfit-small"]
    assert amp.metrics["amp_skipped_steps"] == 0 and "GradScaler" not in amp.summary
    assert amp.metrics["steps"] == plain.metrics["steps"] and amp.status == plain.status


class _Loud(nn.Module):
    """Logits scaled past fp16's 65504: under fp16 autocast the forward itself overflows."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(x) * 1e6


def test_a_forward_that_overflows_fp16_is_still_a_non_finite_loss(digits):
    X, y = digits
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X[:320], y[:320]), batch_size=64)
    with forced_precision(torch.float16):
        result = dlcheck.check("overfit-small", model=_Loud, train_loader=data)
    assert "DLC202" in _codes(result) and result.metrics["amp_skipped_steps"] >= 1  # skipped, and kept
