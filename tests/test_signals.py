"""Issue 24: SIGTERM (what CI sends on cancel) is handled as Ctrl-C is: the model handed back,
the interrupted check's artifacts removed, the checks that finished reported, exit 143; a second
signal exits 130/143 (never by the signal); an interrupted run never prints a pass verdict. The
Python API re-raises the caller's SystemExit / KeyboardInterrupt after handing the model back.

The CLI runs in a subprocess on tests/setups/h24_slow.py, whose forward touches a marker file
once init-loss has finished and then sleeps: the signal is sent once the marker exists."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import ROOT, SETUPS
from helpers import assert_same, snapshot


def start(tmp_path, *extra):
    ready = tmp_path / "ready"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "DLCHECK_TEST_READY": str(ready),
           "COLUMNS": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "dlcheck", "run", str(SETUPS / "h24_slow.py"), "--checks",
                             "init-loss,overfit-small", "--json", str(tmp_path / "r.json"),
                             "--out", str(tmp_path / "out"), *extra],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90  # a bounded wait for the marker, not a sleep as synchronisation
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), proc.communicate(timeout=30)
    return proc


def finished(tmp_path) -> list[str]:
    return [c["name"] for c in json.loads((tmp_path / "r.json").read_text())["checks"]]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_check_reports_what_finished(tmp_path, sig, code):
    proc = start(tmp_path)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "during overfit-small" in lines[0] and "(init-loss)" in lines[0], stderr
    assert ("by SIGTERM" in lines[0]) == (sig == signal.SIGTERM), lines[0]
    assert finished(tmp_path) == ["init-loss"]
    out = tmp_path / "out"
    assert not out.exists() or not any(p.name.startswith("overfit-small") for p in out.iterdir())
    assert "verdict: interrupted" in stdout and f"exit {code}" in stdout, stdout
    assert "verdict: pass" not in stdout, stdout
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_second_signal_exits_with_the_code_not_by_the_signal(tmp_path, sig, code):
    proc = start(tmp_path)
    proc.send_signal(sig)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stdout + stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "verdict: pass" not in stdout


def test_sigterm_while_importing_the_target(tmp_path):
    ready = tmp_path / "ready"
    target = tmp_path / "slow_import.py"
    target.write_text(f"import time\nopen({str(ready)!r}, 'w').close()\ntime.sleep(60)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dlcheck", "init-loss", str(target), "--json",
                             str(tmp_path / "r.json")], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stdout + stderr
    assert stderr.strip() == "dlcheck: interrupted by SIGTERM before any check ran; nothing was written"
    assert not (tmp_path / "r.json").exists()


# -- the Python API: the caller's own handlers ---------------------------------------------------
class SignallingLoss(nn.Module):
    """Sends ``sig`` to this process on its ``after``-th call: a signal arriving mid-check."""

    def __init__(self, sig, after: int = 3):
        super().__init__()
        self.sig, self.after, self.calls = sig, after, 0

    def forward(self, outputs, targets):
        self.calls += 1
        if self.calls == self.after:
            os.kill(os.getpid(), self.sig)
        return nn.functional.cross_entropy(outputs, targets)


@pytest.fixture
def parts(digits):
    X, y = digits
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    return model, DataLoader(TensorDataset(X, y), batch_size=64)


@pytest.mark.parametrize("check", ["overfit-small", "lr-find"])
def test_api_reraises_the_callers_system_exit(parts, check):
    model, loader = parts
    before = snapshot(model)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the caller's handler
    try:
        with pytest.raises(SystemExit) as caught:
            dlcheck.check(check, model=model, train_loader=loader, loss_fn=SignallingLoss(signal.SIGTERM))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert caught.value.code == 143
    assert_same(before, model)


def test_api_reraises_the_callers_keyboard_interrupt(parts):
    model, loader = parts
    before = snapshot(model)

    def handler(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            dlcheck.run(model=model, train_loader=loader, checks=["init-loss", "overfit-small"],
                        loss_fn=SignallingLoss(signal.SIGINT, after=6))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [c.name for c in caught.value.report.checks] == ["init-loss"]
    assert_same(before, model)
