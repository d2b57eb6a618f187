"""The bug zoo: buggy set-ups written the ways users write them, each caught by the check that
should catch it, and healthy ones that pass every check (no crying wolf).

The table below is the README's "which check catches what"."""

from __future__ import annotations

from pathlib import Path

import pytest

import dlcheck
from dlcheck import registry as checks
from helpers import unhealthy

ZOO = Path(__file__).resolve().parent / "zoo"

#: setup file -> (check, code) pairs that must be flagged
CAUGHT = {
    "bug_init_scale": [("init-loss", "DLC101")],
    "bug_double_softmax": [("overfit-small", "DLC203")],
    "bug_frozen": [("overfit-small", "DLC204")],
    "bug_optimizer_misses_params": [("overfit-small", "DLC204"), ("optimizer", "DLC971")],
    "bug_head_replaced_after_optimizer": [("optimizer", "DLC971")],
    "bug_lr_too_high": [("overfit-small", "DLC202"), ("lr-find", "DLC302")],
    "bug_lr_too_low": [("overfit-small", "DLC201"), ("lr-find", "DLC303")],
    "bug_tanh_collapse": [("init-stats", "DLC401")],
    "bug_tanh_saturated": [("init-stats", "DLC403")],
    "bug_relu_explode": [("init-stats", "DLC402")],
    "bug_dead_relu": [("init-stats", "DLC404")],
    "bug_bn_on_logits": [("bn-gap", "DLC501")],
    "bug_bn_momentum_zero": [("bn-gap", "DLC504")],
    "bug_bn_batch_two": [("bn-gap", "DLC506")],
    "bug_raw_pixels": [("data-check", "DLC701")],
    "bug_sorted_unshuffled": [("data-check", "DLC707")],
    "bug_labels_apart": [("data-check", "DLC709")],
    "bug_nan_inputs": [("data-check", "DLC704"), ("init-loss", "DLC104")],
    "bug_destructive_aug": [("aug-preview", "DLC602")],
    "bug_double_normalise": [("aug-preview", "DLC605")],
    "bug_mask_not_flipped": [("aug-preview", "DLC607")],
    "bug_lstm_not_batch_first": [("batch-independence", "DLC801")],
    "bug_view_not_permute": [("batch-independence", "DLC801")],
    "bug_causal_no_mask": [("causality", "DLC851")],
    "bug_fp16_overflow": [("preflight", "DLC982")],
    "bug_resume_no_optimizer_state": [("resume", "DLC963")],
}
HEALTHY = ["ok_digits_mlp", "ok_digits_bn_cnn", "ok_wine_sgd", "ok_breast_cancer_dict", "ok_photo_cnn"]

CASES = [(setup, check, code) for setup, pairs in CAUGHT.items() for check, code in pairs]


@pytest.mark.parametrize("setup,check,code", CASES, ids=[f"{s}-{c}" for s, c, _ in CASES])
def test_bug_is_caught(setup, check, code):
    result = dlcheck.check(check, str(ZOO / f"{setup}.py"))
    found = {f.code: f for f in result.findings}
    assert code in found, f"{check} missed {code}: {result.status} {result.summary} {sorted(found)}"
    assert found[code].severity in ("warn", "fail")
    assert result.status in ("warn", "fail")
    assert found[code].advice


@pytest.mark.parametrize("setup", HEALTHY)
def test_healthy_setup_passes_every_check(setup):
    report = dlcheck.run(str(ZOO / f"{setup}.py"))
    assert [c.name for c in report.checks] == checks.run_by_default()
    bad = unhealthy(report)
    assert not bad, bad


def test_every_check_is_built_and_in_the_zoo():
    assert checks.available() == list(checks.REGISTRY)
    # every check of the default run has a bug it must catch (grid and curves have their own tests)
    assert {check for _, check, _ in CASES} == set(checks.run_by_default())


def test_zoo_is_big_enough():
    assert len(CAUGHT) >= 15 and len(HEALTHY) >= 5
    assert {ZOO / f"{s}.py" for s in [*CAUGHT, *HEALTHY]} == set(ZOO.glob("[!_]*.py"))


@pytest.mark.parametrize("setup", ["ok_digits_mlp", "ok_wine_sgd"])
def test_healthy_verdicts_hold_for_seeds_0_to_4(setup):
    verdicts = {seed: [(c.name, c.status) for c in dlcheck.run(str(ZOO / f"{setup}.py"), seed=seed).checks]
                for seed in range(5)}
    assert all(v == verdicts[0] for v in verdicts.values()), verdicts
    assert all(status == "pass" for _, status in verdicts[0])


def zoo_table() -> str:
    """The README's "which check catches what" table, from CAUGHT and the setups' docstrings."""
    import ast

    rows = ["| bug (tests/zoo) | caught by |", "|---|---|"]
    for setup, pairs in CAUGHT.items():
        doc = ast.get_docstring(ast.parse((ZOO / f"{setup}.py").read_text())).splitlines()[0]
        rows.append(f"| {doc.removeprefix('Bug: ')} | {', '.join(f'{c} {k}' for c, k in pairs)} |")
    return "\n".join(rows)


def test_readme_table_of_what_catches_what():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert zoo_table() in readme, "paste zoo_table() into the README"
