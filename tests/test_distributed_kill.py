"""A rank killed with SIGKILL under torchrun (two processes on the CPU, gloo), through the real CLI.

The set-up tests/setups/kill_rank.py kills the rank named by $DLCHECK_TEST_KILL_RANK at its third
training step of overfit-small. Under plain torchrun the surviving rank exits 2 with one dlcheck
sentence naming the dead rank and the check, and rank 0 writes the report of what finished (the
check in progress an error, DLC010); torchrun's own exit status is 1, whatever its children's codes
(torch's launcher raises ChildFailedError). Under ``dlcheck run --nproc 2`` the launcher reads
torchrun's result: exit 2 and one sentence naming the rank and the signal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "tests" / "setups" / "kill_rank.py"
CHECKS = "init-loss,overfit-small,lr-find"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX")


def _env(kill: int | None, hold: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    if kill is not None:
        env["DLCHECK_TEST_KILL_RANK"] = str(kill)
    if hold is not None:
        env["DLCHECK_TEST_HOLD"] = str(hold)
    return env


def _run(cmd: list, kill: int | None, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, env=_env(kill), capture_output=True, text=True, timeout=timeout)


def rank_exit_codes(stderr: str) -> dict[int, int]:
    """rank -> exit code, from torchrun's failure summary."""
    codes, rank = {}, None
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("rank ") and ":" in line:
            rank = int(line.split(":")[1].split()[0])
        elif line.startswith("exitcode") and rank is not None:
            codes[rank] = int(line.split(":")[1].split()[0])
    return codes


def dlcheck_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dlcheck:")]


def test_killed_rank_under_plain_torchrun(tmp_path):
    """Rank 1 SIGKILLed mid overfit-small: rank 0 exits 2 with one sentence naming rank 1 and the
    check, and its report holds init-loss (finished) and overfit-small as an error (DLC010)."""
    report = tmp_path / "r.json"
    start = time.monotonic()
    done = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                 "-m", "dlcheck", "run", SETUP, "--checks", CHECKS, "--json", report, "-q"], kill=1)
    assert time.monotonic() - start < 60
    assert done.returncode == 1  # torchrun's own status for any failed child (torch's limit)
    assert rank_exit_codes(done.stderr) == {0: 2, 1: -9}, done.stderr[-3000:]
    said = dlcheck_lines(done.stderr)
    assert len(said) == 1, done.stderr[-3000:]
    assert said[0].startswith("dlcheck: error: overfit-small: rank 1 was killed")
    assert "the report holds the 1 check that finished (init-loss)" in said[0]
    written = json.loads(report.read_text())
    assert written["status"] == "error"
    assert [(c["name"], c["status"]) for c in written["checks"]] == [("init-loss", "pass"), ("overfit-small", "error")]
    assert [f["code"] for f in written["checks"][1]["findings"]] == ["DLC010"]


def test_killed_rank_under_nproc_names_the_signal(tmp_path):
    """`dlcheck run --nproc 2`: exit 2 and one sentence naming rank 1, SIGKILL and the check."""
    report = tmp_path / "r.json"
    done = _run([sys.executable, "-m", "dlcheck", "run", SETUP, "--nproc", "2", "--checks", CHECKS,
                 "--json", report, "-q"], kill=1)
    assert done.returncode == 2, done.stderr[-3000:]
    assert dlcheck_lines(done.stderr) == [
        "dlcheck: error: rank 1 was killed by SIGKILL during overfit-small: every other rank stopped with "
        "exit 2, and the report holds the 1 check that finished (init-loss)"]
    assert [c["status"] for c in json.loads(report.read_text())["checks"]] == ["pass", "error"]


def test_killed_rank_zero_is_named_by_rank_one():
    """Rank 0 (the one that writes reports) killed: rank 1 speaks, and says no report was written."""
    done = _run([sys.executable, "-m", "dlcheck", "run", SETUP, "--nproc", "2", "--checks", CHECKS, "-q"], kill=0)
    assert done.returncode == 2, done.stderr[-3000:]
    assert dlcheck_lines(done.stderr) == [
        "dlcheck: error: rank 0 was killed by SIGKILL during overfit-small: every other rank stopped with "
        "exit 2, and no report was written (rank 0 writes it)"]


def test_cancelled_torchrun_is_not_a_dead_rank(tmp_path):
    """SIGTERM to torchrun itself (CI's cancel; torchrun forwards it): no rank is dead, so the
    ranks say "interrupted by SIGTERM" and exit 143, not 2."""
    hold = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             "-m", "dlcheck", "run", SETUP, "--checks", CHECKS, "-q",
                             "--json", tmp_path / "r.json"], cwd=ROOT, env=_env(None, hold), stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not hold.exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    said = dlcheck_lines(stderr)
    assert len(said) == 1 and said[0].startswith("dlcheck: interrupted by SIGTERM during "), stderr[-3000:]
    assert set(rank_exit_codes(stderr).values()) <= {143}, stderr[-3000:]

