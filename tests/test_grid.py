"""grid (tuning step 4) on real data: the digits recipe's best cell against a finer grid, the edge
finding, pruning, storage resume and two processes sharing one SQLite storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import dlcheck
from conftest import RECIPES, ROOT, SETUPS

DIGITS = str(RECIPES / "digits_setup.py")


def _codes(result) -> list[str]:
    return [f.code for f in result.findings]


def test_digits_best_cell_is_within_ten_percent_of_a_finer_grid():
    coarse = dlcheck.check("grid", DIGITS)
    assert coarse.status == "pass", (coarse.summary, _codes(coarse))
    assert coarse.metrics["centre_lr"] == 3e-3 and coarse.metrics["trials"] == 9
    assert len(coarse.details["trials"]) == 9 and set(coarse.details["evaluations"]) and \
        all(row["status"] in ("done", "pruned") for row in coarse.details["trials"])
    finer_lrs = "1e-3,1.5e-3,2.2e-3,3.3e-3,4.7e-3,6.8e-3,1e-2"
    fine = dlcheck.check("grid", DIGITS, settings={"grid": {"lrs": finer_lrs, "weight_decays": "1e-4,0",
                                                            "prune": False}})
    assert fine.metrics["finished"] == 14
    assert coarse.metrics["best_val_loss"] <= 1.10 * fine.metrics["best_val_loss"]


def test_pruning_cuts_steps_without_changing_the_best_cell():
    pruned = dlcheck.check("grid", DIGITS)
    full = dlcheck.check("grid", DIGITS, settings={"grid": {"prune": False}})
    assert pruned.metrics["pruned"] >= 1 and full.metrics["pruned"] == 0
    assert pruned.metrics["steps_trained"] < 0.9 * full.metrics["steps_trained"]
    for key in ("best_lr", "best_weight_decay", "best_val_loss"):
        assert pruned.metrics[key] == full.metrics[key]


def test_best_lr_above_the_grid_says_widen_upward():
    result = dlcheck.check("grid", str(SETUPS / "grid_low_lr.py"))
    assert "DLC901" in _codes(result), result.summary
    assert result.metrics["widen"] == "higher" and result.metrics["best_lr"] == 9e-4
    edge = next(f for f in result.findings if f.code == "DLC901")
    assert "higher" in edge.message and "--lrs" in edge.advice


def test_every_trial_diverged_fails_with_advice_to_lr_find():
    result = dlcheck.check("grid", DIGITS, settings={"grid": {"lrs": "30,100", "weight_decays": "0"}})
    assert result.status == "fail" and "DLC902" in _codes(result), (result.summary, _codes(result))
    assert "lr-find" in next(f for f in result.findings if f.code == "DLC902").advice


def test_without_val_loader_a_clear_error():
    import importlib.util

    spec = importlib.util.spec_from_file_location("digits_for_grid", DIGITS)
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)
    result = dlcheck.check("grid", model=setup.model, train_loader=setup.train_loader)
    assert result.status == "error" and "val_loader" in result.summary


def test_storage_resumes_a_grid_without_training_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'grid.db'}"
    first = dlcheck.check("grid", str(SETUPS / "grid_low_lr.py"), settings={"grid": {"storage": url}})
    again = dlcheck.check("grid", str(SETUPS / "grid_low_lr.py"), settings={"grid": {"storage": url}})
    assert first.metrics["run_here"] == 9 and again.metrics["run_here"] == 0
    assert again.metrics["steps_trained_here"] == 0
    assert again.details["trials"] == first.details["trials"]
    other = dlcheck.check("grid", str(SETUPS / "grid_low_lr.py"),
                          settings={"grid": {"storage": url, "study": first_study(url), "epochs": 2}})
    assert other.status == "error" and "other settings" in other.summary


def first_study(url: str) -> str:
    import optuna

    return optuna.get_all_study_summaries(url)[0].study_name


def test_two_processes_share_one_sqlite_grid_and_no_cell_runs_twice(tmp_path):
    import optuna

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "dlcheck", "grid", str(SETUPS / "grid_slow.py"), "--storage", url,
               "--no-prune", "--quiet", "--device", "cpu"]
    workers = [subprocess.Popen(command + ["--json", str(tmp_path / f"w{i}.json")], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(2)]
    for w in workers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err.decode()
    reports = [json.loads((tmp_path / f"w{i}.json").read_text())["checks"][0] for i in range(2)]
    assert all(r["metrics"]["finished"] == 9 for r in reports)  # each reports the whole grid
    assert reports[0]["details"]["trials"] == reports[1]["details"]["trials"]
    assert sum(r["metrics"]["run_here"] for r in reports) == 9
    assert all(r["metrics"]["run_here"] >= 1 for r in reports)  # both worked on it
    study = optuna.load_study(study_name=first_study(url), storage=url)
    trained = [t for t in study.trials if "status" in t.user_attrs]  # trials that trained (lost claims did not)
    cells = [t.user_attrs["cell"] for t in trained]
    assert len(cells) == 9 and len(set(cells)) == 9


@pytest.mark.parametrize("flag", ["--lrs", "--weight-decays"])
def test_bad_axis_is_a_usage_error(cli, flag):
    result = cli("grid", DIGITS, flag, "1e-3,oops", "--quiet")
    assert result.exit_code == 2 and "oops" in result.stderr


def test_heatmap_and_csv_are_written(tmp_path):
    result = dlcheck.check("grid", str(SETUPS / "grid_low_lr.py"), out=str(tmp_path),
                           settings={"grid": {"lrs": "3e-4,9e-4", "weight_decays": "0"}})
    names = sorted(os.path.basename(p) for p in result.artifacts)
    assert names == ["grid-heatmap.png", "grid-trials.csv"]
    assert (tmp_path / "grid-heatmap.png").stat().st_size > 1000
