"""Bad input: one sentence on stderr naming what and where, exit code 2, no traceback, nothing
written half-way (DESIGN §4, the foundation issue's list)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import RECIPES, ROOT, SETUPS

DIGITS = SETUPS / "no_model.py"  # any target; most cases fail before it matters


def assert_one_line_error(res, *needles):
    assert res.exit_code == 2, (res.stdout, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("dlcheck: error: ")
    assert "Traceback" not in res.stderr + res.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_target_file(cli, tmp_path):
    res = cli("init-loss", tmp_path / "nope.py")
    assert_one_line_error(res, "nope.py", "does not exist")


def test_target_without_model(cli):
    assert_one_line_error(cli("init-loss", SETUPS / "no_model.py"), "no_model.py", "'model'")


def test_target_without_train_loader(cli):
    assert_one_line_error(cli("init-loss", SETUPS / "no_loader.py"), "no_loader.py", "'train_loader'")


def test_factory_that_raises_names_type_message_and_name(cli):
    res = cli("init-loss", SETUPS / "factory_raises.py")
    assert_one_line_error(res, "'model' in", "factory_raises.py", "ValueError", "hidden width must be positive")


def test_target_whose_import_fails_names_the_line(cli):
    res = cli("init-loss", SETUPS / "import_error.py")
    assert_one_line_error(res, "import_error.py", "ValueError", "(line 5)")


def test_spec_without_colon(cli):
    res = cli("init-loss", "--model", "models.py", "--data", "data.py:loader")
    assert_one_line_error(res, "--model 'models.py'", "file.py:name")


def test_spec_naming_a_missing_attribute(cli):
    res = cli("init-loss", "--model", f"{SETUPS / '_digits.py'}:resnet", "--data", f"{SETUPS / '_digits.py'}:loader")
    assert_one_line_error(res, "--model", "defines no 'resnet'")


def test_specs_alone_make_a_target(cli):
    res = cli("init-loss", "--model", f"{SETUPS / '_digits.py'}:mlp", "--data", f"{SETUPS / '_digits.py'}:loader")
    assert res.exit_code == 0, res.stderr


def test_loader_yielding_bare_tensors_without_forward(cli):
    res = cli("init-loss", SETUPS / "tensor_batches.py")
    assert_one_line_error(res, "'train_loader' in", "batch 0", "Tensor of shape (64, 64)", "forward(model, batch)")


def test_empty_loader(cli):
    assert_one_line_error(cli("init-loss", SETUPS / "empty_loader.py"), "'train_loader'", "yielded no batches")


def test_labels_out_of_range(cli, tmp_path):
    report = tmp_path / "report.json"
    res = cli("init-loss", SETUPS / "labels_out_of_range.py", "--json", report)
    assert_one_line_error(res, "labels in", "batch 0", "from 1 to 10", "10 classes")
    # found while the check ran: the report is written whole, and says error
    data = __import__("json").loads(report.read_text())
    assert data["status"] == "error" and data["checks"][0]["findings"][0]["code"] == "DLC107"


def test_yaml_syntax_error(cli, tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("target: x.py\nseed: [0\n")
    assert_one_line_error(cli("init-loss", "--config", recipe), "bad.yaml", "not valid YAML", "line")


def test_yaml_unknown_key(cli, tmp_path):
    recipe = tmp_path / "typo.yaml"
    recipe.write_text("target: x.py\nsede: 3\n")
    assert_one_line_error(cli("run", recipe), "typo.yaml", "unknown key 'sede'")


def test_yaml_unknown_check_setting(cli, tmp_path):
    recipe = tmp_path / "typo.yaml"
    recipe.write_text(f"target: {RECIPES / 'digits_setup.py'}\ninit-loss:\n  fail_ratio: 3\n")
    assert_one_line_error(cli("init-loss", recipe), "unknown key 'init-loss.fail_ratio'")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_asked_for_without_cuda(cli):
    assert_one_line_error(cli("init-loss", RECIPES / "digits.yaml", "--device", "cuda"), "--device cuda", "CUDA is not available")


def test_device_that_is_not_one(cli):
    assert_one_line_error(cli("init-loss", RECIPES / "digits.yaml", "--device", "tpu"), "--device tpu")


def test_output_path_that_cannot_be_written(cli, tmp_path):
    res = cli("init-loss", RECIPES / "digits.yaml", "--json", tmp_path / "missing" / "r.json")
    assert_one_line_error(res, "--json", "does not exist")


def test_out_folder_that_is_a_file(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(cli("init-loss", RECIPES / "digits.yaml", "--out", blocker), "--out", "is a file")


def test_nothing_written_half_way(cli, tmp_path):
    report = tmp_path / "report.json"
    junit = tmp_path / "junit.xml"
    res = cli("init-loss", SETUPS / "factory_raises.py", "--json", report, "--junit", junit, "--out", tmp_path / "out")
    assert res.exit_code == 2
    assert not report.exists() and not junit.exists() and not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(cli):
    res = cli("init-loss", SETUPS / "factory_raises.py", "--debug")
    assert res.exit_code == 2
    assert "Traceback" in res.stderr and "hidden width must be positive" in res.stderr


def test_a_real_process_gets_exit_code_2_and_no_traceback():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "dlcheck", "init-loss", str(SETUPS / "factory_raises.py")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
