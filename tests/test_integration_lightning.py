"""The Lightning callback and `dlcheck run --lightning` (issue 21, item 1), on the README's example
docs/examples/lightning_digits.py (a small MLP on scikit-learn's digits) and its planted bugs
(docs/examples/lightning_bugs.py): a healthy module passes, a frozen one is flagged, stop_on_fail
stops the fit before its first training step; the module is handed back bit-identical and the
first training loss is the one without the callback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

L = pytest.importorskip("lightning.pytorch")

from helpers import snapshot  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
sys.path.insert(0, str(EXAMPLES))

from lightning_bugs import LitDigitsFrozen  # noqa: E402
from lightning_digits import DigitsData, LitDigits  # noqa: E402

from dlcheck.integrations import ChecksFailed  # noqa: E402
from dlcheck.integrations.lightning import DLCheck, first_optimizer  # noqa: E402

CHECKS = ["init-loss", "overfit-small", "optimizer"]


class Recorder(L.Callback):
    """The module as the first training step finds it, the first loss, how many steps ran."""

    def __init__(self):
        self.steps, self.first_loss, self.at_start = 0, None, None

    def on_train_start(self, trainer, module):
        self.at_start = snapshot(module)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.steps += 1
        if self.first_loss is None:
            self.first_loss = outputs["loss"].item()


def fit(module_cls, *callbacks, **trainer_kw):
    """(recorder, trainer, the module's snapshot before fit, its __dict__ keys) for a 3-step fit."""
    L.seed_everything(0, verbose=False)
    module, recorder = module_cls(), Recorder()
    before, keys = snapshot(module), set(vars(module))
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                        callbacks=[*callbacks, recorder], **trainer_kw)
    trainer.fit(module, datamodule=DigitsData())
    return recorder, trainer, (before, keys), module


def test_a_healthy_module_passes_and_trains_as_without_the_callback():
    plain, _, _, plain_module = fit(LitDigits)
    check = DLCheck(checks=CHECKS, policy="stop_on_fail", quiet=True)
    recorder, trainer, (before, _), module = fit(LitDigits, check)
    assert [c.status for c in check.report.checks] == ["pass"] * len(CHECKS), check.report.checks
    assert_identical(before, recorder.at_start)  # bit-identical when training starts
    assert set(vars(module)) == set(vars(plain_module))  # nothing left behind (self.log silenced while checking)
    assert recorder.first_loss == plain.first_loss and recorder.steps == plain.steps == 3
    assert trainer.global_step == 3


def assert_identical(a: dict, b: dict) -> None:
    """Two helpers.snapshot()s: the same tensors bit for bit, modes, flags, parameter objects, hooks."""
    assert {k: v for k, v in a.items() if k != "state"} == {k: v for k, v in b.items() if k != "state"}
    assert a["state"].keys() == b["state"].keys()
    assert all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])


def test_a_frozen_module_is_flagged_and_the_fit_goes_on_under_warn():
    check = DLCheck(checks=CHECKS, quiet=True)
    recorder, trainer, (before, _), _ = fit(LitDigitsFrozen, check)
    assert check.report.status == "fail"
    assert "fail" == next(c.status for c in check.report.checks if c.name == "overfit-small")
    assert_identical(before, recorder.at_start)
    assert recorder.steps == 3  # policy="warn": the report is printed, the fit runs


def test_stop_on_fail_stops_the_fit_before_its_first_training_step():
    check = DLCheck(checks=["overfit-small"], policy="stop_on_fail", quiet=True)
    recorder, trainer, (before, _), module = fit(LitDigitsFrozen, check)
    assert check.report.status == "fail"
    assert recorder.steps == 0 and trainer.global_step == 0 and recorder.at_start is None
    assert_identical(before, snapshot(module))  # not one step taken: the weights as built
    assert not trainer.optimizers[0].state  # the user's optimizer never stepped


def test_stop_on_fail_raises_when_min_epochs_would_keep_the_fit_going():
    check = DLCheck(checks=["overfit-small"], policy="stop_on_fail", quiet=True)
    with pytest.raises(ChecksFailed) as caught:
        fit(LitDigitsFrozen, check, min_epochs=1)
    assert caught.value.report.status == "fail"


def test_the_html_report_is_written(tmp_path):
    check = DLCheck(checks=["init-loss"], html=str(tmp_path / "r.html"), quiet=True)
    fit(LitDigits, check, max_epochs=1)
    assert "init-loss" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("form", ["optimizer", "list", "tuple_of_lists", "dict", "list_of_dicts"])
def test_every_form_configure_optimizers_returns_is_read(form):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, 1)
    forms = {"optimizer": opt, "list": [opt], "tuple_of_lists": ([opt], [sched]),
             "dict": {"optimizer": opt, "lr_scheduler": sched},
             "list_of_dicts": [{"optimizer": opt, "lr_scheduler": {"scheduler": sched}}]}
    assert first_optimizer(forms[form]) is opt


def test_param_groups_and_their_lr_ratios_are_kept():
    from dlcheck.integrations._target import optimizer_factory

    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.AdamW([{"params": net[0].parameters(), "weight_decay": 0.1},
                             {"params": net[1].parameters(), "lr": 1e-4, "weight_decay": 0.0}], lr=1e-3)
    factory, lr = optimizer_factory(opt, net)
    built = factory(net.parameters(), lr=1e-2)
    assert lr == 1e-3 and type(built) is torch.optim.AdamW
    assert [g["lr"] for g in built.param_groups] == pytest.approx([1e-2, 1e-3])
    assert [g["weight_decay"] for g in built.param_groups] == [0.1, 0.0]


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent.parent), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "dlcheck", "run", *args], cwd=EXAMPLES, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("module, code", [("lightning_digits:LitDigits", 0), ("lightning_bugs:LitDigitsFrozen", 1)])
def test_the_cli_checks_a_lightning_module_without_a_target_file(module, code):
    done = _cli("--lightning", module, "--datamodule", "lightning_digits:DigitsData", "--checks",
                ",".join(CHECKS), "--json", "-")
    assert done.returncode == code, done.stderr
    import json

    report = json.loads(done.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert statuses["overfit-small"] == ("pass" if code == 0 else "fail"), statuses
    assert "error" not in statuses.values()


def test_the_cli_says_what_is_wrong_in_one_sentence():
    done = _cli("--lightning", "lightning_digits:DigitsData")
    assert done.returncode == 2
    assert "not a LightningModule" in done.stderr


def test_the_package_imports_no_framework_and_a_missing_one_is_named():
    code = ("import sys; import dlcheck.integrations; assert 'torch' not in sys.modules, 'torch'; "
            "sys.modules['lightning.pytorch'] = None; sys.modules['transformers'] = None\n"
            "from dlcheck.errors import UserError\n"
            "for name, package in (('lightning', 'lightning'), ('transformers', 'transformers')):\n"
            "    try:\n"
            "        __import__('dlcheck.integrations.' + name)\n"
            "    except UserError as exc:\n"
            "        assert f'pip install {package}' in str(exc), exc\n"
            "    else:\n"
            "        raise AssertionError(name)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(EXAMPLES.parent.parent)})
    assert done.returncode == 0, done.stderr


def test_the_readme_example_runs_as_written():
    done = subprocess.run([sys.executable, str(EXAMPLES / "lightning_digits.py")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120",
                                            "PYTHONPATH": str(EXAMPLES.parent.parent)})
    assert done.returncode == 0, done.stderr
    assert "verdict: pass" in done.stdout and "max_epochs=1` reached" in done.stderr
