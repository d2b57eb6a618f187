"""The pytest plugin, run as a user runs it: `pytest` in a subprocess over a temporary project
holding a healthy train_setup.py and its planted twin (every weight frozen). The plugin is loaded
with ``-p dlcheck.pytest_plugin`` and entry-point autoloading off (the editable install may point
at another checkout); the entry point itself is read from pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODERN = Path(__file__).resolve().parent / "modern"

#: the README's "pytest" example, run as written
README_TEST = '''\
# test_sanity.py
def test_training_setup(dlcheck):
    dlcheck.run("train_setup.py", checks=["init-loss", "overfit-small", "lr-find"]).assert_ok()
'''
#: the README's command line
README_COMMAND = "pytest --dlcheck train_setup.py -m dlcheck --junitxml dlcheck.xml"

FROZEN_TEST = '''\
def test_frozen_setup(dlcheck):
    dlcheck.run("frozen_setup.py", checks=["overfit-small"]).assert_ok()
'''


def _project(tmp_path: Path, **files: str) -> Path:
    shutil.copy(MODERN / "pytest_digits_ok.py", tmp_path / "train_setup.py")
    shutil.copy(MODERN / "pytest_digits_frozen.py", tmp_path / "frozen_setup.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    return tmp_path


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
           "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "dlcheck.pytest_plugin",
                           "-p", "no:cacheprovider", "--dlcheck-device", "cpu", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def _junit(path: Path) -> dict[str, str]:
    """``{"classname::name": outcome}`` of a JUnit file written by pytest."""
    outcomes = {}
    for case in ET.parse(path).iter("testcase"):
        kids = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kids), "passed")
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


def test_the_entry_point_names_the_plugin():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"dlcheck": "dlcheck.pytest_plugin"}


def test_loading_the_plugin_imports_no_torch(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n"
        "def test_plain(request):\n"
        "    assert request.config.pluginmanager.has_plugin('dlcheck.pytest_plugin')\n"
        "    assert 'torch' not in sys.modules, 'the dlcheck plugin imported torch'\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = _pytest(tmp_path, "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_fixture_passes_a_healthy_setup_and_fails_a_frozen_one_with_its_findings(tmp_path):
    folder = _project(tmp_path, test_sanity=README_TEST, test_frozen=FROZEN_TEST)
    done = _pytest(folder, "-q", "--junitxml", "fixture.xml")
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes = _junit(folder / "fixture.xml")
    assert outcomes == {"test_sanity::test_training_setup": "passed",
                        "test_frozen::test_frozen_setup": "failure"}
    # the failure message is the findings: the check, its verdict, the code and its advice
    assert "AssertionError: dlcheck frozen_setup.py: fail" in done.stdout
    assert "overfit-small: fail" in done.stdout and "[fail] DLC204" in done.stdout
    assert "advice:" in done.stdout


def test_dlcheck_option_gives_one_item_per_check(tmp_path):
    folder = _project(tmp_path, test_sanity=README_TEST)
    args = README_COMMAND.split()[1:] + ["--dlcheck", "frozen_setup.py", "-rA"]
    done = _pytest(folder, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    outcomes = _junit(folder / "dlcheck.xml")
    from dlcheck import registry

    checks = registry.run_by_default()  # every check of `dlcheck run`, one item each
    assert {"bn-gap", "aug-preview"} <= {c for c in checks if outcomes[f"train_setup::{c}"] == "skipped"}
    assert {c for c in checks if outcomes[f"train_setup::{c}"] not in ("passed", "skipped")} == set()
    failing = {"overfit-small", "lr-find"}
    assert {c for c in checks if outcomes[f"frozen_setup::{c}"] == "failure"} >= failing
    assert set(outcomes) == {f"{s}::{c}" for s in ("train_setup", "frozen_setup") for c in checks}
    # -m dlcheck: test_sanity.py was deselected
    assert "1 deselected" in done.stdout
    assert "SKIPPED [1] train_setup.py:1: bn-gap: the model has no BatchNorm layer" in done.stdout
    assert "FAILED frozen_setup.py::overfit-small" in done.stdout
    assert "[fail] DLC204" in done.stdout


FAKE_RUN = '''\
import dlcheck.api
from dlcheck.results import CheckResult, Finding, Report


def run(target, checks, device, seed):
    assert (target, device, seed) == ("setup.py", "cpu", 3)
    warn = CheckResult("init-stats", "warn", "1 warning",
                       findings=[Finding("DLC407", "warn", "0 [Linear]: weight std 0.01", "use Xavier")])
    error = CheckResult("lr-find", "error", "crashed", findings=[Finding("DLC002", "error", "boom")])
    skipped = CheckResult("bn-gap", "pass", "nothing", skipped=True, reason="the model has no BatchNorm layer")
    return Report(target, device, seed, checks=[warn, error, skipped])


dlcheck.api.run = run
'''


def test_warnings_pass_with_a_warning_errors_fail_and_strict_fails_warnings(tmp_path):
    (tmp_path / "conftest.py").write_text(FAKE_RUN)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    args = ["--dlcheck", "setup.py", "--dlcheck-checks", "init-stats,lr-find,bn-gap",
            "--dlcheck-seed", "3", "--junitxml", "j.xml"]
    done = _pytest(tmp_path, *args)
    assert done.returncode == 1, done.stdout + done.stderr
    assert _junit(tmp_path / "j.xml") == {"setup::init-stats": "passed", "setup::lr-find": "failure",
                                          "setup::bn-gap": "skipped"}
    assert "DLCheckWarning: init-stats: warn - 1 warning" in done.stdout
    assert "[error] DLC002 boom" in done.stdout
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "j.xml").iter("property")}
    assert props["warning"] == "DLC407 0 [Linear]: weight std 0.01" and props["status"]
    strict = _pytest(tmp_path, *args, "--dlcheck-strict")
    assert _junit(tmp_path / "j.xml")["setup::init-stats"] == "failure", strict.stdout


def test_bad_targets_and_unknown_checks_say_so(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    done = _pytest(tmp_path, "--dlcheck", "missing_setup.py", "--dlcheck-checks", "init-loss")
    assert done.returncode == 1
    assert "dlcheck could not run missing_setup.py:" in done.stdout
    unknown = _pytest(tmp_path, "--dlcheck", "missing_setup.py", "--dlcheck-checks", "init-los")
    assert unknown.returncode == 4  # pytest's usage error
    assert "--dlcheck-checks: unknown check 'init-los'" in unknown.stderr


def test_assert_ok_raises_on_red_reports_only_and_strict_counts_warnings():
    import pytest

    from dlcheck.results import CheckResult, Finding, Report

    warn = CheckResult("init-stats", "warn", "1 warning",
                       findings=[Finding("DLC407", "warn", "0 [Linear]: weight std 0.01", "use Xavier")])
    report = Report("train_setup.py", "cpu", 0, checks=[warn, CheckResult("init-loss", "pass", "ok")])
    assert report.assert_ok() is report
    with pytest.raises(AssertionError) as caught:
        report.assert_ok(strict=True)
    assert str(caught.value) == ("dlcheck train_setup.py: warn\ninit-stats: warn - 1 warning\n"
                                 "  [warn] DLC407 0 [Linear]: weight std 0.01\n      advice: use Xavier")


def test_readme_shows_these_examples():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert README_TEST in readme and README_COMMAND in readme
