"""curves reads the generalisation gap (DLC958) and the loss spikes (DLC959) on real runs: a wide
MLP on 100 digits samples ends with train ~0 and val far above it; its regularised twin on all the
data stays clean; a warm restart typed 50x too high spikes the training loss at the step it
restarts, and the same restart as meant does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dlcheck
from helpers import unhealthy

MODERN = Path(__file__).resolve().parent / "modern"


def _curves(name: str, epochs: int):
    return dlcheck.check("curves", str(MODERN / f"curves20_{name}.py"), device="cpu",
                         settings={"curves": {"epochs": epochs}})


def _codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_a_wide_mlp_on_100_digits_has_a_large_gap():
    result = _curves("overfit", 30)
    assert "DLC958" in _codes(result) or "DLC952" in _codes(result), (result.summary, _codes(result))
    assert result.status == "warn"
    gap = next(f for f in result.findings if f.code in ("DLC958", "DLC952"))
    if gap.code == "DLC958":
        assert "train accuracy 100.0%" in gap.message, gap.message
    assert result.metrics["final_val_loss"] > 10 * result.metrics["final_train_loss"]


def test_the_regularised_wide_mlp_on_all_the_data_stays_clean():
    result = _curves("regularised", 10)
    assert result.status == "pass" and not {"DLC952", "DLC958"} & set(_codes(result)), \
        (result.summary, [(f.code, f.message) for f in result.findings])


def test_a_warm_restart_50x_too_high_spikes_the_loss_at_its_step():
    result = _curves("spike", 7)
    assert "DLC959" in _codes(result), (result.summary, _codes(result))
    spike = next(f for f in result.findings if f.code == "DLC959")
    step = int(re.search(r"spiked at step (\d+)", spike.message).group(1))
    assert 121 <= step <= 123, spike.message  # the LR jumps in the update of step 120: the loss of 121 shows it
    assert result.metrics["loss_spikes"] == [step]
    assert result.status == "warn"


def test_the_restart_as_meant_has_no_spike():
    result = _curves("nospike", 7)
    assert "DLC959" not in _codes(result) and result.status == "pass", \
        (result.summary, [(f.code, f.message) for f in result.findings])
    assert result.metrics["loss_spikes"] == []


@pytest.mark.parametrize("name", ["regularised", "nospike"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_twins_pass_every_check_of_dlcheck_run(name, seed):
    rep = dlcheck.run(str(MODERN / f"curves20_{name}.py"), device="cpu", seed=seed)
    bad = unhealthy(rep)
    assert not bad, bad
