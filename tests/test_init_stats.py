"""init-stats on real data and real torchvision models: each init bug gets its own code, healthy
nets (incl. torchvision's zoo with random weights) pass, functional activations are measured,
NaN is located, the model object comes back bit-identical, artifacts are written."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import ROOT
from dlcheck.render import json as json_render
from helpers import assert_same, snapshot

ZOO = ROOT / "tests" / "zoo"


def loader(digits, batch_size=64):
    X, y = digits
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def mlp(depth, act, width=128, std=None, he_factor=None, bias=None):
    """A ``depth``-layer MLP on digits; hidden weights N(0, std^2) or he_factor x He."""
    def make():
        layers, fan_in = [], 64
        for _ in range(depth):
            layer = nn.Linear(fan_in, width)
            if std is not None:
                nn.init.normal_(layer.weight, 0.0, std)
            if he_factor is not None:
                nn.init.normal_(layer.weight, 0.0, he_factor * math.sqrt(2 / fan_in))
            if bias is not None:
                nn.init.constant_(layer.bias, bias)
            elif std is not None or he_factor is not None:
                nn.init.zeros_(layer.bias)
            layers += [layer, act()]
            fan_in = width
        return nn.Sequential(*layers, nn.Linear(width, 10))
    return make


def codes(result, severities=("warn", "fail")):
    return {f.code for f in result.findings if f.severity in severities}


def rows(result):
    return {r["layer"]: r for r in result.details["layers"]}


def test_tanh_with_001_weights_collapses(digits):
    result = dlcheck.check("init-stats", model=mlp(10, nn.Tanh, std=0.01), train_loader=loader(digits))
    assert "DLC401" in codes(result) and result.status == "fail", result.summary
    assert result.metrics["std_ratio"] < 1e-6
    assert "DLC403" not in codes(result)


def test_tanh_with_unit_weights_saturates(digits):
    result = dlcheck.check("init-stats", model=mlp(10, nn.Tanh, std=1.0), train_loader=loader(digits))
    assert "DLC403" in codes(result) and result.status == "fail", result.summary
    assert rows(result)["1"]["saturated"] > 0.5
    assert "DLC401" not in codes(result) and "DLC402" not in codes(result)


def test_relu_at_three_times_he_explodes(digits):
    result = dlcheck.check("init-stats", model=mlp(12, nn.ReLU, he_factor=3.0), train_loader=loader(digits))
    assert "DLC402" in codes(result) and result.status == "fail", result.summary
    finding = next(f for f in result.findings if f.code == "DLC407")
    assert finding.severity == "warn" and "3x the He scale" in finding.message  # the cause, named


def test_large_negative_biases_kill_relu_units(digits):
    result = dlcheck.check("init-stats", model=mlp(3, nn.ReLU, bias=-4.0), train_loader=loader(digits))
    assert "DLC404" in codes(result), result.summary
    dead = rows(result)["1"]["dead"]
    assert int(dead.split("/")[0]) >= 64 and dead.endswith("/128")


def test_healthy_he_initialised_deep_net_passes(digits):
    result = dlcheck.check("init-stats", model=mlp(8, nn.ReLU, he_factor=1.0), train_loader=loader(digits))
    assert result.status == "pass", (result.summary, [f.message for f in result.findings])
    assert 0.3 < result.metrics["std_ratio"] < 3
    table = result.details["layers"]
    assert [r["layer"] for r in table][:3] == ["0 (input)", "0", "1"]  # depth order
    assert {r["init"] for r in table if r["type"] == "Linear"} == {"He", "Xavier"}  # Xavier: the head
    relus = [r["dead"].split("/") for r in table if r["type"] == "ReLU"]
    assert relus[0] == ["0", "128"] and all(int(d) / int(n) < 0.2 for d, n in relus)


def test_deep_sigmoid_net_gradients_vanish(digits):
    result = dlcheck.check("init-stats", model=mlp(10, nn.Sigmoid), train_loader=loader(digits))
    finding = next(f for f in result.findings if f.code == "DLC405")
    assert finding.severity == "warn" and "median of the first 3 layers" in finding.message, finding.message
    assert result.metrics["body_grad_ratio"] < 1e-4


class _BertStyle(nn.Module):
    """A BERT-style encoder classifier as hand-written transformers (and Hugging Face's BERT) build
    it: separate query/key/value Linears, post-LN, N(0, 0.02) init, a tanh pooler on the first token."""

    def __init__(self, width=64, layers=2, classes=10):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(8, width) * 0.02)  # an embedding table, not a weight layer
        self.ln0 = nn.LayerNorm(width)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({
                "query": nn.Linear(width, width), "key": nn.Linear(width, width),
                "value": nn.Linear(width, width), "out": nn.Linear(width, width), "ln1": nn.LayerNorm(width),
                "ff1": nn.Linear(width, 2 * width), "act": nn.GELU(), "ff2": nn.Linear(2 * width, width),
                "ln2": nn.LayerNorm(width)}))
        self.pooler = nn.Sequential(nn.Linear(width, width), nn.Tanh())
        self.classifier = nn.Linear(width, classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):  # digits' 8x8 pixels as 8 tokens of 8 features
        h = self.ln0(x.view(-1, 8, 8) @ self.embed)
        for b in self.blocks:
            q, k, v = b["query"](h), b["key"](h), b["value"](h)
            att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1)
            h = b["ln1"](h + b["out"](att @ v))
            h = b["ln2"](h + b["ff2"](b["act"](b["ff1"](h))))
        return self.classifier(self.pooler(h[:, 0]))


def test_bert_style_002_init_is_not_a_vanishing_gradient(digits):
    """Queries and keys get ~1e-2 of the other layers' gradient at init (scores near 0), and the
    head ~50x more than the body (0.02 weights downstream): neither is a gradient vanishing with
    depth. Judged as first-layer / head, this was 1e-4: DLC405 (and DLC407 as a warning with it)."""
    result = dlcheck.check("init-stats", model=_BertStyle, train_loader=loader(digits))
    assert result.status == "pass", (result.summary, [(f.code, f.message) for f in result.findings])
    assert result.metrics["grad_ratio"] < 1e-3  # the single-layer ratio the old rule judged
    assert 0.1 < result.metrics["body_grad_ratio"] < 10
    assert next(f for f in result.findings if f.code == "DLC407").severity == "info"


def test_bn_cnn_on_digits_passes():
    result = dlcheck.check("init-stats", str(ZOO / "ok_digits_bn_cnn.py"))
    assert result.status == "pass", (result.summary, [f.message for f in result.findings])
    conv = rows(result)["features.0"]
    assert conv["grad_norm"] > 0 and 1e-4 < conv["update_ratio"] < 1


def test_dead_units_are_counted_per_channel_not_per_element(digits):
    class Net(nn.Module):  # channel 0 never fires: bias -100; the others fire half the time
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.relu = nn.ReLU()
            self.head = nn.Linear(4 * 64, 10)
            with torch.no_grad():
                self.conv.bias[0] = -100.0

        def forward(self, x):
            return self.head(self.relu(self.conv(x.view(-1, 1, 8, 8))).flatten(1))

    result = dlcheck.check("init-stats", model=Net, train_loader=loader(digits))
    relu = rows(result)["relu"]
    assert relu["dead"] == "1/4"
    assert "DLC404" in codes(result)  # one in four channels is 25 % >= the 20 % threshold


@pytest.mark.parametrize("inplace", [False, True])
def test_functional_relu_is_measured_at_the_next_layer_input(digits, inplace):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)
            nn.init.constant_(self.fc1.bias, -6.0)

        def forward(self, x):  # in place, the ReLU'd tensor is the very object fc1 returned
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x), inplace=inplace)), inplace=inplace))

    result = dlcheck.check("init-stats", model=Net, train_loader=loader(digits))
    table = rows(result)
    assert table["fc2 (input)"]["zeros"] > 0.9 and table["fc2 (input)"]["dead"].endswith("/64")
    assert int(table["fc2 (input)"]["dead"].split("/")[0]) > 32
    assert table["fc1"]["init"] == "He"  # the functional ReLU is seen at fc2's input
    assert table["fc1 (input)"]["zeros"] is None  # the data has negative values: not post-ReLU
    assert "DLC404" in codes(result)


def test_nan_is_located_at_the_first_layer_it_appears(digits):
    def broken():
        net = mlp(4, nn.ReLU)()
        with torch.no_grad():
            net[4].weight[3, 5] = float("nan")
        return net

    report = dlcheck.run(model=broken, train_loader=loader(digits), checks=["init-stats"])
    result = report.checks[0]
    finding = next(f for f in result.findings if f.code == "DLC408")
    assert "4 [Linear]" in finding.message and result.status == "fail"
    assert "DLC401" not in codes(result) and "DLC402" not in codes(result)
    assert rows(result)["2"]["std"] > 0  # the layers before it are measured
    json.loads(json_render.dumps(report))  # NaN statistics still make valid JSON


def test_nan_in_the_data_is_blamed_on_the_data(digits):
    X, y = digits
    X = X.clone()
    X[3, 7] = float("nan")
    result = dlcheck.check("init-stats", model=mlp(3, nn.ReLU),
                           train_loader=DataLoader(TensorDataset(X, y), batch_size=64))
    finding = next(f for f in result.findings if f.code == "DLC408")
    assert "the model's input" in finding.message


@pytest.mark.parametrize("lr,word", [(50.0, "too high"), (1e-9, "too low"), (0.05, None)])
def test_update_ratio_after_one_step(digits, lr, word):
    result = dlcheck.check("init-stats", model=mlp(3, nn.ReLU), train_loader=loader(digits), lr=lr,
                           optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr))
    found = [f.message for f in result.findings if f.code == "DLC409"]
    assert (word in found[0]) if word else not found, (result.metrics, found)


def test_model_object_is_bit_identical_and_hooks_removed(digits):
    model = nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    model[1].eval()
    model[4].weight.requires_grad_(False)
    before = snapshot(model)
    result = dlcheck.check("init-stats", model=model, train_loader=loader(digits))
    assert result.status != "error", result.summary
    assert_same(before, model)


def test_hooks_are_removed_when_the_model_raises(digits):
    class Flaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.calls = nn.Linear(64, 10), 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 2:
                raise RuntimeError("boom")
            return self.fc(x)

    model = Flaky()
    before = snapshot(model)
    result = dlcheck.check("init-stats", model=model, train_loader=loader(digits))
    assert result.status == "error" and "boom" in result.summary
    assert_same(before, model)


def test_tuple_outputs_inside_and_out(digits):
    class Seq(nn.Module):  # an LSTM returns a tuple, and so does the model
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 32, batch_first=True)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            out, _ = self.lstm(x.view(-1, 8, 8))
            return self.fc(torch.relu(out[:, -1])), out

    result = dlcheck.check("init-stats", model=Seq, train_loader=loader(digits))
    assert result.status != "error", result.summary
    assert "fc (input)" in rows(result)


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
                                  "vit_b_16", "convnext_tiny"])
def test_torchvision_models_with_random_weights(name):
    torchvision = pytest.importorskip("torchvision")
    g = torch.Generator().manual_seed(0)
    size = 32 if name == "vit_b_16" else 64
    X, y = torch.randn(8, 3, size, size, generator=g), torch.randint(0, 10, (8,), generator=g)
    extra = {"image_size": size} if name == "vit_b_16" else {}
    make = lambda: getattr(torchvision.models, name)(weights=None, num_classes=10, **extra)
    result = dlcheck.check("init-stats", model=make, train_loader=DataLoader(TensorDataset(X, y), batch_size=4),
                           optimizer=lambda p, lr: torch.optim.SGD(p, lr=lr), settings={"init-stats": {"batches": 2}})
    assert result.status == "pass", (result.summary, [(f.code, f.message) for f in result.findings])
    assert result.metrics["layers"] > 20
    json.dumps(result.to_dict())


@pytest.mark.parametrize("seed", [0, 1])
def test_squeeze_excitation_channels_dead_after_global_pooling_are_not_dead_units(digits, seed):
    """torchvision's mobilenet_v3_small on 128 real digits (4 batches of 32, per unit well above
    min_unit_samples): the first squeeze-excitation ReLU sees one pooled value per sample and 2-4 of
    its 8 channels are zero for all of them -- a property of pooling, not of the init: no DLC404."""
    torchvision = pytest.importorskip("torchvision")
    X, y = digits
    X = F.interpolate(X[:128].view(-1, 1, 8, 8), size=32, mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    make = lambda: torchvision.models.mobilenet_v3_small(weights=None, num_classes=10)
    result = dlcheck.check("init-stats", model=make, train_loader=loader((X.contiguous(), y[:128]), batch_size=32),
                           seed=seed)
    se = rows(result)["features.1.block.1.activation"]
    assert int(se["dead"].split("/")[0]) >= 2 and se["dead"].endswith("/8")  # 25 % or more: above dead_fraction
    assert result.status == "pass" and "DLC404" not in codes(result), [(f.code, f.message) for f in result.findings]


def test_cli_writes_csv_and_plots(cli, tmp_path):
    run = cli("init-stats", ZOO / "bug_relu_explode.py", "--json", "-", "--out", tmp_path)
    assert run.exit_code == 1, run.stderr
    check = json.loads(run.stdout)["checks"][0]
    assert "DLC402" in {f["code"] for f in check["findings"]}
    layers = (tmp_path / "init-stats-layers.csv").read_text().splitlines()
    assert layers[0].startswith("layer,type,mean,std") and len(layers) == len(check["details"]["layers"]) + 1
    assert (tmp_path / "init-stats-parameters.csv").read_text().startswith("parameter,shape,grad_norm")
    for png in ("activation-std", "grad-norm"):
        assert (tmp_path / f"init-stats-{png}.png").stat().st_size > 1000


def test_hugging_face_conv1d_layers_are_weight_layers():
    """GPT-2 keeps its Linear layers as transformers' Conv1D (weight stored (in, out)): each is a
    weight layer of its own with the fan-in of its input, not one layer (the LM head) for the net."""
    pytest.importorskip("transformers")
    result = dlcheck.check("init-stats", str(ROOT / "tests" / "tasks" / "ok_hf_causal_lm.py"))
    assert result.status == "pass", (result.summary, [f.code for f in result.findings])
    rows = {r["layer"]: r for r in result.details["layers"] if r.get("type") == "Conv1D"}
    assert len(rows) == 8  # two blocks of attention c_attn, c_proj and MLP c_fc, c_proj
    fc, proj = rows["transformer.h.0.mlp.c_fc"], rows["transformer.h.0.mlp.c_proj"]
    assert fc["xavier"] == pytest.approx(1 / math.sqrt(64)) and proj["xavier"] == pytest.approx(1 / math.sqrt(256))
    assert fc["grad_norm"] > 0
