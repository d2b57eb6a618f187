"""dlcheck tried as a new user would on two set-ups it was not written for.

A. Time-series forecasting (tests/modern/tryfc_*.py): an LSTM reads 48 past steps of a 3-channel
synthetic series (noisy sines of different periods plus a slow trend, fixed seed, built in
_tryfc_data.py) and predicts the next 8 steps of every channel (MSE); windows cut with stride 2,
validation windows later in time than every training window. A plain Adam loop beats the naive
"last value" forecast on the held-out windows (val MSE 0.47 against 1.08 after 8 epochs).
Planted bug (tryfc_bug_target_in_window): the input window sliced 8 steps too late, so it ends
with the very values to predict.

B. Knowledge distillation on scikit-learn's digits (tests/modern/trykd_*.py): a teacher MLP
trained at import (300 Adam steps, frozen: eval, requires_grad False), a small student trained on
alpha * KL(teacher_T || student_T) * T^2 + (1 - alpha) * CE, T = 4, alpha = 0.7, as a
training_step (trykd_digits) and as forward + loss_fn with a dict target (trykd_forward).
Planted bug (trykd_bug_student_only_T): the temperature applied to the student only.

By hand (`dlcheck run <file> --device cpu --seed S`, S in 0-2, ~10 s a run for KD, ~20-30 s for the
forecaster): trykd_digits and trykd_forward pass every check (infos only). tryfc_lstm passes every
check but overfit-small, which warns DLC209 on every seed, truly: its 5 batches are still being
memorised at the 500-step budget (0.037-0.040 against the 0.0101 it calls memorised; a plain loop on
the same 320 windows at the same lr: 0.039 after 500 steps, 0.026 after 1000, 0.014 after 2000).

Found by these trials and mended in dlcheck:
- nothing caught the off-by-H window (every check passed; overfit-small warned DLC209 as on the
  healthy twin). data-check now looks for each sample's target verbatim inside its own inputs
  (copies.py, DLC716) and warns: "the target equals the last 8 of the 48 positions along axis 1 of
  inputs". Over every set-up in tests/modern and recipes it says so of this one alone.
- `dlcheck overfit-small tryfc_lstm.py` alone failed DLC205 "stalled at 0.0369" on the healthy
  forecaster (in `run` it warned DLC209): a transient bump in the last 25% of the run (4% fall at
  t = -1.8) hid a fall of 39% over the last 50% (t = -15). Such a window is read again over twice
  its width (trend_window_wide) before a stall is called.
- init-loss on trykd_forward (task = 'classification', a dict target) advised to set task =
  'classification' in the target, which it was (DLC108); now it says the task was set and nothing
  needs changing.

Not caught: the distillation bug (temperature on the student only). Every check passes; the
student still learns (held-out accuracy 0.97, as the healthy one's) and the loss has no reference
dlcheck could hold its value to: init-loss reports 26.4 against 14.9 without a verdict.

Mended after the trial: a series kept in its own units (a percentage, 20..77) failed DLC701 "raw
0-255 pixel values"; a 3-axis float batch is now raw pixels only on a grid of at most 256 values,
so it warns DLC702 (tests/test_data_check.py). Left open: data-check still reads a (batch, time,
features) series per axis-1 "channel" (48 time steps), as it reads images.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch.nn import functional as F

import dlcheck
from dlcheck.checks.data_check import SETTINGS, copies
from dlcheck.checks.data_check.measure import Measured
from helpers import assert_passes_or_warns, assert_run_passes, check, load_setup, loud, modern


def _data_check(setup: str):
    return check("data-check", setup)


def test_the_window_that_ends_with_its_target_is_found_by_data_check():
    result = _data_check("tryfc_bug_target_in_window")
    assert result.status == "warn" and [f[0] for f in loud(result)] == ["DLC716"], (result.summary, loud(result))
    assert "the last 8 of the 48 positions along axis 1 of inputs" in loud(result)[0][2]


def test_the_healthy_forecaster_passes_data_check():
    assert_passes_or_warns(_data_check("tryfc_lstm"), None)


def test_the_healthy_forecaster_passes_the_cheap_checks():
    for name in ("init-loss", "lr-find", "init-stats", "batch-independence", "optimizer"):
        assert_passes_or_warns(check(name, "tryfc_lstm"), None)


def test_the_forecaster_memorises_slowly_and_overfit_small_says_it_is_still_falling():
    result = check("overfit-small", "tryfc_lstm")
    assert_passes_or_warns(result, ("DLC209", "the loss is still falling"))


@functools.lru_cache(maxsize=None)
def _forecast(setup: str, epochs: int = 6) -> tuple[float, float]:
    """(model, naive last-value) val MSE after a plain Adam loop on the set-up's windows."""
    module = load_setup(modern(setup))
    torch.manual_seed(0)
    model = module.model()
    opt = torch.optim.Adam(model.parameters(), module.lr)
    for _ in range(epochs):
        for x, y in module.train_loader:
            loss = F.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    x, y = module.val_loader.dataset.tensors
    with torch.no_grad():
        return float(F.mse_loss(model(x), y)), float(F.mse_loss(x[:, -1:].expand_as(y), y))


def test_the_forecaster_beats_the_last_value_on_later_windows():
    mse, naive = _forecast("tryfc_lstm")
    assert mse < 0.6 * naive, (mse, naive)


def test_the_target_in_the_window_makes_the_held_out_loss_too_good():
    """What the bug does: the model copies the answer (val MSE far below the honest model's)."""
    assert _forecast("tryfc_bug_target_in_window")[0] < 0.3 * _forecast("tryfc_lstm")[0]


@functools.lru_cache(maxsize=None)
def _kd_data():
    """tests/modern/_trykd_data.py: the digits split and the frozen teacher, loaded once."""
    return load_setup(modern("_trykd_data"))


def _copies(x: torch.Tensor, y: torch.Tensor) -> list:
    m = Measured()
    for start in range(0, len(x), 64):
        copies.add(m, x[start:start + 64], y[start:start + 64])
    return [(f.code, f.message) for f in dlcheck.rules.judge((copies.target_in_inputs,), m, None, SETTINGS)]


def test_a_label_column_left_among_the_features_is_found():
    x, y = _kd_data().X_TRAIN, _kd_data().Y_TRAIN
    found = _copies(torch.cat([x[:, :20], y[:, None].float(), x[:, 20:]], 1), y)
    assert [c for c, _ in found] == ["DLC716"] and "feature 20 of inputs" in found[0][1], found
    assert _copies(x, y) == []


def test_an_autoencoder_and_a_shifted_sequence_are_no_copies():
    x = _kd_data().X_TRAIN
    assert _copies(x, x) == []  # the target is the whole input: reconstruction, by design
    series = load_setup(modern("_tryfc_data")).series()[:, 0]
    rows = series.unfold(0, 33, 4)  # next-step prediction: the targets are the inputs shifted by one
    assert _copies(rows[:, :-1], rows[:, 1:]) == []


def test_the_student_learns_from_the_frozen_teacher():
    module = load_setup(modern("trykd_digits"))
    teacher = _kd_data().TEACHER
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    torch.manual_seed(0)
    student = module.model()
    opt = torch.optim.Adam(student.parameters(), module.lr)
    for _ in range(5):
        for batch in module.train_loader:
            loss = module.training_step(student, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    x, y = module.val_loader.dataset.tensors
    with torch.no_grad():
        accuracy = float((student(x).argmax(1) == y).float().mean())
    assert accuracy > 0.9, accuracy


@pytest.mark.parametrize("setup", ["trykd_digits", "trykd_forward"])
def test_the_distillation_passes_every_check(setup):
    assert_run_passes(setup)


def test_init_loss_does_not_ask_to_set_the_task_the_target_already_set():
    """trykd_forward sets task = 'classification'; its dict target {"labels", "teacher"} leaves no
    reference for the KD loss. init-loss said so, then advised 'Set task = 'classification' ... in
    the target', which it was."""
    result = check("init-loss", "trykd_forward")
    [said] = result.findings
    assert said.code == "DLC108" and "task 'classification' was set" in said.message, said
    assert "nothing to change" in said.advice and "Set task" not in said.advice, said.advice
