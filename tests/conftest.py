"""Shared test fixtures. One torch thread: the CI machines have two cores and run noisy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"
SETUPS = Path(__file__).resolve().parent / "setups"


@pytest.fixture
def cli(monkeypatch):
    """Run the dlcheck CLI in-process: ``cli("init-loss", target, "--json", "-")`` -> Result
    with ``exit_code``, ``stdout`` and ``stderr`` kept apart."""
    from typer.testing import CliRunner

    from dlcheck.cli import app

    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def digits():
    """(X, y) of scikit-learn's digits as tensors: standardised per pixel, shuffled once."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    X, y = X[order], y[order]
    std = X.std(0)
    std[std < 1e-6] = 1.0
    return (X - X.mean(0)) / std, y


os.environ.setdefault("COLUMNS", "160")  # rich wraps reports at the terminal width
