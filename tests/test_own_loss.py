"""Models that compute their own loss (dlcheck/own_loss.py): tiny Hugging Face models from configs
(random weights, nothing downloaded) given `labels` in their dict batches — a GPT-2 causal LM, a
BERT masked LM and a BERT sequence classifier — with no loss_fn in the target; a model with
torchvision detection's interface (a dict of losses in training mode, a list of detections in
eval mode); and a target whose training_step(model, batch) returns the loss.

- each is proved to train by a plain PyTorch loop below (its own loss falls clearly; the
  classifier beats chance on held-out sentences);
- dlcheck trains the model's own loss and infers its task by matching a standard loss to it:
  cross-entropy over the last axis, shifted by one for the causal LM; every check of `dlcheck run`
  passes on seeds 0-2;
- planted bugs: a batch without labels is bad input naming `labels`; a detached model loss is
  DLC005; a GPT-2 head 30x too hot fails init-loss against ln V."""

from __future__ import annotations

import functools
import math
import sys
from pathlib import Path

import pytest
import torch

import dlcheck
from helpers import unhealthy

pytest.importorskip("transformers")
TASKS = Path(__file__).resolve().parent / "tasks"
HF = ("ok_hf_causal_lm", "ok_hf_masked_lm", "ok_hf_sequence_classifier")
LOSS_ONLY = ("ok_detection_losses", "ok_training_step_multitask")
OWN_LOSS_BUGS = ("bug_hf_causal_lm_no_labels", "bug_hf_detached_loss", "bug_hf_causal_lm_head_x30")
#: a real torchvision Faster R-CNN (weights=None): ~0.3 s a training step on one CPU thread, so
#: dlcheck runs it with short budgets (its training checks then read a shorter course)
TV_DETECTOR = "ok_tv_detector"
#: overfit-small on one batch: at 60 steps the detector's loss over two batches (3.1 on one, 0.9 on the
#: other at init) is noise around a 25 % fall, exactly memorised's threshold without a floor, so the
#: verdict flips with tiny numeric differences (it did between two installs of the same pins);
#: on one batch it falls ~70 % and levels off (seeds 0 and 1)
DETECTOR_SETTINGS = {"overfit-small": {"max_steps": 60, "batches": 1}, "lr-find": {"steps": 40},
                     "data-check": {"pair_steps": 20}}


def setup(name: str):
    sys.path.insert(0, str(TASKS))
    try:
        import importlib

        return importlib.import_module(name)
    finally:
        sys.path.remove(str(TASKS))


@functools.lru_cache(maxsize=None)
def report(name: str, seed: int):
    return dlcheck.run(str(TASKS / f"{name}.py"), device="cpu", seed=seed)


def plain_loop(name: str, steps: int = 120):
    """(first loss, mean of the last 10) training the set-up's model on its own loss, Adam."""
    s = setup(name)
    torch.manual_seed(0)
    model = s.model().train()
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    losses, step = [], 0
    while step < steps:
        for batch in s.train_loader():
            loss = model(**batch).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if step == steps:
                break
    return losses[0], sum(losses[-10:]) / 10, model, s


@pytest.mark.parametrize("name", HF)
def test_each_set_up_trains_in_a_plain_loop(name):
    first, last, model, s = plain_loop(name)
    assert last < 0.75 * first, (first, last)
    if name == "ok_hf_sequence_classifier":
        model.eval()
        with torch.no_grad():
            hits = [(model(**b).logits.argmax(1) == b["labels"]).float().mean() for b in s.val_loader()]
        assert float(torch.stack(hits).mean()) > 0.7


@pytest.mark.parametrize("name", LOSS_ONLY)
def test_each_loss_only_set_up_trains_in_a_plain_loop(name):
    """The detector-style model and the two-headed training_step, trained by hand on their loss."""
    s = setup(name)
    torch.manual_seed(0)
    model = s.model().train()
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    step_loss = s.training_step if hasattr(s, "training_step") else \
        (lambda m, b: sum(s.forward(m, b)[0].values()))
    epochs = []
    for _ in range(10 if name == "ok_detection_losses" else 3):
        losses = []
        for batch in s.train_loader():
            loss = step_loss(model, batch)
            loss = loss["loss"] if isinstance(loss, dict) else loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epochs.append(sum(losses) / len(losses))
    assert epochs[-1] < 0.6 * epochs[0], epochs
    if name == "ok_detection_losses":  # held-out scenes: the class beats chance, the box is close
        model.eval()
        with torch.no_grad():
            images, targets = next(iter(s.val_loader()))
            found = model(images)
        right = sum(int(f["labels"][0] == t["labels"][0]) for f, t in zip(found, targets)) / len(found)
        error = sum(float((f["boxes"] - t["boxes"]).abs().mean()) for f, t in zip(found, targets)) / len(found)
        assert right > 0.4 and error < 2.5, (right, error)  # chance: 0.1 and ~6 px


@pytest.mark.parametrize("name,seed", [(n, s) for n in HF + LOSS_ONLY for s in (0, 1, 2)])
def test_every_check_passes(name, seed):
    rep = report(name, seed)
    bad = unhealthy(rep)
    assert not bad, bad


@pytest.mark.parametrize("name,classes,shift", [("ok_hf_causal_lm", "V", 1), ("ok_hf_masked_lm", "V+1", 0),
                                                ("ok_hf_sequence_classifier", 2, 0)])
def test_the_task_is_matched_to_the_models_own_loss(name, classes, shift):
    task = report(name, 0).task
    vocab = setup("_charlm").VOCAB
    assert task["kind"] == "classification" and "the model's own loss" in task["loss"]
    assert task["classes"] == {"V": vocab, "V+1": vocab + 1}.get(classes, classes)
    assert task.get("shift", 0) == shift and task.get("classes_last", False) == (classes != 2)
    init = next(c for c in report(name, 0).checks if c.name == "init-loss")
    assert abs(init.metrics["expected"] - math.log(task["classes"])) < 1e-3  # ln C, in the model's units


def test_the_matched_stand_in_reproduces_the_models_loss():
    """Cross-entropy of the shifted logits (classes moved to axis 1) against the shifted labels is
    the GPT-2's own loss, to float precision; unshifted it is not."""
    from dlcheck import own_loss

    s = setup("ok_hf_causal_lm")
    torch.manual_seed(0)
    model = s.model()
    batch = next(iter(s.train_loader()))
    out = model(**batch)
    kind, layout, stand_in = own_loss.match(out.loss, out.logits, batch["labels"])
    assert (kind, layout.classes_last, layout.shift) == ("classification", True, 1)
    value = stand_in(layout.logits(out.logits), layout.targets(batch["labels"]))
    assert torch.allclose(value, out.loss, rtol=1e-5)
    unshifted = torch.nn.functional.cross_entropy(out.logits.movedim(-1, 1), batch["labels"])
    assert not torch.allclose(unshifted, out.loss, rtol=1e-4)


def test_a_batch_without_labels_names_them(cli):
    res = cli("init-loss", TASKS / "bug_hf_causal_lm_no_labels.py", "--device", "cpu")
    assert res.exit_code == 2
    assert "'labels'" in res.stderr and "Traceback" not in res.stderr


def test_a_detached_model_loss_is_nothing_trains():
    rep = dlcheck.run(str(TASKS / "bug_hf_detached_loss.py"), device="cpu", checks=["overfit-small"])
    check = rep.checks[0]
    assert check.status == "fail" and "DLC005" in {f.code for f in check.findings}, check.summary


def test_a_hot_head_fails_init_loss_against_ln_v():
    rep = dlcheck.run(str(TASKS / "bug_hf_causal_lm_head_x30.py"), device="cpu", checks=["init-loss"])
    check = rep.checks[0]
    assert check.status == "fail" and "DLC101" in {f.code for f in check.findings}, check.summary


@pytest.mark.parametrize("name,how", [("ok_detection_losses", "loss_classifier + loss_box_reg"),
                                      ("ok_training_step_multitask", "training_step")])
def test_a_loss_alone_is_judged_by_its_course_and_output_checks_say_why_they_skip(name, how):
    rep = report(name, 0)
    assert rep.task["kind"] == "other" and how in rep.task["loss"]
    checks = {c.name: c for c in rep.checks}
    assert checks["init-loss"].findings[0].code == "DLC108"  # reported, no reference
    assert "own course" in checks["overfit-small"].summary
    for name in ("batch-independence",) + (("bn-gap",) if name == "ok_detection_losses" else ()):
        assert checks[name].skipped and "loss alone" in checks[name].reason


def test_a_non_negative_loss_that_fell_98_percent_has_memorised_whatever_its_floor():
    from dlcheck.checks.overfit_small import SETTINGS
    from dlcheck.checks.overfit_small.course import levelled_off

    assert levelled_off(2.7, 0.04, None, SETTINGS)  # still creeping down, but at its floor
    assert not levelled_off(2.7, 0.2, None, SETTINGS)  # 93 % and still falling: not yet
    assert not levelled_off(2.7, -0.04, None, SETTINGS)  # below 0: never by this clause


def test_training_step_with_loss_fn_is_bad_input(cli, tmp_path):
    setup_file = tmp_path / "setup.py"
    setup_file.write_text("import torch\nfrom torch import nn\nmodel = lambda: nn.Linear(4, 2)\n"
                          "train_loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,)))] * 4\n"
                          "loss_fn = nn.CrossEntropyLoss()\n"
                          "def training_step(model, batch):\n    return loss_fn(model(batch[0]), batch[1])\n")
    res = cli("init-loss", setup_file)
    assert res.exit_code == 2 and "training_step" in res.stderr and "loss_fn" in res.stderr


def test_a_real_torchvision_detector_trains_in_a_plain_loop():
    """Faster R-CNN from weights=None, its four losses summed, Adam on two batches: the loss falls."""
    s = setup(TV_DETECTOR)
    torch.manual_seed(0)
    model = s.model().train()
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    batches = list(s.train_loader())[:2]
    losses = []
    for step in range(60):
        loss = sum(s.forward(model, batches[step % 2])[0].values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:2]) / 2, losses


def test_a_real_torchvision_detector_passes_every_check():
    """The issue's own example: a torchvision detector returns a dict of losses in training mode and
    a list of detections in eval mode. Every check passes, skips with its reason or says only notes
    (seed 0: the model costs ~45 s a run here)."""
    rep = dlcheck.run(str(TASKS / f"{TV_DETECTOR}.py"), device="cpu", seed=0, settings=DETECTOR_SETTINGS)
    bad = unhealthy(rep)
    assert not bad, bad
    assert "loss_objectness" in rep.task["loss"] and rep.task["kind"] == "other"
    skipped = {c.name for c in rep.checks if c.skipped}
    assert {"bn-gap", "batch-independence"} <= skipped  # eval mode returns detections: nothing to compare
