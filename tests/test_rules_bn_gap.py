"""bn-gap's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations

import math


from dlcheck.checks import bn_gap
from dlcheck.checks.bn_gap import rules as bg
from dlcheck.rules import judge
from rulecase import Case, Quiet

S = bn_gap.SETTINGS


def layer(name: str = "bn1", momentum: float | None = 0.1, track: bool = True, kind: str = "BatchNorm2d") -> dict:
    return {"name": name, "kind": kind, "features": 8, "momentum": momentum, "eps": 1e-5, "affine": True,
            "track_running_stats": track}


def setup(*layers: dict) -> bg.Measured:
    return bg.Measured(layers=list(layers or [layer()]))


def sums(diff: float = 0.01, norm: float = 1.0, loss_train: float = 4.0, loss_eval: float = 4.4, **kw) -> dict:
    out = {"diff": diff, "norm": norm, "agree": 60.0, "count": 64.0, "loss_train": loss_train,
           "loss_eval": loss_eval, "correct_train": 20.0, "correct_eval": 18.0, "labelled": 64.0, "share": 0.2,
           "sizes": [16] * 4, "left_out": []}
    out.update(kw)
    return out


def measured(gaps: dict[str, float] | None = None, batch: int = 32, **kw) -> bg.Measured:
    """Two BN layers run in the order bn1, bn2, compared on 4 train batches."""
    gaps = {"bn1": 0.05, "bn2": 0.1} if gaps is None else gaps
    fields = dict(layers=[layer(n) for n in gaps], order=list(gaps), batch={n: batch for n in gaps},
                  gaps=gaps, seen=set(gaps), sums=sums(), compared=4, warmup=8, train_batch=batch)
    fields.update(kw)
    return bg.Measured(**fields)


CASES = [
    Case("DLC508", bg.no_batchnorm, bg.Measured(other_norms={"GroupNorm": 2}), None, S,
         says=("no BatchNorm layer", "GroupNorm x2")),
    Case("DLC508", bg.no_batchnorm, bg.Measured(held=["backbone.1", "backbone.4"]), None, S, name="kept-in-eval",
         says=("no BatchNorm layer that it trains", "'backbone.1'", "kept in eval mode by the model")),
    Case("DLC508", bg.no_batchnorm, bg.Measured(fixed={"bn": "FrozenBatchNorm2d"}, other_norms={"FrozenBatchNorm2d": 1}),
         None, S, name="fixed-statistics", says=("'bn' (FrozenBatchNorm2d) normalises with fixed statistics",)),
    Case("DLC503", bg.untracked, setup(layer("bn1", track=False)), None, S, says=("track_running_stats=False", "'bn1'")),
    Case("DLC504", bg.momentum_zero, setup(layer("bn1", momentum=0.0)), None, S, says=("momentum=0 in 'bn1'",)),
    Case("DLC510", bg.momentum_inverted, setup(layer("bn1", momentum=0.99)), None, S,
         says=("momentum=0.99", "last batch")),
    Case("DLC510", bg.momentum_inverted, setup(layer("bn1", momentum=0.5)), None, S, name="few-batches",
         says=("momentum=0.5", "few batches")),
    Case("DLC509", bg.cumulative, setup(layer("bn1", momentum=None)), None, S, says=("momentum=None",)),
    Case("DLC501", bg.on_logits, measured(on_logits="bn2"), None, S, says=("'bn2'", "logits")),
    Case("DLC502", bg.bias_before_bn, measured(fed_by={"bn1": "conv1"}), None, S, says=("'conv1' -> 'bn1'",)),
    Case("DLC506", bg.batch_size, measured(batch=2), None, S, says=("batch size 2", "degenerate")),
    Case("DLC506", bg.batch_size, bg.Measured(layers=[layer()], one_sample="Expected more than 1 value per channel"),
         None, S, name="batch-of-one", says=("batch size 1", "more than 1 value per channel")),
    Case("DLC505", bg.batch_size, measured(batch=8), None, S, says=("batch size 8", "warn below 16")),
    Case("DLC512", bg.not_measured, measured(unmeasured={"bn2": "its output is a tuple, not a tensor"}), None, S,
         says=("1 BatchNorm layer not measured", "'bn2' (BatchNorm2d)")),
    Case("DLC511", bg.val_one_class, measured(one_class=(0.95, 0.2)), None, S, says=("95%", "20%")),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.5, "bn2": 0.3}), None, S, severity="warn",
         says=("part at 'bn1'", "50.0%", "warn at 40%")),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.45, "bn2": 0.9}), None, S, severity="fail",
         name="fails-further-on", says=("part at 'bn1'", "up to 90.0% at 'bn2'", "fail at 80%")),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.1, "bn2": math.nan}), None, S, severity="fail",
         name="nan-counts", says=("part at 'bn2'",)),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.9}, split="val", mixed=True), None, S, severity="fail",
         name="on-val", says=("on val batches drawn at random",)),
    # timm's resnet18 on 32x32 digits, batch 16: layer4 sees 1x1 maps, so its BN normalises 16 values per channel
    # and parts by ~100% with healthy running statistics (the gap halves at batch 64): noise, named, a warning
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.2, "bn2": 1.04}, batch=16, values={"bn1": 4096, "bn2": 16}),
         None, S, severity="warn", name="few-values-per-channel",
         says=("part at 'bn2'", "by 104.0%", "warn at 40%", "'bn2' normalises only 16 values per channel",
               "batch 16, maps of 1x1", "below 64 values")),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.9}, batch=16, values={"bn1": 32}), None, S, severity="warn",
         name="few-values-per-position", says=("32 values per channel", "batch 16 x 2 positions")),
    Case("DLC507", bg.train_eval_gap, measured({"bn1": 0.9}, batch=16, values={"bn1": 64}), None, S, severity="fail",
         name="enough-values", says=("fail at 80%",)),
]

QUIET = [
    Quiet(bg.no_batchnorm, setup(), None, S),
    Quiet(bg.untracked, setup(), None, S),
    Quiet(bg.momentum_zero, setup(layer(momentum=0.01)), None, S),
    Quiet(bg.momentum_zero, setup(layer(momentum=0.0, track=False)), None, S, name="untracked"),
    Quiet(bg.momentum_inverted, setup(layer(momentum=0.49)), None, S, name="just-below"),
    Quiet(bg.cumulative, setup(), None, S),
    Quiet(bg.on_logits, measured(), None, S),
    Quiet(bg.bias_before_bn, measured(), None, S),
    Quiet(bg.batch_size, measured(batch=16), None, S, name="at-small-batch"),
    Quiet(bg.batch_size, setup(), None, S, name="not-measured-yet"),
    Quiet(bg.not_measured, measured(), None, S),
    Quiet(bg.val_one_class, measured(split="val", mixed=True), None, S),
    Quiet(bg.train_eval_gap, measured({"bn1": 0.39, "bn2": 0.1}), None, S, name="just-below-warn"),
]


def test_rules_are_pure_and_in_report_order():
    m = measured({"bn1": 0.9, "bn2": 0.1}, batch=8, on_logits="bn2", fed_by={"bn1": "conv1"},
                 layers=[layer("bn1", momentum=None), layer("bn2", track=False)],
                 unmeasured={"bn2": "raised"}, one_class=(0.9, 0.1))
    codes = [f.code for f in judge(bg.RULES, m, None, S)]
    assert codes == ["DLC503", "DLC509", "DLC501", "DLC502", "DLC505", "DLC512", "DLC511", "DLC507"]
    assert m.gaps == {"bn1": 0.9, "bn2": 0.1} and m.compared == 4  # judging changed nothing


def test_summary_and_metrics_are_functions_of_the_numbers():
    m = measured({"bn1": 0.5, "bn2": 0.1}, left_out=[(3, 5)])
    assert bg._summary(m) == ("2 BatchNorm layers, batch 32: eval mode moves the output by 10.0% (left out: "
                              "train batch 3, of 5 samples, smaller than the training batches of 32), 94% of "
                              "predictions agree; largest layer gap 50.0% at 'bn1'")
    metrics = bg._metrics(m, S)
    assert metrics["parts_at"] == "bn1" and metrics["largest_gap_at"] == "bn1"
    assert metrics["left_out_batches"] == 1 and metrics["loss_eval_mode"] == 1.1
    assert bg._details(m)["left_out_batches"] == [{"batch": 3, "size": 5}]
    assert [r["gap"] for r in m.table] == [0.5, 0.1]
