"""The CLI's shape: fast help without torch, every command, list, explain, version, recipes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import RECIPES, ROOT

PROBE = """
import sys
from dlcheck.cli import app
try:
    app({args!r})
except SystemExit:
    pass
print("TORCH" if "torch" in sys.modules else "NO-TORCH")
"""


def _commands():
    from dlcheck import checks

    return [*checks.available(), "run", "list", "explain"]


@pytest.mark.parametrize("args", [["--help"]] + [[c, "--help"] for c in _commands()])
def test_help_does_not_import_torch(args):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": "120"})
    assert proc.stdout.strip().endswith("NO-TORCH"), proc.stdout + proc.stderr
    assert "Usage" in proc.stdout


def test_every_check_flag_is_a_setting_of_its_check():
    from dlcheck import checks
    from dlcheck.cli import CHECK_FLAGS

    for name in checks.available():
        module = checks.load(name)
        for flag in CHECK_FLAGS.get(name, []):
            assert flag.key in module.SETTINGS, f"{name} {flag.option}"
            default = module.SETTINGS[flag.key]  # None: off unless given
            assert default is None or isinstance(default, flag.type) or flag.type is float


def test_version(cli):
    res = cli("--version")
    assert res.exit_code == 0 and res.stdout.startswith("dlcheck 0.")


def test_list_and_explain(cli):
    res = cli("list")
    assert res.exit_code == 0 and "init-loss" in res.stdout and "DLC101" in res.stdout
    res = cli("explain", "dlc101")
    assert res.exit_code == 0
    assert "What it means" in res.stdout and "How to fix it" in res.stdout and "final layer" in res.stdout
    assert cli("explain", "init-loss-far-above").exit_code == 0
    res = cli("explain", "DLC9999")
    assert res.exit_code == 2 and "unknown finding code" in res.stderr


def test_recipe_flags_win_and_check_settings_apply(cli, tmp_path):
    import json

    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"target: {RECIPES / 'digits_setup.py'}\nseed: 5\ninit-loss:\n  batches: 2\n")
    report = json.loads(cli("init-loss", "--config", recipe, "--json", "-").stdout)
    assert report["seed"] == 5 and report["checks"][0]["metrics"]["batches"] == 2
    report = json.loads(cli("init-loss", recipe, "--seed", "1", "--batches", "3", "--json", "-").stdout)
    assert report["seed"] == 1 and report["checks"][0]["metrics"]["batches"] == 3


def test_recipe_target_is_relative_to_the_recipe(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("init-loss", RECIPES / "digits.yaml").exit_code == 0


def test_run_checks_option_selects(cli):
    import json

    res = cli("run", RECIPES / "digits.yaml", "--checks", "init-loss", "--json", "-")
    assert [c["name"] for c in json.loads(res.stdout)["checks"]] == ["init-loss"]
    res = cli("run", RECIPES / "digits.yaml", "--checks", "init-los")
    assert res.exit_code == 2 and "unknown check 'init-los'" in res.stderr


def test_sys_path_is_put_back(cli):
    before = list(sys.path)
    cli("init-loss", RECIPES / "digits.yaml")
    assert sys.path == before


def test_module_target(cli, monkeypatch):
    monkeypatch.chdir(ROOT)
    res = cli("init-loss", "recipes.digits_setup")
    assert res.exit_code == 0, res.stderr


def test_readme_code_table_matches_the_catalogue():
    from dlcheck.codes import markdown_table

    assert markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "run `python -m dlcheck.codes` to refresh the README's table"
