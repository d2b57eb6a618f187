"""The Hugging Face Trainer callback and `dlcheck run --hf-trainer` (issue 21, item 2), on the
README's example docs/examples/hf_trainer_tokens.py (a tiny BERT from a config on synthetic
sentiment-like tokens, the Trainer's own collator, `labels` in the batch, the model's own loss):
a healthy Trainer passes, a head x200 is flagged (init-loss warns: a far-too-high loss that still
trains), a frozen model fails and stop_on_fail stops training before its first optimizer step; the model is handed back bit-identical and the training is the one without the
callback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it (transformers[torch])

from helpers import snapshot  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
sys.path.insert(0, str(EXAMPLES))

from hf_trainer_tokens import make_model, make_trainer  # noqa: E402

from dlcheck.integrations import ChecksFailed  # noqa: E402
from dlcheck.integrations.transformers import DLCheckCallback  # noqa: E402
from test_integration_lightning import assert_identical  # noqa: E402

CHECKS = ["init-loss", "overfit-small"]


class Recorder(TrainerCallback):
    """The model as training starts (after the callbacks before this one) and the steps begun."""

    def __init__(self):
        self.at_start, self.steps = None, 0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.at_start = snapshot(model)

    def on_step_begin(self, args, state, control, **kwargs):
        self.steps += 1


def hot_model():
    """A planted bug: the classifier head's weights x200 (the initial loss 3x ln 2; at x50 the pooled
    tanh output keeps it at 1.3x, within init noise for 2 classes)."""
    torch.manual_seed(0)
    model = make_model()
    with torch.no_grad():
        model.classifier.weight.mul_(200)
    return model


def frozen_model():
    """A planted bug: the model frozen but for the classifier's bias (a half-done freeze)."""
    torch.manual_seed(0)
    model = make_model().requires_grad_(False)
    model.classifier.bias.requires_grad_(True)
    return model


def train(tmp_path, model, *callbacks, max_steps=2):
    recorder = Recorder()
    before = snapshot(model)
    trainer = make_trainer(model=model, callbacks=[*callbacks, recorder], output_dir=str(tmp_path / "out"),
                           max_steps=max_steps)
    trainer.train()
    return recorder, trainer, before


def healthy():
    torch.manual_seed(0)
    return make_model()


def test_a_healthy_trainer_passes_and_trains_as_without_the_callback(tmp_path):
    _, plain, _ = train(tmp_path, healthy())
    check = DLCheckCallback(checks=CHECKS, policy="stop_on_fail", quiet=True)
    recorder, trainer, before = train(tmp_path, healthy(), check)
    assert [c.status for c in check.report.checks] == ["pass"] * len(CHECKS), check.report.checks
    assert_identical(before, recorder.at_start)  # bit-identical when training starts
    assert trainer.state.global_step == plain.state.global_step == 2
    assert trainer.state.log_history[0]["loss"] == plain.state.log_history[0]["loss"]  # the first loss
    for a, b in zip(trainer.model.parameters(), plain.model.parameters()):
        assert torch.equal(a, b)  # the same batches, dropout and steps: the same weights after 2 steps


def test_a_hot_head_is_flagged_and_training_goes_on_under_warn(tmp_path):
    check = DLCheckCallback(checks=["init-loss"], quiet=True)
    recorder, trainer, before = train(tmp_path, hot_model(), check)
    assert check.report.checks[0].status == "warn", check.report.checks[0].summary
    assert "DLC101" in [f.code for f in check.report.checks[0].findings]
    assert_identical(before, recorder.at_start)
    assert trainer.state.global_step == 2


def test_stop_on_fail_stops_before_the_first_optimizer_step(tmp_path):
    check = DLCheckCallback(checks=["overfit-small"], policy="stop_on_fail", quiet=True)
    model = frozen_model()
    before = snapshot(model)
    trainer = make_trainer(model=model, callbacks=[check], output_dir=str(tmp_path / "out"), max_steps=2)
    with pytest.raises(ChecksFailed) as caught:
        trainer.train()
    assert caught.value.report.status == "fail"
    assert trainer.state.global_step == 0 and not trainer.optimizer.state
    assert_identical(before, snapshot(model))


def test_the_trainer_reads_should_training_stop_only_after_a_step(tmp_path):
    """Why stop_on_fail raises: the flag alone, set in on_train_begin, lets one step through."""
    class FlagOnly(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            control.should_training_stop = True

    recorder, trainer, _ = train(tmp_path, healthy(), FlagOnly())
    assert trainer.state.global_step == 1 and recorder.steps == 1


def _cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120",
           "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent.parent), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "dlcheck", "run", *args], cwd=EXAMPLES, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_cli_checks_a_trainer_factory():
    done = _cli("--hf-trainer", "hf_trainer_tokens:make_trainer", "--checks", ",".join(CHECKS), "--json", "-")
    assert done.returncode == 0, done.stderr
    assert {c["name"]: c["status"] for c in json.loads(done.stdout)["checks"]} == dict.fromkeys(CHECKS, "pass")


def test_the_cli_refuses_a_factory_that_returns_no_trainer():
    done = _cli("--hf-trainer", "hf_trainer_tokens:make_model", "--checks", "init-loss")
    assert done.returncode == 2 and "not a transformers.Trainer" in done.stderr


def test_the_readme_example_runs_as_written():
    done = subprocess.run([sys.executable, str(EXAMPLES / "hf_trainer_tokens.py")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120",
                                            "PYTHONPATH": os.pathsep.join([str(EXAMPLES.parent.parent),
                                                                           os.environ.get("PYTHONPATH", "")])})
    assert done.returncode == 0, done.stderr
    assert "verdict: pass" in done.stdout and "train_runtime" in done.stdout + done.stderr
