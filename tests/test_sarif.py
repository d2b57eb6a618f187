"""--sarif: SARIF 2.1.0 that validates against the OASIS schema (vendored in tests/data from
oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json at e0583813), names every finding
code as a rule with its explain text, and locates each result at the target file and the layers
its message names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlcheck.codes import CODES
from dlcheck.render import sarif
from dlcheck.results import CheckResult, Finding, Report

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
FROZEN = "tests/modern/pytest_digits_frozen.py"
HEALTHY = "tests/modern/pytest_digits_ok.py"
BN_ON_LOGITS = "tests/zoo/bug_bn_on_logits.py"


def _valid(doc: dict) -> dict:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates SARIF (a dev dependency)")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(doc)
    return doc


def _run_sarif(cli, tmp_path, target, checks, monkeypatch, *more) -> tuple[int, dict]:
    monkeypatch.chdir(ROOT)  # the target's URI is relative to the working folder (the checkout)
    path = tmp_path / "dlcheck.sarif"
    result = cli("run", target, "--checks", checks, "--device", "cpu", "-q", "--sarif", path, *more)
    return result.exit_code, _valid(json.loads(path.read_text()))


def test_a_frozen_model_gives_errors_at_the_target_and_every_code_is_a_rule(cli, tmp_path, monkeypatch):
    code, doc = _run_sarif(cli, tmp_path, FROZEN, "overfit-small,lr-find", monkeypatch)
    assert code == 1
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)  # every code, in catalogue order
    rule = rules[list(CODES).index("DLC204")]
    assert rule["help"]["text"] == (f"What it means: {CODES['DLC204'].title}\nWhy it matters: "
                                    f"{CODES['DLC204'].why}\nHow to fix it: {CODES['DLC204'].fix}")
    assert rule["defaultConfiguration"]["level"] == "error" and rule["properties"]["check"] == "overfit-small"
    errors = [r for r in run["results"] if r["level"] == "error"]
    assert {r["ruleId"] for r in errors} == {"DLC204", "DLC301"}
    for r in errors:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        where = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert where == FROZEN
    assert run["invocations"][0]["executionSuccessful"] is True
    assert run["properties"]["checks"] == {"overfit-small": "fail", "lr-find": "fail"}


def test_a_healthy_setup_gives_notes_only(cli, tmp_path, monkeypatch):
    code, doc = _run_sarif(cli, tmp_path, HEALTHY, "init-loss,init-stats,bn-gap", monkeypatch)
    assert code == 0
    assert {r["level"] for r in doc["runs"][0]["results"]} <= {"note"}


def test_a_layer_named_in_a_message_is_a_logical_location(cli, tmp_path, monkeypatch):
    code, doc = _run_sarif(cli, tmp_path, BN_ON_LOGITS, "bn-gap", monkeypatch)
    assert code == 1
    (result,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "DLC501"]
    assert result["level"] == "error"
    assert result["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "3"


def test_levels_layers_and_targets_from_a_report():
    checks = [
        CheckResult("init-stats", "warn", findings=[
            Finding("DLC407", "warn", "layer1.0.conv1 [Conv2d]: weight std 0.01 (and 3 [ReLU])", "use He"),
            Finding("DLC404", "info", "'encoder.fc' is not a layer any check listed")]),
        CheckResult("bn-gap", "error", findings=[Finding("DLC002", "error", "boom in 'head'")],
                    details={"bn_layers": [{"name": "head"}]}),
    ]
    doc = _valid(sarif.to_sarif(Report(target="<objects>", device="cpu", seed=0, checks=checks)))
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results] == ["warning", "note", "error"]
    assert "locations" not in results[1]  # no file for objects, no listed layer named
    layers = results[0]["locations"][0]["logicalLocations"]
    assert [(x["fullyQualifiedName"], x["name"], x["properties"]["type"]) for x in layers] == [
        ("layer1.0.conv1", "conv1", "Conv2d"), ("3", "3", "ReLU")]
    assert results[2]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "head"
    assert results[0]["message"]["text"] == "init-stats: layer1.0.conv1 [Conv2d]: weight std 0.01 (and 3 [ReLU])\nAdvice: use He"
    assert doc["runs"][0]["invocations"][0]["executionSuccessful"] is False


def test_a_module_target_is_located_at_its_file(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "setup.py").write_text("")
    monkeypatch.chdir(tmp_path)
    assert sarif.target_file("pkg.setup") == "pkg/setup.py"
    assert sarif.target_file("pkg.missing") is None
    assert sarif.target_file(str(tmp_path / "pkg" / "setup.py")) == "pkg/setup.py"


def test_the_help_uri_comes_from_the_package_metadata(monkeypatch):
    from importlib import metadata

    class Meta:
        def __init__(self, urls):
            self.urls = urls

        def get_all(self, key):
            return self.urls if key == "Project-URL" else None

    monkeypatch.setattr(metadata, "metadata", lambda name: Meta(["Repository, https://example.org/dlcheck/"]))
    assert sarif.help_uri() == "https://example.org/dlcheck#finding-codes"
    doc = sarif.to_sarif(Report(target="<objects>", device="cpu", seed=0))
    assert {r["helpUri"] for r in doc["runs"][0]["tool"]["driver"]["rules"]} == {
        "https://example.org/dlcheck#finding-codes"}
    monkeypatch.setattr(metadata, "metadata", lambda name: Meta([]))
    assert sarif.help_uri() is None  # never guessed
    assert "helpUri" not in _valid(sarif.to_sarif(Report(target="x", device="cpu", seed=0)))["runs"][0][
        "tool"]["driver"]["rules"][0]


def test_sarif_is_refused_on_an_input_and_written_with_the_other_reports(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    refused = cli("run", FROZEN, "--checks", "init-loss", "--device", "cpu", "-q", "--sarif", FROZEN)
    assert refused.exit_code == 2 and "--sarif" in refused.stderr and "the target" in refused.stderr
    clash = cli("run", FROZEN, "--checks", "init-loss", "-q", "--sarif", tmp_path / "r", "--json", tmp_path / "r")
    assert clash.exit_code == 2 and "--json" in clash.stderr and "--sarif" in clash.stderr
    both = cli("run", HEALTHY, "--checks", "init-loss", "--device", "cpu", "-q", "--sarif", tmp_path / "r.sarif",
               "--json", tmp_path / "r.json")
    assert both.exit_code == 0
    assert json.loads((tmp_path / "r.sarif").read_text())["version"] == "2.1.0"
    assert (tmp_path / "r.json").is_file()


def test_the_healthy_twin_is_clean_and_the_frozen_one_caught_on_seeds_0_1_2():
    import dlcheck

    for seed in (0, 1, 2):
        healthy = dlcheck.run(str(ROOT / HEALTHY), device="cpu", seed=seed)
        assert healthy.status == "pass", (seed, healthy.problems(strict=True))
        assert not [f for c in healthy.checks for f in c.findings if f.severity != "info"], seed
        frozen = dlcheck.run(str(ROOT / FROZEN), device="cpu", seed=seed, checks=["overfit-small"])
        assert [f.code for f in frozen.checks[0].findings if f.severity == "fail"] == ["DLC204"], seed
