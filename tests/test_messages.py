"""Issue 24, item 7: the unclear first lines made clear. Each bad input ends in one sentence on
stderr naming what is wrong and where, exit 2, no traceback, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SETUPS

MARKER = SETUPS / "h24_msg_marker.py"  # healthy; writes $DLC_MARKER when imported


def dlcheck(*args, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "COLUMNS": "200", **(env or {})}
    return subprocess.run([sys.executable, "-m", "dlcheck", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def one_line(proc, *needles: str) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output and "Usage:" not in output, output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("args, needles", [
    (["init-loss", "--seed", "abc"], ["--seed must be an integer", "'abc'"]),
    (["run", "--budget", "soon"], ["--budget must be a finite number", "'soon'"]),
    (["overfit-small", "--lr", "fast"], ["--lr must be a finite number above 0"]),
    (["overfit-small", "--batches", "two"], ["--batches must be an integer of at least 1", "'two'"]),
    (["overfit-small", "--batches", "0"], ["--batches must be an integer of at least 1, not 0"]),
    (["lr-find", "--steps", "0"], ["--steps must be an integer of at least 1"]),
    (["run", "--nproc", "x"], ["--nproc must be an integer of at least 1"]),
])
def test_numbers_are_judged_before_the_target_is_imported(tmp_path, args, needles):
    marker = tmp_path / "imported"
    proc = dlcheck(*args, MARKER, cwd=tmp_path, env={"DLC_MARKER": str(marker)})
    one_line(proc, *needles)
    assert not marker.exists(), "the target was imported before its numbers were judged"


def test_help_still_names_the_kind_of_number(tmp_path):
    out = dlcheck("overfit-small", "--help", cwd=tmp_path).stdout
    for option, kind in (("--seed", "<int>"), ("--batches", "<int>"), ("--budget", "<float>"), ("--lr", "<float>")):
        line = next(line for line in out.splitlines() if option + " " in line)
        assert kind in line, line


def test_a_recipe_key_given_twice_is_refused_with_both_lines(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"target: {MARKER}\nseed: 1\ndevice: cpu\nseed: 2\n")
    one_line(dlcheck("init-loss", "-c", recipe, cwd=tmp_path), "key 'seed' is given twice", "line 2 and line 4")
    recipe.write_text(f"target: {MARKER}\noverfit-small:\n  batches: 2\n  steps: 5\n  batches: 3\n")
    one_line(dlcheck("overfit-small", "-c", recipe, cwd=tmp_path), "key 'batches'", "line 3 and line 5")


def test_a_nul_byte_in_a_recipe_is_placed_by_line_and_column(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_bytes(b"seed: 1\ndevice: c\x00pu\n")
    one_line(dlcheck("init-loss", "-c", recipe, MARKER, cwd=tmp_path), "line 2, column 10", "U+0000")


def test_a_model_on_the_meta_device_is_named_with_the_way_out(tmp_path):
    line = one_line(dlcheck("init-loss", SETUPS / "h24_msg_meta.py", cwd=tmp_path), "'model' in", "meta device")
    assert "to_empty" in line and "build it on the CPU" in line


@pytest.mark.parametrize("setup, loss", [("h24_msg_late_labels.py", "CrossEntropyLoss"),
                                         ("h24_msg_onehot_loss.py", "'loss_fn' in")])
def test_labels_out_of_range_on_a_later_batch_name_loader_batch_and_labels(tmp_path, setup, loss):
    proc = dlcheck("lr-find", SETUPS / setup, "-q", "--json", tmp_path / "r.json", cwd=tmp_path)
    one_line(proc, "lr-find:", "'train_loader' in", "batch 6 holds", "outside 0..9", "(10)", loss)
    result = json.loads((tmp_path / "r.json").read_text())["checks"][0]
    assert result["status"] == "error" and [f["code"] for f in result["findings"]] == ["DLC001"]


def test_json_to_dev_stdout_is_stdout(tmp_path):
    proc = dlcheck("init-loss", MARKER, "-q", "--json", "/dev/stdout", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["checks"][0]["name"] == "init-loss"
