"""preflight on set-ups written the way practitioners write them (tests/modern/preflight_*, the zoo's
fp16 bug): a loader that cannot keep up is flagged with the num_workers that fixes it, an in-memory
one is not; a model past float16's range is named and bfloat16 holds; healthy models pass."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch

import dlcheck

TESTS = Path(__file__).resolve().parent
MODERN = TESTS / "modern"
sys.path.insert(0, str(MODERN))

from _preflight_data import SlowDigits, loader, tensor_loader  # noqa: E402
from helpers import unhealthy

LOADER = {"preflight": {"parts": "loader"}}
PRECISION = {"preflight": {"parts": "precision"}}


def codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_a_slow_dataset_is_loader_bound_and_the_named_num_workers_removes_it():
    result = dlcheck.check("preflight", str(MODERN / "preflight_bug_slow_loader.py"), device="cpu", settings=LOADER)
    assert "DLC981" in codes(result), result.summary
    found = next(f for f in result.findings if f.code == "DLC981")
    workers = result.details["loader"][0]["best_workers"]
    assert workers >= 2 and f"num_workers={workers}" in found.advice
    assert result.details["loader"][0]["idle"] > 0.5
    assert [row["workers"] for row in result.details["loader_sweep"]][:2] == [0, 2]
    for attempt in range(3):  # timed: worker processes on a busy 2-core machine may be starved for a moment
        fixed = dlcheck.check("preflight", str(MODERN / "preflight_bug_slow_loader.py"), device="cpu",
                              settings=LOADER, train_loader=loader(SlowDigits(), batch_size=16, num_workers=workers))
        if "DLC981" not in codes(fixed):
            break
    assert "DLC981" not in codes(fixed), fixed.summary
    assert fixed.status == "pass" and fixed.details["loader"][0]["idle"] < 0.5


def test_an_in_memory_dataset_keeps_up():
    result = dlcheck.check("preflight", str(MODERN / "preflight_digits_cnn.py"), device="cpu", settings=LOADER)
    assert result.status == "pass" and not result.findings, result.summary
    assert "loader_sweep" not in result.details  # no sweep when the loader keeps up
    row = result.details["loader"][0]
    assert row["idle"] < 0.5 and row["samples_per_s"] > 0 and row["in_memory_samples_per_s"] > 0


def test_an_iterable_without_a_dataset_is_not_swept_and_says_so():
    X, y = next(iter(tensor_loader(batch_size=64)))

    def slow_batches():
        for _ in range(16):
            time.sleep(0.05)
            yield X, y

    result = dlcheck.check("preflight", str(MODERN / "preflight_digits_cnn.py"), device="cpu", settings=LOADER,
                           train_loader=slow_batches)
    found = next(f for f in result.findings if f.code == "DLC981")
    assert "not a DataLoader" in found.message


def test_the_sweep_leaves_the_users_loader_as_found():
    states = []
    for always in (False, True):  # the sweep reads many more batches: the generator is put back all the same
        user = tensor_loader()
        dlcheck.check("preflight", str(MODERN / "preflight_digits_cnn.py"), device="cpu", train_loader=user,
                      settings={"preflight": {"parts": "loader", "loader_sweep_always": always,
                                              "loader_max_workers": 2}})
        states.append(user.generator.get_state())
        assert user.num_workers == 0 and not user.pin_memory
    assert torch.equal(*states)


def test_activations_past_65504_are_named_for_fp16_and_bf16_holds():
    result = dlcheck.check("preflight", str(TESTS / "zoo" / "bug_fp16_overflow.py"), device="cpu",
                           settings=PRECISION)
    found = {f.code: f for f in result.findings}
    assert set(found) == {"DLC982"}, result.summary
    assert "first 'scale'" in found["DLC982"].message and "bfloat16 holds" in found["DLC982"].message
    runs = {r["dtype"]: r for r in result.details["autocast"]}
    assert runs["float16"]["first_nonfinite"] == "scale" and runs["bfloat16"]["first_nonfinite"] == "-"
    assert result.metrics["amp_bfloat16_loss_gap"] < 0.02
    rows = {r["module"]: r for r in result.details["precision"]}
    assert rows["scale"]["fp16"] == "overflow" and rows["body.0"]["fp16"] == "ok"


@pytest.mark.parametrize("setup", ["preflight_digits_cnn", "preflight_transformer", "preflight_cosine"])
def test_healthy_models_pass(setup):
    result = dlcheck.check("preflight", str(MODERN / f"{setup}.py"), device="cpu")
    assert result.status == "pass" and not result.findings, (result.summary, [f.message for f in result.findings])
    assert result.metrics["precision_fp16_overflow_modules"] == 0
    assert result.metrics["amp_float16_loss_gap"] < 0.02 and result.metrics["amp_bfloat16_loss_gap"] < 0.02


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_twin_of_the_fp16_bug_passes_every_check(seed):
    report = dlcheck.run(str(MODERN / "preflight_cosine.py"), device="cpu", seed=seed)
    bad = unhealthy(report)
    assert not bad, bad
    assert "preflight" in [c.name for c in report.checks]
