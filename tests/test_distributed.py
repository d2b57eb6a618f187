"""dlcheck under torchrun: two processes on the CPU with gloo (subprocesses with timeouts).

One report, written by rank 0; the same verdicts and codes as one process; the same numbers on
every rank; the same exit code everywhere; a rank that raises ends the run in seconds, named; and
each bug only distributed training has, planted in a set-up and caught by its code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUPS = ROOT / "tests" / "setups"
ENTRY = ROOT / "tests" / "dist_entry.py"
TRAINING = "init-loss,overfit-small,lr-find"
DIST_CODES = {"DLC010", "DLC011", "DLC012", "DLC013", "DLC014", "DLC015", "DLC016"}

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="torchrun with gloo on POSIX")


def _env(dump: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    if dump is not None:
        env["DLCHECK_TEST_DUMP"] = str(dump)
    return env


def torchrun(*args, dump: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node=2 tests/dist_entry.py ARGS`` (each rank dumps its report)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(ENTRY), *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=_env(dump), capture_output=True, text=True, timeout=timeout)


def one_process(*args, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dlcheck", *map(str, args)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=timeout)


def codes(check: dict) -> list[str]:
    return [f["code"] for f in check["findings"]]


def verdicts(report: dict, drop=frozenset()) -> list:
    return [(c["name"], c["status"], [x for x in codes(c) if x not in drop]) for c in report["checks"]]


def rank_exit_codes(stderr: str) -> list[int]:
    """The ranks' exit codes from torchrun's failure summary (none listed: all exited 0)."""
    return [int(line.split(":")[1].split()[0]) for line in stderr.splitlines()
            if line.strip().startswith("exitcode") and ":" in line]


def test_healthy_two_ranks_match_one_process(tmp_path):
    """A DistributedSampler set-up on digits: one report by rank 0, the verdicts and codes of one
    process, none of the distributed findings, the same numbers on both ranks, exit 0."""
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_digits.py", "--checks", TRAINING, "--json", report, "-q",
                    dump=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads(report.read_text())
    single = one_process("run", SETUPS / "dist_digits.py", "--checks", TRAINING, "--json", "-", "-q")
    assert single.returncode == 0, single.stderr[-2000:]
    assert verdicts(written) == verdicts(json.loads(single.stdout))
    assert not DIST_CODES & {c for check in written["checks"] for c in codes(check)}
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for a, b in zip(ranks[0]["checks"], ranks[1]["checks"]):  # identical decision numbers
        assert (a["name"], a["status"], a["summary"], a["metrics"]) == (b["name"], b["status"], b["summary"],
                                                                     b["metrics"])
    assert written["checks"][1]["metrics"]["samples"] == 2 * 5 * 32  # both ranks' shards counted


def test_nproc_launch_digits_same_batches(tmp_path):
    """`dlcheck run --nproc 2` on the digits recipe (no DistributedSampler): every rank reads the
    same batches (DLC012, fail); otherwise the single-process verdicts; one report, exit 1 from
    every rank."""
    report, out = tmp_path / "r.json", tmp_path / "out"
    done = one_process("run", ROOT / "recipes" / "digits.yaml", "--nproc", "2", "--checks", TRAINING,
                       "--json", report, "--out", out, "-q", timeout=90)
    assert done.returncode == 1, done.stderr[-3000:]
    written = json.loads(report.read_text())
    init = written["checks"][0]
    assert init["name"] == "init-loss" and "DLC012" in codes(init) and init["status"] == "fail"
    single = one_process("run", ROOT / "recipes" / "digits.yaml", "--checks", TRAINING, "--json", "-", "-q")
    expected = verdicts(json.loads(single.stdout))
    got = verdicts(written, drop=DIST_CODES)
    assert [(n, c) for n, _, c in got] == [(n, c) for n, _, c in expected]
    assert [s for _, s, _ in got][1:] == [s for _, s, _ in expected][1:]
    assert sorted(p.name for p in out.iterdir())  # artifacts, written once by rank 0
    assert rank_exit_codes(done.stderr) in ([1, 1], [])


def test_rank_raising_in_forward_ends_the_run_naming_it():
    """Rank 1's forward raises mid-training while rank 0 waits in DDP's all-reduce: the run ends
    within seconds, exit 2 on both ranks, with an error naming rank 1."""
    start = time.monotonic()
    done = torchrun("run", SETUPS / "dist_rank_raises.py", "--checks", TRAINING, "-q", timeout=60)
    assert time.monotonic() - start < 45
    assert done.returncode != 0
    assert "dlcheck: error: rank 1: overfit-small" in done.stderr
    assert "corrupt activation" in done.stderr
    assert rank_exit_codes(done.stderr) == [2, 2]


def test_ranks_with_different_initial_weights(tmp_path):
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_seeded.py", "--checks", "init-loss", "--json", report, "-q")
    assert done.returncode == 1, done.stderr[-3000:]
    check = json.loads(report.read_text())["checks"][0]
    assert codes(check) == ["DLC011"] and check["status"] == "fail"


def test_batchnorm_on_a_small_per_rank_batch(tmp_path):
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_bn.py", "--checks", "init-loss", "--json", report, "-q")
    assert done.returncode == 0, done.stderr[-3000:]
    check = json.loads(report.read_text())["checks"][0]
    assert "DLC013" in codes(check) and check["status"] == "warn"
    assert "SyncBatchNorm" in check["findings"][0]["advice"]


def test_parameters_without_gradient_on_some_ranks(tmp_path):
    """A branch taken only for rank 1's data: its head gets no gradient on rank 0 (DLC015, fail,
    naming the parameters) instead of DDP's unused-parameter error or a hang."""
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_unused.py", "--checks", "overfit-small", "--json", report, "-q")
    assert done.returncode == 1, done.stderr[-3000:]
    check = json.loads(report.read_text())["checks"][0]
    assert check["status"] == "fail" and "DLC015" in codes(check)
    message = next(f["message"] for f in check["findings"] if f["code"] == "DLC015")
    assert "missing_head.weight" in message and "rank 0" in message


def test_lr_scaled_for_the_world_size_twice(tmp_path):
    """The target's lr already scaled for 2 ranks, and the factory multiplies by the world size
    again: the LR trained at is beyond the sweep's divergence for the global batch (DLC016)."""
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_lr_scaled.py", "--checks", "lr-find", "--json", report, "-q")
    assert done.returncode == 1, done.stderr[-3000:]
    check = json.loads(report.read_text())["checks"][0]
    assert "DLC016" in codes(check) and check["status"] == "fail"
    assert check["metrics"]["lr_world_scale"] == 2


def test_init_stats_and_bn_gap_reduced_over_ranks(tmp_path):
    """init-stats and bn-gap read each rank's shard and all-reduce their statistics: the same
    numbers and verdicts on both ranks, and the single-process verdicts (distributed notes aside)."""
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_bn.py", "--checks", "init-stats,bn-gap", "--json", report, "-q",
                    dump=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for a, b in zip(ranks[0]["checks"], ranks[1]["checks"]):
        assert (a["name"], a["status"], a["summary"], a["metrics"], a["findings"]) == \
            (b["name"], b["status"], b["summary"], b["metrics"], b["findings"])
    single = one_process("run", SETUPS / "dist_bn.py", "--checks", "init-stats,bn-gap", "--json", "-", "-q")
    expected = verdicts(json.loads(single.stdout))
    got = verdicts(json.loads(report.read_text()), drop=DIST_CODES)
    assert [(n, c) for n, _, c in got] == [(n, c) for n, _, c in expected]
    assert got[1][1] == expected[1][1]  # bn-gap: the same status (init-stats warns with DLC013 only)


def test_data_check_reduced_over_ranks(tmp_path):
    """data-check reads each rank's shard and reduces its statistics and the pairing control's
    curves: the same numbers and verdicts on both ranks, the single-process status, all samples."""
    report = tmp_path / "r.json"
    done = torchrun("run", SETUPS / "dist_digits.py", "--checks", "data-check", "--json", report, "-q",
                    dump=tmp_path, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text())["checks"][0] for r in (0, 1)]
    a, b = ranks
    assert (a["status"], a["summary"], a["metrics"], a["findings"]) == \
        (b["status"], b["summary"], b["metrics"], b["findings"])
    single = one_process("run", SETUPS / "dist_digits.py", "--checks", "data-check", "--json", "-", "-q")
    expected = json.loads(single.stdout)["checks"][0]
    got = json.loads(report.read_text())["checks"][0]
    assert got["status"] == expected["status"]
    # under torchrun each rank sees its shard only: the train/validation overlap is said not measured
    leak_note = [f for f in got["findings"] if f["code"] == "DLC710" and "torchrun" in f["message"]]
    assert len(leak_note) == 1 and "overlap not measured" in leak_note[0]["message"]
    assert [c for c in codes(got) if c not in DIST_CODES] == codes(expected) + ["DLC710"]
    assert got["metrics"]["samples"] == 2 * 20 * 32  # both ranks' shards counted
    assert "pair_heldout_true" in got["metrics"]
