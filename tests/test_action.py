"""action.yml, the composite GitHub Action: its shape, and its run-steps' commands run here as the
runner runs them (bash, the inputs substituted into the steps' env, $GITHUB_OUTPUT and
$GITHUB_STEP_SUMMARY files), with the install step skipped and `dlcheck` on PATH running this
checkout; on the README's workflow example and on its planted twin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MODERN = Path(__file__).resolve().parent / "modern"
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())

#: the README's "GitHub Actions" example
README_WORKFLOW = """\
# .github/workflows/dlcheck.yml
on: [push, pull_request]
permissions:
  contents: read
  security-events: write        # the SARIF upload to code scanning
jobs:
  sanity:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: OWNER/REPO@main     # this repository's action.yml
        with:
          target: train_setup.py
          requirements: requirements.txt
"""
_INPUT = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")


def _steps(kind: str) -> list[dict]:
    return [s for s in ACTION["runs"]["steps"] if kind in s]


def _inputs(given: dict[str, str]) -> dict[str, str]:
    unknown = set(given) - set(ACTION["inputs"])
    assert not unknown, f"not inputs of action.yml: {unknown}"
    values = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    return {**values, **given}


def _substitute(value: str, inputs: dict[str, str]) -> str:
    out = _INPUT.sub(lambda m: inputs[m.group(1)], str(value))
    assert "${{" not in out, f"an expression this test cannot stand in for: {value}"
    return out


def _run_action(checkout: Path, given: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Run every run-step but the install step, in order, stopping at the first that fails, as
    the runner does; returns (exit status, the step outputs)."""
    inputs = _inputs(given)
    shims = checkout.parent / "bin"
    shims.mkdir()
    (shims / "dlcheck").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dlcheck "$@"\n')
    (shims / "dlcheck").chmod(0o755)
    output, code = checkout.parent / "github_output", 0
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1", "GITHUB_OUTPUT": str(output), "GITHUB_ACTION_PATH": str(ROOT),
           "GITHUB_STEP_SUMMARY": str(checkout.parent / "summary.md")}
    for step in _steps("run"):
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs reach a script through env only (no injection)"
        if step.get("id") == "install":
            continue
        step_env = {k: _substitute(v, inputs) for k, v in step.get("env", {}).items()}
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=checkout, env={**env, **step_env},
                              timeout=600)
        code = done.returncode
        if code:
            break
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return code, outputs


def test_the_action_is_composite_with_setup_install_run_and_uploads():
    assert ACTION["runs"]["using"] == "composite"
    uses = [s["uses"].split("@")[0] for s in _steps("uses")]
    assert uses == ["actions/setup-python", "actions/upload-artifact", "github/codeql-action/upload-sarif"]
    (install,) = [s for s in _steps("run") if s.get("id") == "install"]
    assert "--index-url https://download.pytorch.org/whl/cpu" in install["run"]
    assert 'python -m pip install "$GITHUB_ACTION_PATH"' in install["run"]  # dlcheck from this checkout
    for step in _steps("uses")[1:]:
        assert step["if"].startswith("always()")  # a red gate still uploads its reports
    assert ACTION["outputs"]["exit-code"]["value"] == "${{ steps.run.outputs.exit-code }}"


def test_the_readme_workflow_runs_the_steps_and_writes_every_report(tmp_path):
    workflow = yaml.safe_load(README_WORKFLOW)
    step = workflow["jobs"]["sanity"]["steps"][1]
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(MODERN / "pytest_digits_ok.py", checkout / "train_setup.py")
    (checkout / "requirements.txt").write_text("scikit-learn\n")
    (tmp_path / "summary.md").write_text("# an earlier step's summary\n")
    code, outputs = _run_action(checkout, step["with"])
    assert code == 0 and outputs == {"exit-code": "0"}
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# an earlier step's summary\n") and "init-loss" in summary
    assert "<html" in (checkout / "dlcheck-report.html").read_text()[:200].lower()
    sarif = json.loads((checkout / "dlcheck.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert {r["level"] for r in sarif["runs"][0]["results"]} <= {"note"}


def test_a_failing_setup_fails_the_step_and_still_leaves_the_reports(tmp_path):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(MODERN / "pytest_digits_frozen.py", checkout / "frozen_setup.py")
    code, outputs = _run_action(checkout, {"target": "frozen_setup.py", "checks": "overfit-small",
                                           "args": "--seed 1 --device cpu", "sarif": "out.sarif"})
    assert code == 1 and outputs == {"exit-code": "1"}
    sarif = json.loads((checkout / "out.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"] == ["DLC204"]
    assert sarif["runs"][0]["properties"]["seed"] == 1
    assert (checkout / "dlcheck-report.html").is_file()  # what the upload steps (if: always()) send


def test_readme_shows_this_workflow():
    assert README_WORKFLOW in (ROOT / "README.md").read_text(encoding="utf-8")
