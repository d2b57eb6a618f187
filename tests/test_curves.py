"""curves (tuning steps 5-6) on real data: overfitting, underfitting, still improving, val at
chance, Ctrl-C, and the plots."""

from __future__ import annotations

import os

import torch

import dlcheck
from conftest import RECIPES, SETUPS

DIGITS = str(RECIPES / "digits_setup.py")


def _codes(result) -> list[str]:
    return [f.code for f in result.findings]


def _digits_setup():
    import importlib.util

    spec = importlib.util.spec_from_file_location("digits_for_curves", DIGITS)
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    return setup


def test_a_wide_mlp_on_100_samples_overfits():
    result = dlcheck.check("curves", str(SETUPS / "curves_overfit.py"), settings={"curves": {"epochs": 15}})
    assert "DLC952" in _codes(result), (result.summary, _codes(result))
    finding = next(f for f in result.findings if f.code == "DLC952")
    assert "epoch 3" in finding.message and "stop early at about epoch 3" in finding.advice
    assert result.metrics["overfit_epoch"] == 3
    assert result.status == "warn"


def test_a_one_unit_bottleneck_underfits():
    result = dlcheck.check("curves", str(SETUPS / "curves_bottleneck.py"))
    assert "DLC953" in _codes(result), (result.summary, _codes(result))
    assert "DLC952" not in _codes(result)


def test_a_healthy_run_stopped_early_is_still_improving():
    result = dlcheck.check("curves", str(SETUPS / "curves_early.py"), settings={"curves": {"epochs": 3}})
    assert _codes(result) == ["DLC951"], (result.summary, _codes(result))
    assert result.status == "pass"
    assert len(result.details["curves"]) == 4  # init + 3 epochs


def test_val_labels_unrelated_to_the_inputs_stay_at_chance():
    setup = _digits_setup()
    from torch.utils.data import DataLoader, TensorDataset

    shuffled = setup.Y_VAL[torch.randperm(len(setup.Y_VAL), generator=torch.Generator().manual_seed(1))]
    val = DataLoader(TensorDataset(setup.X_VAL, shuffled), batch_size=128)
    result = dlcheck.check("curves", DIGITS, val_loader=val, settings={"curves": {"epochs": 3}})
    assert result.status == "fail" and "DLC954" in _codes(result), (result.summary, _codes(result))


def test_every_k_steps_and_weight_decay():
    result = dlcheck.check("curves", DIGITS, settings={"curves": {"epochs": 1, "every": 5, "weight_decay": 1e-4}})
    steps = [p["step"] for p in result.details["curves"]]
    assert steps == [0, 5, 10, 15, 20, 22]
    assert result.metrics["weight_decay"] == 1e-4


def test_ctrl_c_reads_what_was_trained_so_far():
    setup = _digits_setup()

    read = [0]

    class Loader:
        """The digits loader; the user presses Ctrl-C after about 3 epochs' worth of batches."""

        def __len__(self):
            return 22

        def __iter__(self):
            for batch in setup.train_loader():
                read[0] += 1
                if read[0] == 10 + 3 * 22 + 5:  # (10 batches are read first for the train measurement)
                    raise KeyboardInterrupt
                yield batch

    result = dlcheck.check("curves", DIGITS, train_loader=Loader())
    assert "DLC957" in _codes(result), (result.summary, _codes(result))
    assert result.status != "error"
    assert [p["epoch"] for p in result.details["curves"]][-1] >= 2


def test_without_val_loader_a_clear_error():
    setup = _digits_setup()
    result = dlcheck.check("curves", model=setup.model, train_loader=setup.train_loader)
    assert result.status == "error" and "val_loader" in result.summary


def test_plot_and_csv_are_written(tmp_path):
    result = dlcheck.check("curves", str(SETUPS / "curves_early.py"), out=str(tmp_path),
                           settings={"curves": {"epochs": 2}})
    assert sorted(os.path.basename(p) for p in result.artifacts) == ["curves-curves.csv", "curves-curves.png"]
    assert (tmp_path / "curves-curves.png").stat().st_size > 1000
