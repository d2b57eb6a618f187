"""bn-gap with real PyTorch on digits: BatchNorm's set-up findings are found in execution order
(not registration order), the train-vs-eval gap names the layer where the modes part, the val
loader is used when given, healthy BN models pass, torchvision models run, and a model object
comes back bit-identical (momenta included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from helpers import assert_same, snapshot

ZOO = Path(__file__).resolve().parent / "zoo"


def loader(X, y, batch_size=64, shuffle=True):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def mlp(momentum=0.1, track=True, bias=False):
    return nn.Sequential(nn.Linear(64, 128, bias=bias), nn.BatchNorm1d(128, momentum=momentum, track_running_stats=track),
                         nn.ReLU(), nn.Linear(128, 10))


def found(result):
    return {f.code: f for f in result.findings}


def test_healthy_bn_cnn_passes_lists_layers_and_compares_on_val():
    result = dlcheck.check("bn-gap", str(ZOO / "ok_digits_bn_cnn.py"))
    assert result.status == "pass", (result.summary, [f.message for f in result.findings])
    rows = result.details["bn_layers"]
    assert [r["name"] for r in rows] == ["features.1", "features.4"]
    assert rows[0] | {"gap": 0} == {"name": "features.1", "kind": "BatchNorm2d", "features": 16, "momentum": 0.1,
                                    "eps": 1e-5, "affine": True, "track_running_stats": True, "batch": 64, "gap": 0,
                                    "bias_from": None}
    assert all(0 <= r["gap"] < 0.2 for r in rows)
    m = result.metrics
    assert m["compared_on"] == "val" and m["batch_size"] == 64  # the train batch, not the val batch of 128
    assert m["output_gap"] < 0.2 and m["agreement"] > 0.9
    assert {"loss_train_mode", "loss_eval_mode", "accuracy_train_mode", "accuracy_eval_mode"} <= set(m)


def test_val_loader_is_used_and_a_shifted_val_set_parts_the_modes(digits):
    X, y = digits
    train = loader(X[:1400], y[:1400])
    same = dlcheck.check("bn-gap", model=mlp, train_loader=train, val_loader=loader(X[1400:], y[1400:]))
    assert same.status == "pass" and same.metrics["compared_on"] == "val", same.summary
    # val data normalised differently from train: BN's batch statistics hide it, its running ones do not
    shifted = dlcheck.check("bn-gap", model=mlp, train_loader=train, val_loader=loader(X[1400:] * 2 + 1, y[1400:]))
    gap = found(shifted)["DLC507"]
    assert shifted.status == "fail" and gap.severity == "fail"
    assert "the modes part at '1'" in gap.message and "on val batches" in gap.message
    assert shifted.metrics["parts_at"] == "1" and shifted.metrics["largest_layer_gap"] > 1.0
    assert shifted.metrics["loss_eval_mode"] > shifted.metrics["loss_train_mode"]


def test_val_batches_smaller_than_training_batches_fall_back_to_train_batches(digits):
    X, y = digits
    for make, data in ((mlp, X), (lambda: nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.Flatten(),
                                                        nn.Linear(8 * 36, 10)), X.view(-1, 1, 8, 8))):
        result = dlcheck.check("bn-gap", model=make, train_loader=loader(data[:1400], y[:1400]),
                               val_loader=loader(data[1400:], y[1400:], batch_size=1, shuffle=False))
        assert result.status == "pass", result.summary  # BN1d cannot run on one sample; BN2d would be all noise
        assert result.metrics["compared_on"] == "train" and result.metrics["val_batch_size"] == 1
        assert "val batches of 1 are smaller" in result.summary
        alone = dlcheck.check("bn-gap", model=make, train_loader=loader(data[:1400], y[:1400]))
        assert result.metrics["largest_layer_gap"] == alone.metrics["largest_layer_gap"]  # the failed try left no trace


def test_batch_size_judged_from_the_batches_seen(digits):
    X, y = digits
    two = dlcheck.check("bn-gap", str(ZOO / "bug_bn_batch_two.py"))
    assert found(two)["DLC506"].severity == "fail" and two.metrics["batch_size"] == 2
    assert "GroupNorm" in found(two)["DLC506"].advice
    eight = dlcheck.check("bn-gap", model=mlp, train_loader=loader(X, y, batch_size=8))
    assert eight.status == "warn" and found(eight)["DLC505"].message.startswith("batch size 8")
    assert found(eight).get("DLC507", found(eight)["DLC505"]).severity == "warn"  # batch noise: a warning
    one = dlcheck.check("bn-gap", model=mlp, train_loader=loader(X, y, batch_size=1))  # BN1d cannot even run
    assert one.status == "fail" and "batch size 1" in found(one)["DLC506"].message


def test_momentum_zero_fails_and_names_the_layer_where_the_modes_part():
    result = dlcheck.check("bn-gap", str(ZOO / "bug_bn_momentum_zero.py"))
    codes = found(result)
    assert codes["DLC504"].severity == "fail" and "'bn'" in codes["DLC504"].message
    assert codes["DLC507"].severity == "fail" and "the modes part at 'bn'" in codes["DLC507"].message
    assert result.metrics["agreement"] < 0.8


def test_momentum_none_is_noted_high_momentum_and_untracked_stats_warn(digits):
    X, y = digits
    cumulative = dlcheck.check("bn-gap", model=lambda: mlp(momentum=None), train_loader=loader(X, y))
    assert cumulative.status == "pass" and set(found(cumulative)) == {"DLC509"}
    keras = dlcheck.check("bn-gap", model=lambda: mlp(momentum=0.99), train_loader=loader(X, y))
    assert keras.status == "warn" and "0.01" in found(keras)["DLC510"].advice
    untracked = dlcheck.check("bn-gap", model=lambda: mlp(track=False), train_loader=loader(X, y))
    assert untracked.status == "warn" and set(found(untracked)) == {"DLC503"}
    assert untracked.details["bn_layers"][0]["gap"] is None and untracked.metrics["output_gap"] == 0


class LogitsLast(nn.Module):
    """BN registered first but run last, on the logits, returned through a view."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(10)
        self.body = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.norm(self.fc(self.body(x))).view(x.shape[0], -1)


class HeadNorm(nn.Module):
    """BN registered last but run before the final Linear (LeViT-style head): legitimate."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 64, bias=False)
        self.fc = nn.Linear(64, 10)
        self.head_norm = nn.BatchNorm1d(64)

    def forward(self, x):
        return self.fc(self.head_norm(self.fc1(x).relu()))


def test_bn_on_the_logits_is_found_in_execution_order_not_registration_order(digits):
    X, y = digits
    zoo = dlcheck.check("bn-gap", str(ZOO / "bug_bn_on_logits.py"))
    assert "'3' normalises the model's output" in found(zoo)["DLC501"].message and zoo.status == "fail"
    last = dlcheck.check("bn-gap", model=LogitsLast, train_loader=loader(X, y))
    assert "'norm'" in found(last)["DLC501"].message
    assert found(last)["DLC502"].message.count("'fc' -> 'norm'") == 1  # the Linear's bias feeds it too
    head = dlcheck.check("bn-gap", model=HeadNorm, train_loader=loader(X, y))
    assert head.status == "pass" and not head.findings, [f.message for f in head.findings]


class Scrambled(nn.Module):
    """Registration order bn_b, conv_b, bn_a, conv_a; only conv_a's bias feeds a BN directly."""

    def __init__(self):
        super().__init__()
        self.bn_b = nn.BatchNorm2d(8)
        self.conv_b = nn.Conv2d(8, 8, 3, padding=1, bias=True)
        self.bn_a = nn.BatchNorm2d(8)
        self.conv_a = nn.Conv2d(1, 8, 3, padding=1, bias=True)
        self.fc = nn.Linear(8 * 64, 10)

    def forward(self, x):
        x = self.bn_a(self.conv_a(x)).relu()
        x = self.bn_b(self.conv_b(x).relu())  # a ReLU between: the bias is not wasted
        return self.fc(x.flatten(1))


def test_conv_bias_before_bn_is_an_info_note_in_execution_order(digits):
    X, y = digits
    result = dlcheck.check("bn-gap", model=Scrambled, train_loader=loader(X.view(-1, 1, 8, 8), y))
    note = found(result)["DLC502"]
    assert note.severity == "info" and result.status == "pass"
    assert "'conv_a' -> 'bn_a'" in note.message and "conv_b" not in note.message
    assert [r["name"] for r in result.details["bn_layers"]] == ["bn_a", "bn_b"]  # execution order
    assert [r["bias_from"] for r in result.details["bn_layers"]] == ["conv_a", None]


def test_dropout_is_not_counted_as_a_gap(digits):
    X, y = digits
    heavy = lambda: nn.Sequential(nn.Linear(64, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),  # noqa: E731
                                  nn.Dropout(0.9), nn.Linear(128, 10))
    result = dlcheck.check("bn-gap", model=heavy, train_loader=loader(X, y))
    assert result.status == "pass" and result.metrics["output_gap"] < 0.4, result.summary


def test_models_without_batchnorm_pass_with_a_note(digits):
    X, y = digits
    result = dlcheck.check("bn-gap", model=lambda: nn.Sequential(nn.Linear(64, 32), nn.LayerNorm(32), nn.Linear(32, 10)),
                           train_loader=loader(X, y))
    assert result.status == "pass" and "LayerNorm x1" in found(result)["DLC508"].message
    assert result.metrics == {"bn_layers": 0}


def test_model_object_is_bit_identical_afterwards_momenta_too(digits):
    X, y = digits
    model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128, momentum=0.3), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(128, 64, bias=False), nn.BatchNorm1d(64, momentum=None), nn.ReLU(),
                          nn.Linear(64, 10))
    model[1].eval()
    model[7].register_forward_hook(lambda *args: None)
    before = snapshot(model)
    result = dlcheck.check("bn-gap", model=model, train_loader=loader(X, y))
    assert result.status == "pass", result.summary
    assert_same(before, model)
    assert (model[1].momentum, model[5].momentum) == (0.3, None)


TORCHVISION = [("resnet50", {}, 53), ("mobilenet_v3_small", {}, 34), ("efficientnet_b0", {}, 49),
               ("vit_b_16", {"image_size": 64}, 0), ("convnext_tiny", {}, 0)]


@pytest.mark.parametrize("name,kwargs,bn_layers", TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_torchvision_models_with_random_weights(name, kwargs, bn_layers):
    import torchvision

    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(4, 3, 64, 64, generator=g), torch.randint(0, 10, (4,), generator=g)) for _ in range(2)]
    make = lambda: getattr(torchvision.models, name)(num_classes=10, **kwargs)  # noqa: E731
    result = dlcheck.check("bn-gap", model=make, train_loader=batches,
                           settings={"bn-gap": {"warmup_batches": 2, "batches": 1}})
    assert result.status != "error", result.summary
    assert result.metrics["bn_layers"] == bn_layers
    if bn_layers:
        assert "DLC505" in found(result) and result.metrics["batch_size"] == 4  # batch 4 is small for BN
        rows = result.details["bn_layers"]
        assert len(rows) == bn_layers and all(r["batch"] == 4 and r["gap"] is not None for r in rows)
        assert "DLC501" not in found(result) and "DLC502" not in found(result)
    else:
        assert set(found(result)) == {"DLC508"}
    json.dumps(result.to_dict(), allow_nan=False)


def test_cli_flags_json_and_artifacts(cli, tmp_path):
    out = cli("bn-gap", ZOO / "ok_digits_bn_cnn.py", "--json", "-", "--out", tmp_path,
              "--batches", 2, "--warmup-batches", 3)
    assert out.exit_code == 0, out.stderr
    check = json.loads(out.stdout)["checks"][0]
    assert check["metrics"]["compared_batches"] == 2 and check["metrics"]["warmup_batches"] == 3
    assert len(check["details"]["bn_layers"]) == 2
    rows = (tmp_path / "bn-gap-layers.csv").read_text().splitlines()
    assert rows[0].startswith("name,kind,features,momentum") and len(rows) == 3
    assert (tmp_path / "bn-gap-layers.png").stat().st_size > 1000
    failing = cli("bn-gap", ZOO / "bug_bn_on_logits.py", "--json", "-")
    assert failing.exit_code == 1 and "DLC501" in failing.stdout
