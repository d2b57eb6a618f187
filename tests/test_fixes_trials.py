"""--verify-fixes tried as a new user would (issue 23): other authors' architectures (torchvision's
resnet18, a tiny Hugging Face BERT from a config), a model given as an object, an optimizer with
param groups, raw 0-255 photos through torchvision transforms, an LSTM inside a bigger model and an
IterableDataset loader. Each fix must be verified, its line must be Python for THAT model (pasted
into the set-up, the finding is gone), the user's model object comes back bit-identical, and a
fix that cannot rebuild a loader says it does not apply."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import torch

import dlcheck

MODERN = Path(__file__).resolve().parent / "modern"
sys.path.insert(0, str(MODERN))


def _fix(check, setup, code, **kw):
    result = dlcheck.check(check, str(MODERN / setup), device="cpu", verify_fixes=True, **kw)
    finding = next(f for f in result.findings if f.code == code)
    return finding.fix


def _pasted(tmp_path, setup, body):
    """A set-up importing ``setup`` with ``body`` pasted after it (the user applying the line)."""
    path = tmp_path / f"pasted_{setup}"
    path.write_text(f"import sys\nsys.path.insert(0, {str(MODERN)!r})\nimport torch\nfrom torch import nn\n"
                    f"from {setup[:-3]} import *\nimport {setup[:-3]} as _orig\n" + textwrap.dedent(body))
    return str(path)


def _model_pasted(tmp_path, setup, line):
    return _pasted(tmp_path, setup, f"def model():\n    model = _orig.model()\n    {line}\n    return model\n")


def _codes(check, path, **kw):
    result = dlcheck.check(check, path, device="cpu", **kw)
    return result.status, {f.code for f in result.findings if f.severity in ("warn", "fail")}


@pytest.mark.slow
def test_resnet18_scaled_head(tmp_path):
    fix = _fix("init-loss", "tryfix_resnet_head_x50.py", "DLC101")
    assert fix["verified"] and fix["applied"] == "nn.init.zeros_(model.fc.bias); model.fc.weight.data.mul_(0.01)"
    assert _codes("init-loss", _model_pasted(tmp_path, "tryfix_resnet_head_x50.py", fix["applied"])) == ("pass", set())


@pytest.mark.slow
def test_resnet18_batch_norm_at_batch_two(tmp_path):
    fix = _fix("bn-gap", "tryfix_resnet_bn2.py", "DLC506")
    assert fix["verified"] and "model.layer2[0].downsample[1] = nn.GroupNorm(32, 128)" in fix["applied"]
    assert _codes("bn-gap", _model_pasted(tmp_path, "tryfix_resnet_bn2.py", fix["applied"])) == ("pass", set())


def test_tiny_bert_object_with_a_scaled_classifier_comes_back_bit_identical(tmp_path):
    import tryfix_bert_head_x50 as setup

    before = {k: v.clone() for k, v in setup.model.state_dict().items()}
    fix = _fix("init-loss", "tryfix_bert_head_x50.py", "DLC101", model=setup.model)
    assert fix["verified"] and fix["applied"].startswith("nn.init.zeros_(model.classifier.bias)"), fix
    after = setup.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    pasted = _pasted(tmp_path, "tryfix_bert_head_x50.py",
                     f"import copy\nmodel = copy.deepcopy(_orig.model)\n{fix['applied']}\n")
    assert _codes("init-loss", pasted) == ("pass", set())


def test_frozen_parts_name_the_modules_not_each_parameter():
    from dlcheck.checks.overfit_small.fixes import frozen_parts
    import tryfix_bert_frozen
    import tryfix_resnet_frozen

    for setup, parts in [(tryfix_bert_frozen, ["bert.embeddings", "bert.encoder"]),
                         (tryfix_resnet_frozen, ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"])]:
        model = setup.model()
        assert frozen_parts(model, [n for n, p in model.named_parameters() if not p.requires_grad]) == parts


def test_param_groups_keep_their_ratio_and_the_line_says_so(tmp_path):
    fix = _fix("lr-find", "tryfix_groups_lr_low.py", "DLC303")
    assert fix["verified"] and fix["applied"].startswith("lr = 0.01  # the lr your optimizer factory is handed: its 2 "
                                                         "param groups keep their ratios"), fix
    assert _codes("lr-find", _pasted(tmp_path, "tryfix_groups_lr_low.py", "lr = 0.01\n"))[0] == "pass"


def test_raw_photos_through_transforms_get_a_normalize_that_pastes(tmp_path):
    fix = _fix("data-check", "tryfix_photo_raw255.py", "DLC701")
    assert fix["verified"] and fix["applied"].startswith("transforms.Normalize(mean=[94.59, 101.7, 91.85], std=[")
    normalize = fix["applied"].split("  #")[0]
    pasted = _pasted(tmp_path, "tryfix_photo_raw255.py", f"""
        TRANSFORM = transforms.Compose([*TRANSFORM.transforms, {normalize}])
        train_loader = lambda: DataLoader(PatchDataset(TRANSFORM), batch_size=32, shuffle=True)
        """)
    assert _codes("data-check", pasted) == ("pass", set())


def test_lstm_inside_a_bigger_model_gets_a_line_that_runs(tmp_path):
    fix = _fix("batch-independence", "tryfix_lstm_seq_first.py", "DLC801")
    assert fix["verified"] and fix["applied"].startswith("model.encoder.rnn.batch_first = True"), fix
    pasted = _pasted(tmp_path, "tryfix_lstm_seq_first.py",
                     f"def model():\n    model = Classifier()\n    {fix['applied']}\n    return model\n")
    assert _codes("batch-independence", pasted) == ("pass", set())


def test_loader_fixes_on_an_iterable_dataset_do_not_apply():
    result = dlcheck.check("data-check", str(MODERN / "tryfix_iterable_raw.py"), device="cpu", verify_fixes=True)
    fixes = {f.code: f.fix for f in result.findings if f.fix}
    assert {"DLC707", "DLC702"} <= set(fixes)
    for fix in fixes.values():
        assert fix["after"] == "the fix does not apply to this set-up" and not fix["verified"]


@pytest.mark.parametrize("setup,check", [("tryfix_lstm_ok.py", "batch-independence"), ("tryfix_photo_ok.py", "data-check"),
                                         ("tryfix_bert_ok.py", "init-loss")])
def test_healthy_twins_get_nothing_applied(setup, check):
    for seed in (0, 1, 2):
        result = dlcheck.check(check, str(MODERN / setup), device="cpu", seed=seed, verify_fixes=True)
        assert result.status == "pass" and not [f for f in result.findings if f.fix], (seed, result.findings)


@pytest.mark.slow
def test_healthy_resnet_gets_nothing_applied():
    for seed in (0, 1, 2):
        for check in ("init-loss", "bn-gap"):
            result = dlcheck.check(check, str(MODERN / "tryfix_resnet_ok.py"), device="cpu", seed=seed, verify_fixes=True)
            assert result.status == "pass" and not [f for f in result.findings if f.fix], (check, seed)


def test_a_factory_that_scales_its_head_lr_is_handed_the_lr_that_lands_on_the_suggestion():
    fix = _fix("lr-find", "tryfix_groups_head_x10.py", "DLC303")
    suggested = float(fix["applied"].split("the largest at ")[1])
    handed = float(fix["applied"].split("lr = ")[1].split()[0])
    assert fix["verified"] and handed == pytest.approx(suggested / 10, rel=0.01), fix


@pytest.mark.slow
def test_resnet18_softmax_head(tmp_path):
    short = {"overfit-small": {"batches": 1, "max_steps": 30}}
    fix = _fix("overfit-small", "tryfix_resnet_softmax.py", "DLC203", settings=short)
    assert fix["verified"] and fix["applied"].startswith("model.fc[1] = nn.Identity()"), fix
    pasted = _model_pasted(tmp_path, "tryfix_resnet_softmax.py", fix["applied"])
    assert "DLC203" not in _codes("overfit-small", pasted, settings=short)[1]
