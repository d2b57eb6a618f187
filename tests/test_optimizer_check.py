"""The optimizer check on set-ups written the way practitioners write them (tests/modern/optim_*):
Adam with weight decay where AdamW was meant, a fine-tune whose head was replaced after the
optimizer's parameters were taken, a module built but never used, and their healthy twins run
through every check of `dlcheck run` on seeds 0-2."""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import pytest
import torch

import dlcheck
from dlcheck.errors import UserError
from helpers import unhealthy

TESTS = Path(__file__).resolve().parent
MODERN = TESTS / "modern"
HEALTHY = ("optim_adamw", "optim_finetune")


@functools.lru_cache(maxsize=None)
def check(path: str):
    return dlcheck.check("optimizer", path, device="cpu")


def codes(result) -> dict:
    return {f.code: f for f in result.findings}


def test_adam_with_weight_decay_warns_towards_adamw():
    result = check(str(MODERN / "optim_bug_adam_l2.py"))
    found = codes(result)
    assert set(found) == {"DLC973"} and result.status == "warn"
    assert "Adam with weight_decay=0.01" in found["DLC973"].message
    assert "AdamW(params, lr=lr, weight_decay=0.01)" in found["DLC973"].advice


def test_head_replaced_after_the_optimizer_fails_naming_the_head():
    result = check(str(MODERN / "optim_bug_head_replaced.py"))
    found = codes(result)
    assert set(found) == {"DLC971"} and found["DLC971"].severity == "fail"
    message = found["DLC971"].message
    assert "'head.weight', 'head.bias'" in message and "output layer 'head'" in message
    assert "2 other tensor(s) that are not the model's, none of which gets a gradient" in message
    assert result.metrics["output_layer"] == "head"


def test_zoo_optimizer_given_a_subset_fails_naming_what_is_left_out():
    found = codes(check(str(TESTS / "zoo" / "bug_optimizer_misses_params.py")))
    assert found["DLC971"].severity == "fail"
    assert "'body.0.weight', 'body.0.bias'" in found["DLC971"].message and "84%" in found["DLC971"].message


def test_unused_branch_warns_naming_its_parameters():
    result = check(str(MODERN / "optim_unused_branch.py"))
    found = codes(result)
    assert set(found) == {"DLC972"} and result.status == "warn"
    assert "'aux_head.weight', 'aux_head.bias'" in found["DLC972"].message


@pytest.mark.parametrize("path", ["modern/modules_frozen_probe.py", "modern/modules_compiled_cnn.py",
                                  "tasks/ok_hf_sequence_classifier.py", "tasks/ok_hf_causal_lm.py"])
def test_frozen_compiled_and_hugging_face_models_are_clean(path):
    result = check(str(TESTS / path))
    assert result.status == "pass" and not result.findings, [(f.code, f.message) for f in result.findings]


def test_the_model_object_is_handed_back_exactly_as_found():
    sys.path.insert(0, str(MODERN))
    try:
        mod = importlib.import_module("optim_bug_head_replaced")
    finally:
        sys.path.remove(str(MODERN))
    before = {n: (p, p.detach().clone()) for n, p in mod.model.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in mod.model.named_buffers()}
    old = [p.detach().clone() for p in mod.params]
    mod.model.train()
    result = dlcheck.check("optimizer", model=mod.model, train_loader=mod.train_loader, optimizer=mod.optimizer,
                           lr=mod.lr, device="cpu")
    assert result.status == "fail" and {f.code for f in result.findings} == {"DLC971"}
    for n, p in mod.model.named_parameters():
        assert p is before[n][0] and torch.equal(p, before[n][1]) and p.grad is None
    for n, b in mod.model.named_buffers():
        assert torch.equal(b, buffers[n])
    assert all(torch.equal(p, o) for p, o in zip(mod.params, old))
    assert mod.model.training


def test_parameters_in_two_groups_are_bad_input(tmp_path):
    path = tmp_path / "two_groups.py"
    path.write_text("import torch\nfrom torch import nn\n"
                    "model = lambda: nn.Linear(4, 2)\n"
                    "train_loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))]\n"
                    "def optimizer(params, lr):\n"
                    "    params = list(params)\n"
                    "    return torch.optim.SGD([{'params': params}, {'params': params[:1], 'lr': lr / 10}], lr=lr)\n")
    result = dlcheck.check("optimizer", str(path), device="cpu")
    assert result.status == "error"
    message = result.findings[0].message
    assert result.findings[0].code == "DLC001" and "more than one parameter group" in message and "optimizer" in message


@pytest.mark.parametrize("name", HEALTHY)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_twin_is_clean_in_every_check(name, seed):
    report = dlcheck.run(str(MODERN / f"{name}.py"), device="cpu", seed=seed)
    bad = unhealthy(report)
    bad.update({c.name: (c.status, c.summary, [f.code for f in c.findings]) for c in report.checks
                if any(f.code.startswith("DLC97") for f in c.findings)})
    assert not bad, bad
