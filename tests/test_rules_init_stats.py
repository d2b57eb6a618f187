"""init-stats' rules on hand-built numbers: one case per code (and per severity it can take), and
healthy numbers near each threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math


from dlcheck.checks import init_stats as ist
from rulecase import Case, Quiet

S = ist.SETTINGS


def layer(name: str, std: float = 1.0, fan_in: int = 128, w_scale: float = 1.0, init: str = "He", **kw):
    """A weight layer's first call: weight std ``w_scale`` x its ``init`` scale."""
    ref = math.sqrt(2 / fan_in) if init == "He" else 1 / math.sqrt(fan_in)
    return ist.Stream(name=name, kind="weight", type="Linear", mean=0.0, std=std, finite=True, layer=True,
                      w_std=w_scale * ref, fan_in=fan_in, init=init, **kw)


def act(name: str, kind: str = "relu", type: str = "ReLU", std: float = 1.0, finite: bool = True, **kw):
    return ist.Stream(name=name, kind=kind, type=type, mean=0.0, std=std, finite=finite, **kw)


def param(name: str, grad: float = 1.0, ratio: float | None = 1e-3):
    return {"parameter": name, "shape": "128x128", "grad_norm": grad, "weight_norm": 1.0,
            "update_norm": ratio, "update_ratio": ratio}


def measured(streams, params=(), loss: float = 2.3, lr: float = 1e-3, fewest_bn_values=None):
    return ist.Measured(streams=list(streams), params=list(params), layers=[s.name for s in streams if s.layer],
                        loss=loss, batches=4, lr=lr, fewest_bn_values=fewest_bn_values)


def deep(stds, grads=None, **kw):
    """fc0 .. fcN with these output stds (the last one the head), gradient norms ``grads``."""
    streams = [layer(f"fc{i}", std=v) for i, v in enumerate(stds)]
    grads = grads if grads is not None else [1.0] * len(stds)
    return measured(streams, [param(f"fc{i}.weight", g) for i, g in enumerate(grads)], **kw)


HEALTHY = deep([1.0] * 6)
TINY_BN = (4, "bn1")  # a BatchNorm normalising 4 values per channel: below min_bn_values


CASES = [
    Case("DLC408", ist.not_finite, measured([layer("fc0"), act("1", std=math.nan, finite=False), layer("fc2")]),
         None, S, says=("1 [ReLU]", "layer 2 of 3")),
    Case("DLC408", ist.not_finite, measured([ist.Stream("fc0 (input)", "input", "input", math.nan, math.nan,
                                                        False, from_data=True), layer("fc0")]),
         None, S, name="in-the-data", says=("the model's input", "going into fc0")),
    Case("DLC408", ist.not_finite, measured([layer("fc0")], [param("fc0.weight", math.inf)]), None, S,
         name="gradient", says=("gradient of fc0.weight",)),
    Case("DLC408", ist.not_finite, measured([layer("fc0")], loss=math.nan), None, S, name="loss",
         says=("the loss is NaN/Inf",)),
    Case("DLC401", ist.through_depth, deep([1.0, 0.3, 0.1, 0.03, 0.005, 1.0]), None, S,
         says=("falls from 1 to 0.005", "through 5 layers", "fc0 [Linear] -> fc4 [Linear]")),
    Case("DLC402", ist.through_depth, deep([1.0, 5.0, 30.0, 90.0, 200.0, 1.0]), None, S,
         says=("grows from 1 to 200", "through 5 layers")),
    Case("DLC403", ist.saturation, measured([layer("fc0"), act("1", "bounded", "Tanh", saturated=0.6),
                                              layer("fc2"), act("3", "bounded", "Tanh", saturated=0.35)]),
         None, S, says=("2 layer(s) saturated", "worst 1 [Tanh] with 60%")),
    Case("DLC404", ist.dead_units, measured([layer("fc0"), act("1", zeros=0.8, dead=40, units=128, per_unit=64)]),
         None, S, says=("in 1 layer(s)", "worst 1 [ReLU] with 40/128")),
    Case("DLC405", ist.gradients, deep([1.0] * 6, grads=[1e-5, 1e-3, 1.0, 1.0, 1.0, 1.0]), None, S,
         says=("1e-05x the last", "fc0 [Linear] 1e-05 vs fc4 [Linear] 1")),
    Case("DLC405", ist.gradients, deep([1.0] * 7, grads=[1e-5, 1e-5, 1.0, 1.0, 1.0, 1.0, 1.0]), None, S,
         name="median-of-thirds", says=("median of the first 2 layers, fc0 [Linear] to fc1 [Linear]",)),
    Case("DLC405", ist.gradients, deep([1.0] * 6, grads=[1e-5, 1e-3, 1.0, 1.0, 1.0, 1.0], fewest_bn_values=TINY_BN),
         None, S, severity="info", name="tiny-batchnorm", says=("BatchNorm bn1 normalises only 4 values",)),
    Case("DLC406", ist.gradients, deep([1.0] * 6, grads=[1e4, 1.0, 1.0, 1.0, 1.0, 1.0]), None, S,
         says=("1e+04x the last",)),
    Case("DLC406", ist.gradients, deep([1.0] * 6, grads=[1e4, 1.0, 1.0, 1.0, 1.0, 1.0], fewest_bn_values=TINY_BN),
         None, S, severity="info", name="tiny-batchnorm", says=("judge it with larger batches",)),
    Case("DLC407", ist.weight_scale, measured([layer("fc0", w_scale=0.01), act("1"), layer("fc2")]), None, S,
         severity="info", name="healthy-reads-as-a-choice", says=("fc0 [Linear]", "0.01x the He scale",
                                                                   "deliberate choice")),
    Case("DLC407", ist.weight_scale,
         measured([layer(f"fc{i}", std=v, w_scale=3.5) for i, v in enumerate([1.0, 5.0, 30.0, 90.0, 200.0, 1.0])]),
         None, S, name="with-exploding-activations", says=("3.5x the He scale", "(and 5 more layers)")),
    Case("DLC407", ist.weight_scale,
         measured([layer("fc0", w_scale=0.01), act("1", "bounded", "Tanh", saturated=0.5), layer("fc2")]), None, S,
         name="with-saturation"),
    Case("DLC409", ist.update_ratio, measured([layer("fc0"), layer("fc1")],
                                              [param("fc0.weight", ratio=0.5), param("fc1.weight", ratio=0.4)], lr=3.0),
         None, S, says=("median update/weight ratio after one step is 0.45 at lr 3", "too high")),
    Case("DLC409", ist.update_ratio, measured([layer("fc0"), layer("fc1")],
                                              [param("fc0.weight", ratio=1e-8), param("fc1.weight", ratio=5e-7)],
                                              lr=1e-9),
         None, S, name="too-low", says=("largest update/weight ratio after one step is 5e-07 at lr 1e-09", "too low")),
]

QUIET = [
    Quiet(ist.not_finite, HEALTHY, None, S),
    # 0.02x over 5 layers: above collapse_ratio (0.01)
    Quiet(ist.through_depth, deep([1.0, 0.5, 0.2, 0.1, 0.02, 1.0]), None, S, name="mild-decay"),
    # 1000x, but up and down: the trend share is below 0.7
    Quiet(ist.through_depth, deep([1.0, 0.1, 10.0, 1.0, 50.0, 1000.0, 1.0]), None, S, name="no-trend"),
    # too shallow to judge a trend: 2 body layers
    Quiet(ist.through_depth, deep([1.0, 1e-4, 1.0]), None, S, name="shallow"),
    Quiet(ist.saturation, measured([layer("fc0"), act("1", "bounded", "Tanh", saturated=0.29)]), None, S,
          name="below-fraction"),
    Quiet(ist.saturation, measured([ist.Stream("fc0 (input)", "input", "input", 0.0, 1.0, True, from_data=True,
                                               saturated=0.9), layer("fc0")]), None, S, name="the-data"),
    Quiet(ist.saturation, measured([layer("fc0"), ist.Stream("fc1 (input)", "input", "input", 0.0, 1.0, True,
                                                             saturated=0.9), layer("fc1")], fewest_bn_values=TINY_BN),
          None, S, name="after-a-tiny-batchnorm"),
    Quiet(ist.dead_units, measured([layer("fc0"), act("1", zeros=0.6, dead=25, units=128, per_unit=64)]), None, S,
          name="below-fraction"),
    Quiet(ist.dead_units, measured([layer("fc0"), act("1", zeros=0.9, dead=100, units=128, per_unit=8)]), None, S,
          name="too-few-values-per-unit"),
    # a squeeze-excitation block's ReLU after global pooling: one value per sample, 16 samples seen
    # (torchvision's Faster R-CNN on 4 batches of 4): half its units zero is not evidence enough
    Quiet(ist.dead_units, measured([layer("fc0"), act("1", zeros=0.5, dead=16, units=32, per_unit=16)]), None, S,
          name="pooled-units-few-samples"),
    # the same after global pooling with many samples (timm's mobilenetv3_small_050 on 4 batches of 32:
    # 2 of 8 channels of blocks.0.0.se.act1 zero): the weights set the sign, not the init's health
    Quiet(ist.dead_units, measured([layer("fc0"), act("1", zeros=0.3, dead=2, units=8, per_unit=128, pooled=True)]),
          None, S, name="pooled-units-many-samples"),
    Quiet(ist.gradients, deep([1.0] * 6, grads=[2e-3, 1.0, 1.0, 1.0, 1.0, 1.0]), None, S, name="above-vanish"),
    Quiet(ist.gradients, deep([1.0] * 6, grads=[900.0, 1.0, 1.0, 1.0, 1.0, 1.0]), None, S, name="below-explode"),
    # the head's gradient is not judged: only the body's
    Quiet(ist.gradients, deep([1.0] * 6, grads=[1.0, 1.0, 1.0, 1.0, 1.0, 1e5]), None, S, name="large-head"),
    Quiet(ist.weight_scale, measured([layer("fc0", w_scale=2.9), act("1"), layer("fc2", w_scale=0.34)]), None, S,
          name="within-factor"),
    Quiet(ist.weight_scale, measured([layer("fc0", w_scale=0.01, normalised=True), act("1")]), None, S,
          name="normalised"),
    # a frozen layer (a pretrained base under LoRA adapters, BERT's 0.02 init): loaded weights, not an init
    Quiet(ist.weight_scale, measured([layer("fc0", w_scale=0.01, frozen=True), act("1"), layer("fc2")]), None, S,
          name="frozen"),
    Quiet(ist.update_ratio, measured([layer("fc0"), layer("fc1")],
                                     [param("fc0.weight", ratio=0.29), param("fc1.weight", ratio=0.2)]), None, S,
          name="below-high"),
    Quiet(ist.update_ratio, measured([layer("fc0"), layer("fc1")],
                                     [param("fc0.weight", ratio=1e-8), param("fc1.weight", ratio=2e-6)]), None, S,
          name="above-low"),
    # a zero gradient (a zero-initialised layer downstream) leaves the ratio out
    Quiet(ist.update_ratio, measured([layer("fc0")], [param("fc0.weight", grad=0.0, ratio=5.0)]), None, S,
          name="no-gradient"),
]


def test_rules_are_pure_and_in_report_order():
    m = measured([layer(f"fc{i}", std=v, w_scale=3.5) for i, v in enumerate([1.0, 5.0, 30.0, 90.0, 200.0, 1.0])],
                 [param(f"fc{i}.weight", g, ratio=0.5) for i, g in enumerate([1e4, 1, 1, 1, 1, 1])], loss=math.nan)
    found = ist.judge(ist.RULES, m, None, S)
    assert [f.code for f in found] == ["DLC408", "DLC402", "DLC406", "DLC407", "DLC409"]
    assert next(f for f in found if f.code == "DLC407").severity == "warn"  # in trouble: not a choice
    assert m.streams[0].std == 1.0 and m.lr == 1e-3  # judging changed nothing


def test_summary_and_metrics_are_functions_of_the_numbers():
    m = deep([1.0, 0.5, 0.25, 0.1], grads=[0.5, 1.0, 1.0, 2.0])
    assert ist.summary(m).startswith("4 weight layers; activation std 1 -> 0.25; grad norm first/last 0.5")
    got = ist.metrics(m)
    assert got["std_ratio"] == 0.25 and got["grad_ratio"] == 0.25 and got["body_grad_ratio"] == 0.5
    assert [r["layer"] for r in ist.layer_table(m)] == ["fc0", "fc1", "fc2", "fc3"]


def test_the_reinitialisation_plan_leaves_frozen_layers_alone():
    """--verify-fixes re-initialises the body and off-scale layers; a frozen layer (a pretrained base
    under LoRA adapters: requires_grad=False) is loaded, not initialised, and would not train after a
    re-init, so the plan passes it by, off scale or not."""
    from dlcheck.checks.init_stats.fixes import plan

    m = measured([layer("base0", w_scale=0.01, frozen=True), act("1"), layer("base1", frozen=True), act("2"),
                  layer("adapter", w_scale=0.01), layer("head")])
    assert [init.name for init in plan(m, S)] == ["adapter"]
