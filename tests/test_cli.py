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
    from dlcheck import registry as checks

    return [*checks.available(), "run", "list", "explain"]


@pytest.mark.parametrize("args", [["--help"]] + [[c, "--help"] for c in _commands()])
def test_help_does_not_import_torch(args):
    proc = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": "120"})
    assert proc.stdout.strip().endswith("NO-TORCH"), proc.stdout + proc.stderr
    assert "Usage" in proc.stdout


def test_commands_and_flags_come_from_the_specs():
    """Every spec is a command; its flags are options with the spec's help; --lr/--amp exactly on
    the checks that train; `run` runs the specs in order."""
    import typer.main

    from dlcheck import registry as checks
    from dlcheck.cli import app

    commands = typer.main.get_command(app).commands
    assert list(commands)[:len(checks.available())] == checks.available()
    for spec in checks.specs():
        command = commands[spec.name]
        options = {opt: param for param in command.params for opt in getattr(param, "opts", [])}
        assert command.help == spec.help
        for flag in spec.flags:
            assert options[flag.option].help == flag.help, f"{spec.name} {flag.option}"
        assert ("--lr" in options) == ("--amp" in options) == spec.trains, spec.name
    assert "--lr" in {opt for p in commands["run"].params for opt in getattr(p, "opts", [])}
    assert checks.run_by_default() == [s.name for s in checks.specs() if s.in_run]


def test_readme_commands_table_matches_the_specs():
    from dlcheck.registry import commands_table

    assert commands_table() in (ROOT / "README.md").read_text(encoding="utf-8"), \
        "paste dlcheck.registry.commands_table() into the README's Commands section"


def test_version(cli):
    res = cli("--version")
    assert res.exit_code == 0 and res.stdout.startswith("dlcheck 0.")


def test_list_and_explain(cli):
    from dlcheck import registry as checks

    res = cli("list")
    assert res.exit_code == 0 and "init-loss" in res.stdout and "DLC101" in res.stdout
    for spec in checks.specs():
        assert spec.name in res.stdout and spec.title in res.stdout
    assert "DLC801" in res.stdout
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
