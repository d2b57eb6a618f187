"""bn-gap with real PyTorch on digits: BatchNorm's set-up findings are found in execution order
(not registration order), the train-vs-eval gap names the layer where the modes part, the val
loader is used when given, healthy BN models pass, torchvision models run, and a model object
comes back bit-identical (momenta included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
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
                                    "eps": 1e-5, "affine": True, "track_running_stats": True, "batch": 64,
                                    "values": 64 * 8 * 8, "gap": 0, "bias_from": None}
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


# -- norm layers measured through their own forward (issue 11, item 3) -------------------------
class BNAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d in small: BatchNorm, then dropout and an activation inside forward."""

    def __init__(self, features, act=nn.ReLU, drop=0.3):
        super().__init__(features)
        self.drop = nn.Dropout(drop)
        self.act = act()

    def forward(self, x):
        return self.act(self.drop(super().forward(x)))


def digit_cnn(norm):
    """Conv-BN-act x2 on 1x8x8 digits; ``norm(features)`` is one layer (fused) or a list (plain)."""
    def block(cin, cout):
        made = norm(cout)
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), *(made if isinstance(made, list) else [made])]
    return lambda: nn.Sequential(*block(1, 16), *block(16, 32), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                                 nn.Linear(128, 10))


def digit_loaders(X, y, val_batch=64, sort_val=False):
    images = X.view(-1, 1, 8, 8)
    order = torch.argsort(y[1200:], stable=True) if sort_val else torch.arange(len(y) - 1200)
    return (lambda: loader(images[:1200], y[:1200]),  # factories: every check reads the same batches
            lambda: loader(images[1200:][order], y[1200:][order], batch_size=val_batch, shuffle=False))


@pytest.mark.parametrize("act", [nn.ReLU, nn.SiLU], ids=["relu", "silu"])
def test_fused_bn_activation_layer_is_measured_through_its_own_forward(digits, act):
    train, val = digit_loaders(*digits)
    plain = dlcheck.check("bn-gap", model=digit_cnn(lambda c: [nn.BatchNorm2d(c), nn.Dropout(0.3), act()]),
                          train_loader=train, val_loader=val)
    fused = dlcheck.check("bn-gap", model=digit_cnn(lambda c: BNAct2d(c, act)), train_loader=train, val_loader=val)
    assert fused.status == "pass", (fused.summary, [f.message for f in fused.findings])
    assert [r["kind"] for r in fused.details["bn_layers"]] == ["BNAct2d", "BNAct2d"]
    for p, f in zip(plain.details["bn_layers"], fused.details["bn_layers"]):
        assert f["gap"] < 0.4 and abs(f["gap"] - p["gap"]) < 0.05, (p, f)  # was ~100%: F.batch_norm vs BN+act
    assert fused.metrics["output_gap"] == pytest.approx(plain.metrics["output_gap"], abs=1e-6)  # its drop is off


def test_sync_and_lazy_batchnorm_are_measured_like_plain_bn(digits):
    train, val = digit_loaders(*digits)
    plain = dlcheck.check("bn-gap", model=digit_cnn(nn.BatchNorm2d), train_loader=train, val_loader=val)
    gaps = [r["gap"] for r in plain.details["bn_layers"]]
    sync = dlcheck.check("bn-gap", model=digit_cnn(nn.SyncBatchNorm), train_loader=train, val_loader=val)
    assert sync.status == "pass" and [r["gap"] for r in sync.details["bn_layers"]] == gaps  # no process group
    lazy = dlcheck.check("bn-gap", model=digit_cnn(lambda c: nn.LazyBatchNorm2d()), train_loader=train,
                         val_loader=val)
    assert lazy.status == "pass", lazy.summary
    rows = lazy.details["bn_layers"]
    assert [(r["kind"], r["features"]) for r in rows] == [("LazyBatchNorm2d", 16), ("LazyBatchNorm2d", 32)]
    assert [r["gap"] for r in rows] == gaps


class BNWithStats(nn.BatchNorm1d):
    """Returns (output, batch mean): nothing bn-gap can compare as one tensor."""

    def forward(self, x):
        return super().forward(x), x.mean(0)


class StatsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128, bias=False)
        self.odd = BNWithStats(128)
        self.fc2 = nn.Linear(128, 64, bias=False)
        self.bn = nn.BatchNorm1d(64)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        h, _ = self.odd(self.fc1(x))
        return self.fc(self.bn(self.fc2(h.relu())).relu())


def test_a_layer_that_cannot_be_measured_is_named_not_mis_measured(digits):
    X, y = digits
    result = dlcheck.check("bn-gap", model=StatsNet, train_loader=loader(X, y))
    assert result.status == "pass", result.summary
    note = found(result)["DLC512"]
    assert note.severity == "info" and "'odd' (BNWithStats)" in note.message and "tuple" in note.message
    rows = {r["name"]: r for r in result.details["bn_layers"]}
    assert rows["odd"]["gap"] is None and rows["bn"]["gap"] is not None  # not a made-up 0
    assert set(result.details["bn_not_measured"]) == {"odd"}


class StubbornBN(nn.BatchNorm1d):
    """Updates its running statistics with a momentum of its own (0.5), whatever ``momentum`` says."""

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.running_mean.mul_(0.5).add_(x.mean(0), alpha=0.5)
                self.running_var.mul_(0.5).add_(x.var(0), alpha=0.5)
                self.num_batches_tracked += 1
            return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


def test_the_measurement_leaves_the_warmed_running_statistics_untouched(digits):
    X, y = digits
    built, seen = [], []

    def make():
        model = nn.Sequential(nn.Linear(64, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
                              nn.Linear(128, 64, bias=False), StubbornBN(64), nn.ReLU(), nn.Linear(64, 10))
        for i in (1, 4):  # what each call of a BN layer finds: its mode and its buffers
            model[i].register_forward_pre_hook(lambda m, args, i=i: seen.append(
                (i, m.training, [b.clone() for b in m.buffers()])))
        built.append(model)
        return model

    result = dlcheck.check("bn-gap", model=make, train_loader=loader(X, y),
                           settings={"bn-gap": {"warmup_batches": 6, "batches": 3}})
    assert result.status != "error", result.summary
    (model,) = built
    for i in (1, 4):
        calls = [(training, buffers) for j, training, buffers in seen if j == i][-(6 + 2 * 3):]  # after the task probe
        assert [t for t, _ in calls] == [True] * 6 + [False, True] * 3  # warm-up, then eval + train per batch
        warmed = calls[6][1]
        for _, buffers in calls[6:]:  # every compared pass finds the statistics as warmed ...
            assert all(torch.equal(a, b) for a, b in zip(buffers, warmed))
        # ... and so does the model afterwards, the batch counter too
        assert all(torch.equal(a, b) for a, b in zip(model[i].buffers(), warmed))
    assert int(model[1].num_batches_tracked) == 6
    rows = {r["name"]: r for r in result.details["bn_layers"]}
    assert rows["4"]["gap"] is not None and rows["4"]["gap"] < 0.4  # measured against the warmed statistics


# -- representative batches (issue 11, item 4) -------------------------------------------------
def test_a_class_sorted_val_loader_is_drawn_across_the_val_set_not_blamed_on_the_model(digits):
    X, y = digits
    model = lambda: mlp()  # noqa: E731
    train, sorted_val = loader(X[:1200], y[:1200]), loader(X[1200:][torch.argsort(y[1200:], stable=True)],
                                                            y[1200:][torch.argsort(y[1200:], stable=True)],
                                                            shuffle=False)
    result = dlcheck.check("bn-gap", model=model, train_loader=train, val_loader=sorted_val)
    assert result.status == "pass", (result.summary, [f.message for f in result.findings])  # was a 54% warn
    assert result.metrics["compared_on"] == "val" and result.metrics["val_drawn_at_random"] is True
    assert "on val batches drawn at random across the val set" in result.summary
    shuffled = dlcheck.check("bn-gap", model=model, train_loader=train,
                             val_loader=loader(X[1200:], y[1200:], shuffle=True))
    assert abs(result.metrics["largest_layer_gap"] - shuffled.metrics["largest_layer_gap"]) < 0.1
    # the same sorted batches as a plain list cannot be drawn from: said, and not compared on
    listed = dlcheck.check("bn-gap", model=model, train_loader=train, val_loader=list(sorted_val))
    assert listed.status == "pass" and "DLC507" not in found(listed), listed.summary
    note = found(listed)["DLC511"]
    assert note.severity == "info" and "sorted by class" in note.message
    assert listed.metrics["compared_on"] == "train" and listed.metrics["val_top_class_share"] > 0.6
    assert "the val batches come sorted by class" in listed.summary
    # a shuffled list is compared on as it is
    mixed = dlcheck.check("bn-gap", model=model, train_loader=train,
                          val_loader=list(loader(X[1200:], y[1200:], shuffle=True)))
    assert mixed.metrics["compared_on"] == "val" and mixed.metrics["val_drawn_at_random"] is False
    assert "DLC511" not in found(mixed)


def test_a_short_last_val_batch_is_left_out_and_said_exactly(digits):
    X, y = digits
    train = loader(X[:1200], y[:1200], batch_size=32)
    val = [(X[1200 + 32 * i:1200 + 32 * (i + 1)], y[1200 + 32 * i:1200 + 32 * (i + 1)]) for i in range(3)]
    val.append((X[1296:1300], y[1296:1300]))  # 100 samples: 32, 32, 32, 4
    result = dlcheck.check("bn-gap", model=mlp, train_loader=train, val_loader=val)
    assert result.metrics["compared_on"] == "val" and result.metrics["compared_batches"] == 3, result.summary
    assert "left out: val batch 3, of 4 samples, smaller than the training batches of 32" in result.summary
    assert "smaller than the training batches)" not in result.summary and "val batches of 4" not in result.summary
    assert result.details["left_out_batches"] == [{"batch": 3, "size": 4}]
    # a DataLoader over the same 100 samples: drawn at random, the short batch is again the last
    drawn = dlcheck.check("bn-gap", model=mlp, train_loader=train,
                          val_loader=loader(X[1200:1300], y[1200:1300], batch_size=32, shuffle=False))
    assert drawn.metrics["compared_on"] == "val" and drawn.metrics["compared_batches"] == 3
    assert drawn.details["left_out_batches"] == [{"batch": 3, "size": 4}]
    # every val batch smaller than the training batches: train batches, with the sizes as they are
    small = dlcheck.check("bn-gap", model=mlp, train_loader=train,
                          val_loader=loader(X[1200:1300], y[1200:1300], batch_size=16, shuffle=False))
    assert small.metrics["compared_on"] == "train" and small.metrics["val_batch_size"] == 16
    assert "(the val batches of 16 are smaller than the training batches of 32)" in small.summary
