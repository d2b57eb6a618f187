"""Reports: JSON exactly as DESIGN §4, JUnit XML, Markdown, the console (at 80 columns too),
exit codes, --ignore, and checks with nothing to look at (skipped)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from rich.console import Console

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
    recipe.write_text(f"target: {RECIPES / 'digits_setup.py'}\ninit-loss:\n  warn_above_ratio: 0.5\n  min_excess: 0\n")
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
    from dlcheck.render.console import details_table

    rows = [{"layer": f"block{i}", "std": 0.5 + i} for i in range(40)]
    console = Console(width=120, record=True)
    console.print(details_table("layers", rows, max_rows=10))
    text = console.export_text()
    assert "block0" in text and "block39" in text
    assert "block20" not in text and "30 of 40 rows folded" in text


# -- the console at 80 columns ----------------------------------------------------------------------
#: A cell that is a number with its end cut off: ``0.0…``, ``-1.2…``, ``33…``.
CUT_NUMBER = re.compile(r"^[-+]?(\d[\d.]*|\.\d*)(e[-+]?\d*)?…$")


def table_cells(text: str) -> list[str]:
    """The cells of every table row (``│``/``┃``-separated) in a console export."""
    cells = []
    for line in text.splitlines():
        if "│" in line or "┃" in line:
            cells += [c.strip() for c in re.split("[│┃]", line)]
    return cells


def render(report, width: int) -> str:
    from dlcheck.render.console import print_report

    console = Console(width=width, record=True, highlight=False)
    print_report(report, console=console)
    return console.export_text()


def assert_readable(text: str, report, width: int = 80) -> None:
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    cut = [c for c in table_cells(text) if CUT_NUMBER.match(c)]
    assert not cut, f"numbers cut at {width} columns: {cut[:5]}"
    headers = [c for line in lines if "┃" in line for c in re.split("[┃]", line) if c.strip().endswith("…")]
    assert not headers, f"headers cut: {headers}"
    for check in report.checks:
        for finding in check.findings:
            if finding.severity != "error":  # errors go to stderr, one sentence each
                assert finding.code in text
    for i, line in enumerate(lines):  # notes under a table are whole phrases on one line
        if "rows folded" in line or "not shown" in line:
            assert re.search(r"(\d+ of \d+ rows folded|\d+ columns? not shown|not shown:)", line), line
            assert lines[i + 1].startswith("the full table") or "full table" in lines[i + 1], lines[i + 1]


@pytest.fixture(scope="module")
def resnet_report():
    import dlcheck

    return dlcheck.run(RECIPES / "resnet_setup.py", checks=["init-stats", "bn-gap"])


@pytest.mark.slow
def test_console_at_80_columns_on_resnet18_cuts_no_number(resnet_report):
    text = render(resnet_report, 80)
    assert_readable(text, resnet_report)
    init_stats = text[text.index("\nlayers"):text.index("\nbn layers")]
    header = init_stats.splitlines()[2:5]
    assert any("std" in line for line in header) and any("init" in line for line in header)
    assert "layer4.0.downsample.0" in text  # a 21-character name fits whole
    assert re.search(r"\d+ of 41 rows folded", text)
    assert "gap" in text[text.index("\nbn layers"):] and "momentum" in text
    wide = render(resnet_report, 160)
    assert_readable(wide, resnet_report, 160)
    assert "xavier" in wide and "xavier" not in text.split("rows folded")[0]  # wider shows more columns


def test_console_at_80_columns_on_the_digits_run(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "80")  # what CI logs and pipes get
    res = cli("run", DIGITS, "--checks", "init-loss,init-stats,bn-gap,aug-preview,data-check", "--out", tmp_path,
              "--json", tmp_path / "report.json")
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    assert not [c for c in table_cells(text) if CUT_NUMBER.match(c)]
    for code in ("DLC508", "DLC601", "DLC703"):
        assert code in text
    # findings come right after the verdict table (and the task line), before any per-item table
    assert text.index("DLC508") < text.index("\nlayers") and text.index("DLC703") < text.index("\nclasses")
    assert re.search(r"│ aug-preview +│ skipped +│", text)  # not applicable is said
    assert "the full table: " in text and "init-stats-layers.csv" in text


def test_long_layer_names_are_shortened_from_the_middle():
    from dlcheck.render.console import details_table, shorten

    assert shorten("layer3.0.downsample.conv2", 16) == "layer3.0.…conv2"
    assert shorten("layer3.0.downsample.conv2", 14) == "layer3.…conv2"
    assert shorten("encoder.layers.11.self_attn.out_proj (input)", 26).endswith("out_proj (input)")
    assert shorten("short", 12) == "short"
    rows = [{"layer": f"encoder.layers.{i}.self_attention.output_projection", "std": 1.0 / (i + 1),
             "grad_norm": 1e-5 * (i + 1), "update_ratio": -0.000123456} for i in range(12)]
    console = Console(width=80, record=True)
    console.print(details_table("layers", rows))
    text = console.export_text()
    assert "encoder.…output_projection" in text or "…output_projection" in text
    assert "-0.000123" in text and "1e-05" in text and "0.0833" in text  # 3 significant digits, whole


# -- skipped: a check with nothing to look at -----------------------------------------------------
def test_a_check_with_nothing_to_look_at_is_skipped_but_passes(cli):
    res = cli("aug-preview", DIGITS, "--json", "-")
    check = json.loads(res.stdout)["checks"][0]
    assert res.exit_code == 0 and check["status"] == "pass"  # the contract: pass ...
    assert check["skipped"] is True and "no transform" in check["reason"]  # ... with the reason added
    other = json.loads(cli("init-loss", DIGITS, "--json", "-").stdout)["checks"][0]
    assert "skipped" not in other and "reason" not in other


def test_skipped_does_not_hide_a_worse_status():
    from dlcheck.results import CheckResult

    result = CheckResult(name="bn-gap").skip("the model has no BatchNorm layer")
    result.add("DLC003", "ran past its budget")
    assert result.settle().status == "warn" and not result.skipped and "skipped" not in result.to_dict()


# -- JUnit as CI pages read it ----------------------------------------------------------------------
def mixed_report():
    """A run with a fail (two failing findings), a warn, an error and a skipped check."""
    from dlcheck.results import CheckResult, Finding, Report

    failed = CheckResult(name="data-check", summary="178 samples in 12 batches: labels 0..5")
    failed.add("DLC703", "2 of 30 features are constant")
    failed.add("DLC705", "48 labels outside 0..2")
    failed.add("DLC707", "batches are sorted by class")
    warned = CheckResult(name="init-loss", summary="initial loss 2.9 is 1.3x ln(10)")
    warned.add("DLC102", "initial loss is above ln(C)")
    crashed = CheckResult(name="lr-find", summary="lr-find raised IndexError: Target 3 is out of bounds",
                          status="error")
    crashed.findings.append(Finding("DLC002", "error", "lr-find raised IndexError: Target 3 is out of bounds",
                                    "Run again with --debug to see the traceback."))
    skipped = CheckResult(name="bn-gap", summary="no BatchNorm layer: nothing to compare")
    skipped.add("DLC508", "the model has no BatchNorm layer")
    skipped.skip("the model has no BatchNorm layer")
    checks = [c.settle() for c in (failed, warned, crashed, skipped)]
    return Report(target="t.py", device="cpu", seed=0, checks=checks)


def test_junit_puts_each_verdict_where_ci_pages_read_it():
    from dlcheck.render import junit

    root = ET.fromstring(junit.dumps(mixed_report()))
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("4", "1", "1", "1")
    assert root.get("tests") == "4" and root.get("skipped") == "1"
    cases = {c.get("name"): c for c in suite.iter("testcase")}

    failure = cases["data-check"].find("failure")
    assert failure.get("message") == "DLC705 48 labels outside 0..2 (and 1 more failing finding)"
    assert failure.get("type") == "DLC705"
    assert "DLC703" in failure.text and "DLC707" in failure.text and "advice:" in failure.text

    warned = cases["init-loss"]
    assert warned.find("failure") is None and warned.find("error") is None and warned.find("skipped") is None
    assert [p.get("value") for p in warned.iter("property")] == ["DLC102 initial loss is above ln(C)"]
    assert list(warned)[0].tag == "properties"
    assert "[warn] DLC102" in warned.find("system-out").text

    error = cases["lr-find"].find("error")
    assert error.get("message").startswith("DLC002 lr-find raised IndexError") and error.get("type") == "DLC002"

    skipped = cases["bn-gap"].find("skipped")
    assert skipped is not None and skipped.get("message") == "the model has no BatchNorm layer"
    assert cases["bn-gap"].find("failure") is None


def test_console_says_skipped_with_the_reason():
    text = render(mixed_report(), 80)
    row = next(line for line in text.splitlines() if "bn-gap" in line and "│" in line)
    assert "skipped" in row and "the model has no BatchNorm" in text
    assert all(code in text for code in ("DLC705", "DLC703", "DLC707", "DLC102", "DLC508"))


def test_python_api_hands_tables_over_as_dataframes():
    """A notebook user gets each per-item table as a DataFrame: the CSV tables and the report's."""
    import dlcheck

    result = dlcheck.check("init-stats", str(RECIPES / "digits_setup.py"), device="cpu")
    frames = result.frames()
    assert {"layers", "parameters"} <= set(frames)
    layers = frames["layers"]
    assert list(layers["layer"]) == [r["layer"] for r in result.details["layers"]]
    assert layers["std"].notna().all()
    curve = dlcheck.check("overfit-small", str(RECIPES / "digits_setup.py"), device="cpu").frames()["loss"]
    assert list(curve.columns) == ["step", "loss"] and curve["loss"].iloc[-1] < curve["loss"].iloc[0]
