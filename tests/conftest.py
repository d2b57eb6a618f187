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
    from zoo._data import standardised

    return standardised("digits")


os.environ.setdefault("COLUMNS", "160")  # rich wraps reports at the terminal width
