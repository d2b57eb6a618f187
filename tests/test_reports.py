"""Reports: JSON exactly as DESIGN §4, JUnit XML, Markdown, the console, exit codes, --ignore."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from conftest import RECIPES, SETUPS

DIGITS = RECIPES / "digits.yaml"
SCALED = SETUPS / "digits_scaled.py"


def test_json_has_the_design_shape(cli):
    res = cli("init-loss", SCALED, "--json", "-", "--seed", "3")
    report = json.loads(res.stdout)  # stdout is pure JSON
    assert list(report)[:7] == ["tool", "version", "target", "device", "seed", "status", "checks"]
    assert report["tool"] == "dlcheck" and report["seed"] == 3 and report["device"] == "cpu"
    assert report["status"] == "fail"
    check = report["checks"][0]
    assert {"name", "status", "summary", "seconds", "metrics", "findings", "artifacts"} <= set(check)
    for f in check["findings"]:
        assert set(f) == {"code", "severity", "message", "advice"}
        assert f["code"].startswith("DLC") and f["severity"] in ("info", "warn", "fail", "error")


def test_json_dash_sends_the_human_report_to_stderr(cli):
    res = cli("init-loss", SCALED, "--json", "-")
    assert "verdict: fail" in res.stderr and "DLC101" in res.stderr
    assert "verdict" not in res.stdout


def test_console_report_shows_verdict_findings_and_advice(cli):
    res = cli("init-loss", SCALED)
    assert res.exit_code == 1
    assert "init-loss" in res.stdout and "fail" in res.stdout
    assert "DLC101" in res.stdout and "→" in res.stdout  # advice line
    assert "verdict: fail" in res.stdout


def test_quiet_prints_nothing_but_keeps_the_exit_code(cli):
    res = cli("init-loss", SCALED, "--quiet")
    assert res.exit_code == 1 and res.stdout == "" and res.stderr == ""


def test_junit_one_testcase_per_check(cli, tmp_path):
    path = tmp_path / "junit.xml"
    res = cli("init-loss", SCALED, "--junit", path)
    assert res.exit_code == 1
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite.get("tests") == "1" and suite.get("failures") == "1" and suite.get("errors") == "0"
    case = suite.find("testcase")
    assert case.get("name") == "init-loss"
    assert "DLC101" in case.find("failure").text


def test_junit_error_and_warn(cli, tmp_path):
    path = tmp_path / "junit.xml"
    cli("init-loss", SETUPS / "labels_out_of_range.py", "--junit", path)
    assert ET.parse(path).getroot().find("testsuite/testcase/error") is not None
    import dlcheck
    from dlcheck.render import junit
    from dlcheck.results import CheckResult, Report

    warned = CheckResult(name="init-loss")
    warned.add("DLC102", "a bit high")
    report = Report(target="t", device="cpu", seed=0, checks=[warned.settle()])
    root = ET.fromstring(junit.dumps(report))
    case = root.find("testsuite/testcase")
    assert case.find("failure") is None and case.find("error") is None  # warn passes ...
    assert "DLC102" in case.find("system-out").text  # ... with the warning shown
    assert dlcheck.__version__


def test_markdown_summary_is_appended(cli, tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("# earlier step\n")
    cli("init-loss", SCALED, "--markdown", path)
    text = path.read_text()
    assert text.startswith("# earlier step") and "## dlcheck: ❌ fail" in text and "**DLC101**" in text


def test_strict_makes_warnings_fail(cli, tmp_path):
    recipe = tmp_path / "tight.yaml"
    recipe.write_text(f"target: {RECIPES / 'digits_setup.py'}\ninit-loss:\n  warn_above_ratio: 0.5\n")
    assert cli("init-loss", recipe).exit_code == 0
    assert cli("init-loss", recipe, "--strict").exit_code == 1


def test_ignore_drops_a_code_and_notes_unmatched_ones(cli):
    res = cli("init-loss", SCALED, "--ignore", "DLC101", "--ignore", "dlc999", "--json", "-")
    report = json.loads(res.stdout)
    assert res.exit_code == 0
    assert all(f["code"] != "DLC101" for f in report["checks"][0]["findings"])
    assert report["ignored_unmatched"] == ["DLC999"]
    assert "--ignore DLC999 matched no finding" in res.stderr


def test_same_seed_same_json_metrics(cli):
    first = json.loads(cli("init-loss", DIGITS, "--json", "-").stdout)
    second = json.loads(cli("init-loss", DIGITS, "--json", "-").stdout)
    assert first["checks"][0]["metrics"] == second["checks"][0]["metrics"]


def test_console_folds_long_detail_tables():
    from rich.console import Console

    from dlcheck.render.console import details_table

    rows = [{"layer": f"block{i}", "std": 0.5 + i} for i in range(40)]
    console = Console(width=120, record=True)
    console.print(details_table("layers", rows, max_rows=10))
    text = console.export_text()
    assert "block0" in text and "block39" in text
    assert "block20" not in text and "30 rows folded" in text
