"""Hardening (issue 12): every bad number, bad path, misbehaving piece of user code and Ctrl-C ends
in one sentence on stderr naming the setting, file or batch, exit 2 (130 for Ctrl-C), no
traceback, and no report or artifact half-written. Each case runs the real CLI in a subprocess
(`python -m dlcheck`); cases that fail before torch is imported cost a fraction of a second."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

BASE = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
g = torch.Generator().manual_seed(0)
X = torch.randn(64, 8, generator=g)
Y = torch.randint(0, 3, (64,), generator=g)
model = lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
train_loader = lambda: DataLoader(TensorDataset(X, Y), batch_size=16)
'''

SETUPS = {
    "base.py": BASE,
    "bad_loader.py": '''from base import *
def train_loader():
    for i, batch in enumerate(DataLoader(TensorDataset(X, Y), batch_size=16)):
        if i == 3:
            raise ValueError("corrupt record")
        yield batch
''',
    "generator.py": "from base import *\ntrain_loader = (b for b in DataLoader(TensorDataset(X, Y), batch_size=16))\n",
    "float_loss.py": "from base import *\nloss_fn = lambda out, y: float(nn.functional.cross_entropy(out, y))\n",
    "forward_raises.py": '''from base import *
class Broken(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")
model = Broken
''',
    "rank1.py": "from base import *\nmodel = lambda: nn.Sequential(nn.Linear(8, 1), nn.Flatten(0))\n",
    "rank3.py": '''from base import *
model = lambda: nn.Sequential(nn.Linear(8, 12), nn.Unflatten(1, (4, 3)))
train_loader = lambda: DataLoader(TensorDataset(X, Y[:, None].repeat(1, 4)), batch_size=16)
''',
    # forward calls: 1 in the pre-flight, 4 in init-loss, then overfit-small
    "exits.py": '''from base import *
import sys
calls = [0]
def forward(model, batch):
    calls[0] += 1
    if calls[0] > 1:
        sys.exit(7)
    return model(batch[0]), batch[1]
''',
    "interrupts.py": '''from base import *
calls = [0]
def forward(model, batch):
    calls[0] += 1
    if calls[0] > 8:
        raise KeyboardInterrupt
    return model(batch[0]), batch[1]
''',
    "interrupt_on_import.py": "raise KeyboardInterrupt\n",
    "waits.py": '''from base import *
import os, time
calls = [0]
def forward(model, batch):
    calls[0] += 1
    if calls[0] > 8:
        open(os.environ["DLCHECK_TEST_READY"], "w").close()
        time.sleep(60)
    return model(batch[0]), batch[1]
''',
    "draws.py": "from base import *\nimport random\nimport numpy\ntorch.rand(3); numpy.random.rand(3); random.random()\n",
}

# a billion-laughs recipe: `seed` is a list whose last item holds 9**7 strings (shared by
# reference, so small in memory; its repr alone would be hundreds of megabytes)
ALIASES = "target: base.py\nseed:\n  - &a [" + ", ".join(['"lol"'] * 9) + "]\n" + "".join(
    f"  - &{b} [" + ", ".join([f"*{a}"] * 9) + "]\n" for a, b in zip("abcdef", "bcdefg"))


@pytest.fixture(scope="module")
def setups(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("setups")
    for name, text in SETUPS.items():
        (folder / name).write_text(text)
    (folder / "a_folder").mkdir()
    (folder / "seed_nan.yaml").write_text("target: base.py\nseed: .nan\n")
    (folder / "seed_fraction.yaml").write_text("target: base.py\nseed: 1.9\n")
    (folder / "aliases.yaml").write_text(ALIASES)
    return folder


def dlcheck(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "dlcheck", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=environment, timeout=120)


def assert_one_line(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """Exit ``code``, exactly one non-blank line on stderr holding every needle, no traceback."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output and "Exception ignored" not in output, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# -- bad numbers and recipes: all judged before torch is imported --------------------------------
FAST = {
    "seed beyond 64 bits": (["init-loss", "base.py", "--seed", "18446744073709551616"],
                            ["--seed", "18446744073709551616", "integer"]),
    "recipe seed NaN": (["init-loss", "seed_nan.yaml"], ["seed_nan.yaml", "'seed'", "nan"]),
    "recipe seed 1.9": (["init-loss", "seed_fraction.yaml"], ["seed_fraction.yaml", "'seed'", "1.9"]),
    "negative budget": (["init-loss", "base.py", "--budget", "-1"], ["--budget", "above 0", "-1"]),
    "NaN budget": (["init-loss", "base.py", "--budget", "nan"], ["--budget", "nan"]),
    "NaN lr": (["overfit-small", "base.py", "--lr", "nan"], ["--lr", "nan"]),
    "negative lr": (["overfit-small", "base.py", "--lr", "-0.1"], ["--lr", "above 0", "-0.1"]),
    "report under /proc": (["init-loss", "base.py", "--json", "r.json", "--junit", "/proc/x.xml"],
                           ["--junit /proc/x.xml", "cannot be written"]),
    "yaml aliases": (["init-loss", "aliases.yaml"], ["aliases.yaml", "'seed'", "must be"]),
}


@pytest.mark.parametrize("case", list(FAST))
def test_bad_numbers_paths_and_recipes(case, setups):
    args, needles = FAST[case]
    start = time.perf_counter()
    proc = dlcheck(*args, cwd=setups)
    line = assert_one_line(proc, 2, *needles)
    assert len(line) < 400 and time.perf_counter() - start < 30
    assert not (setups / "r.json").exists()  # nothing written: the JUnit path failed up front


# -- settings of a check, the target's parts, user code that raises --------------------------------
SLOW = {
    "--batches 0": (["init-loss", "base.py", "--batches", "0"], ["--batches", "at least 1", "0"]),
    "--batches -2": (["init-loss", "base.py", "--batches", "-2"], ["--batches", "at least 1", "-2"]),
    "a folder as target": (["init-loss", "a_folder"], ["a_folder", "is a folder"]),
    "a generator as loader": (["init-loss", "generator.py"], ["'train_loader' in", "generator.py",
                                                            "generator", "lambda"]),
    "loader raising at batch 3": (["init-loss", "bad_loader.py", "--json", "r.json"],
                                  ["'train_loader' in", "bad_loader.py", "ValueError: corrupt record", "batch 3"]),
    "loss returning a float": (["init-loss", "float_loss.py"], ["'loss_fn' in", "float_loss.py", "returned a float"]),
    "forward raising": (["init-loss", "forward_raises.py"], ["forward of 'model' in", "forward_raises.py",
                                                            "RuntimeError: boom", "batch 0"]),
    "outputs of rank 1": (["init-loss", "rank1.py"], ["CrossEntropyLoss", "(16,)", "no class axis"]),
    "outputs of rank 3": (["init-loss", "rank3.py"], ["CrossEntropyLoss", "(16, 4, 3)", "axis 1"]),
    "sys.exit in forward": (["run", "exits.py", "--checks", "init-loss,overfit-small", "--json", "r.json"],
                            ["init-loss", "sys.exit(7)", "forward", "exits.py", "not run: overfit-small"]),
}


@pytest.mark.parametrize("case", list(SLOW))
def test_user_code_and_settings(case, setups, tmp_path):
    args, needles = SLOW[case]
    args = [str(tmp_path / a) if a == "r.json" else a for a in args]
    assert_one_line(dlcheck(*args, cwd=setups), 2, *needles)
    report = tmp_path / "r.json"
    if "r.json" in " ".join(args):  # an error found while checks ran: the report is whole, and says so
        data = json.loads(report.read_text())
        assert data["status"] == "error" and [c["name"] for c in data["checks"]] == ["init-loss"]
    assert [p.name for p in tmp_path.iterdir() if p.name != "r.json"] == []  # no temporary files left


def test_interrupt_in_user_code_reports_what_finished(setups, tmp_path):
    report, out = tmp_path / "r.json", tmp_path / "out"
    proc = dlcheck("run", "interrupts.py", "--checks", "init-loss,overfit-small", "--json", report,
                   "--out", out, cwd=setups)
    line = assert_one_line(proc, 130, "interrupted during overfit-small", "(init-loss)")
    assert "restored" not in line
    data = json.loads(report.read_text())
    assert [c["name"] for c in data["checks"]] == ["init-loss"]
    assert not out.exists() or not any(p.name.startswith("overfit-small") for p in out.iterdir())


def test_interrupt_while_importing_the_target(setups):
    line = assert_one_line(dlcheck("init-loss", "interrupt_on_import.py", cwd=setups), 130, "interrupted")
    assert "restored" not in line


def test_real_ctrl_c_twice_exits_quietly(setups, tmp_path):
    ready = tmp_path / "ready"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "DLCHECK_TEST_READY": str(ready)}
    proc = subprocess.Popen([sys.executable, "-m", "dlcheck", "run", "waits.py", "--checks",
                             "init-loss,overfit-small", "--json", str(tmp_path / "r.json")],
                            cwd=setups, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    # 130, or killed by the second SIGINT once Python's shutdown has put the default handler back
    # (a shell shows that as 130 too): either way quiet
    assert proc.returncode in (130, -signal.SIGINT), stdout + stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert [c["name"] for c in json.loads((tmp_path / "r.json").read_text())["checks"]] == ["init-loss"]


# -- what goes right: scientific notation, a huge step count, file modes, symlinks -------------------
def test_scientific_notation_huge_steps_modes_and_symlinks(setups, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"target: {setups / 'base.py'}\nlr: 1e-3\nbudget: 2e0\n"
                      "lr-find:\n  start_lr: 1e-6\n  end_lr: 1E-2\n  steps: 1e9\n  auto_probe: false\n")
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    existing = tmp_path / "junit.xml"
    existing.write_text("old")
    existing.chmod(0o664)
    fresh = tmp_path / "summary.md"
    proc = dlcheck("lr-find", recipe, "--json", link, "--junit", existing, "--markdown", fresh, "-q", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "MemoryError" not in proc.stderr and "Traceback" not in proc.stderr
    assert link.is_symlink() and json.loads(real.read_text())["checks"][0]["name"] == "lr-find"
    assert existing.stat().st_mode & 0o777 == 0o664
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


def test_recipes_read_scientific_notation_everywhere(tmp_path):
    from dlcheck import config

    recipe = tmp_path / "r.yaml"
    recipe.write_text("lr: 1e-3\nseed: 1e3\nlr-find:\n  start_lr: 1e-6\n  steps: 2e2\n  probe_lrs: [1e-1, '1e-2']\n")
    settings = config.validate(config.load_recipe(str(recipe)))
    assert settings.lr == 1e-3 and settings.seed == 1000
    merged = config.check_settings_for(settings, "lr-find", {"start_lr": 1e-7, "steps": 100, "probe_lrs": [0.1]})
    assert merged == {"start_lr": 1e-6, "steps": 200, "probe_lrs": [0.1, 0.01]}


def test_the_api_restores_the_callers_rng_when_it_imports_a_target(setups):
    import random

    import numpy
    import torch

    import dlcheck

    torch.manual_seed(5)
    numpy.random.seed(5)
    random.seed(5)
    before = (torch.get_rng_state(), numpy.random.get_state()[1].copy(), random.getstate())
    result = dlcheck.check("init-loss", str(setups / "draws.py"), device="cpu")
    assert result.status in ("pass", "warn", "fail")
    assert torch.equal(before[0], torch.get_rng_state())
    assert (before[1] == numpy.random.get_state()[1]).all() and before[2] == random.getstate()
