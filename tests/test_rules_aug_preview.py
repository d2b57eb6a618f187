"""aug-preview's rules on hand-built numbers: one case per code, and healthy numbers near each
threshold that must stay quiet (tests/rulecase.py)."""

from __future__ import annotations


from dlcheck.checks import aug_preview as ap
from dlcheck.rules import judge
from rulecase import Case, Quiet

S = ap.SETTINGS
NORM = "Normalize(mean=[0.5], std=[0.5], inplace=False)"


def measured(judged: int = 100, destroyed: int = 0, blank: int = 0, steps=(), lo: float = -2.0, hi: float = 2.0,
             means=(0.0, 0.0, 0.0), stds=(1.0, 1.0, 1.0), **kw) -> ap.Measured:
    return ap.Measured(where="target.train_transform", steps=list(steps), images=48, draws=7, judged=judged,
                       destroyed=destroyed, blank=blank, lo=lo, hi=hi, means=list(means), stds=list(stds), **kw)


def step(name: str = "ToTensor()", mean=(0.45,), std=(0.25,), lo: float = 0.0, normalize: bool = False) -> ap.Step:
    return ap.Step(name, normalize, list(mean), list(std), lo)


TO_TENSOR = step()
NORMALISE = step(NORM, mean=(-0.1,), std=(0.5,), lo=-1.0, normalize=True)
SECOND = step(NORM, mean=(-1.2,), std=(1.0,), lo=-3.0, normalize=True)
# a Normalize fed a tensor that a Lambda already normalised
PRE_NORMALISED = step("Lambda()", mean=(0.0,), std=(1.0,), lo=-2.0)

CASES = [
    Case("DLC601", ap.no_transform, ap.Measured(), None, S, says=("no train_transform",)),
    Case("DLC602", ap.destroyed, measured(destroyed=30), None, S, severity="fail", says=("30 of 100", "30%")),
    Case("DLC602", ap.destroyed, measured(destroyed=10), None, S, severity="warn", name="warns",
         says=("10 of 100",)),
    Case("DLC603", ap.blank, measured(blank=30), None, S, severity="fail", says=("30 of 100", "blank")),
    Case("DLC603", ap.blank, measured(blank=5), None, S, severity="warn", name="warns", says=("5 of 100",)),
    Case("DLC605", ap.double_normalise, measured(steps=[TO_TENSOR, NORMALISE, SECOND]), None, S,
         says=("Normalize appears 2 times", "steps 2, 3", NORM)),
    Case("DLC605", ap.double_normalise, measured(steps=[PRE_NORMALISED, SECOND]), None, S,
         name="already-normalised", says=("step 2", "already normalised", "shifts it to mean -1.20")),
    Case("DLC604", ap.output_scale, measured(steps=[step("PILToTensor()")], lo=0.0, hi=255.0,
                                             means=(120.0,), stds=(60.0,)), None, S,
         says=("reach 255", "has no Normalize", "raw pixel values")),
    Case("DLC604", ap.output_scale, measured(steps=[TO_TENSOR, NORMALISE], lo=-1.0, hi=1.0,
                                             means=(1.5, 0.0, 0.0), stds=(0.3, 1.0, 1.0)), None, S,
         name="far-from-0-and-1", says=("mean (1.50, 0.00, 0.00)", "after its Normalize")),
    Case("DLC607", ap.mask_mismatch, measured(mask_judged=96, mask_mismatched=48, mask_still=48,
                                              mask_examples=["44", "118"], mask_steps=["RandomHorizontalFlip(p=0.5)"]),
         None, S, says=("48 of 96 draws (50%)", "RandomHorizontalFlip(p=0.5)", "stayed as it was", "#44, #118"),
         advises=("tv_tensors.Mask",)),
    Case("DLC607", ap.mask_mismatch, measured(mask_judged=50, mask_mismatched=5, mask_resized=2,
                                              mask_examples=["3"]),
         None, S, name="moved-differently-and-resized", says=("5 of 50", "in 3 the mask moved differently",
                                                            "in 2 image and mask came out with different")),
    Case("DLC606", ap.output_scale, measured(steps=[TO_TENSOR], lo=0.0, hi=1.0, means=(0.45, 0.45, 0.4),
                                             stds=(0.25, 0.25, 0.25)), None, S, says=("[0, 1]", "0.43")),
]

QUIET = [
    Quiet(ap.no_transform, measured()),
    Quiet(ap.destroyed, measured(destroyed=9), None, S, name="just-under-warn"),
    Quiet(ap.destroyed, measured(judged=0), None, S, name="nothing-judged"),
    Quiet(ap.blank, measured(blank=4), None, S, name="just-under-warn"),
    Quiet(ap.blank, measured(judged=0), None, S, name="nothing-judged"),
    Quiet(ap.double_normalise, measured(steps=[TO_TENSOR, NORMALISE]), None, S, name="one-normalize"),
    # a Normalize first in line, or fed data that is not normalised yet
    Quiet(ap.double_normalise, measured(steps=[SECOND, TO_TENSOR]), None, S, name="normalize-first"),
    Quiet(ap.output_scale, measured(steps=[TO_TENSOR, NORMALISE], lo=-2.0, hi=2.0, means=(0.9, -0.9, 0.0),
                                    stds=(0.06, 2.9, 1.0)), None, S, name="inside-the-limits"),
    Quiet(ap.output_scale, measured(steps=[TO_TENSOR], lo=0.0, hi=1.0, means=(0.19, 0.19, 0.19),
                                    stds=(0.25, 0.25, 0.25)), None, S, name="dark-0..1"),
    Quiet(ap.output_scale, measured(steps=[TO_TENSOR, NORMALISE, SECOND], lo=0.0, hi=255.0, means=(120.0,),
                                    stds=(60.0,)), None, S, name="doubled-normalize-says-it-instead"),
    Quiet(ap.output_scale, ap.Measured(), None, S, name="no-transform"),
    Quiet(ap.mask_mismatch, measured(mask_judged=100, mask_mismatched=9, mask_still=9), None, S,
          name="just-under-fail"),
    Quiet(ap.mask_mismatch, measured(mask_judged=10, mask_mismatched=1), None, S, name="one-draw"),
    Quiet(ap.mask_mismatch, measured(), None, S, name="no-dense-targets"),
]


def test_rules_are_pure_and_in_report_order():
    m = measured(destroyed=40, blank=40, steps=[TO_TENSOR, NORMALISE, SECOND])
    assert [f.code for f in judge(ap.RULES, m, None, S)] == ["DLC602", "DLC603", "DLC605"]
    assert m.destroyed == 40 and len(m.steps) == 3  # judging changed nothing
    assert [f.code for f in judge(ap.RULES, ap.Measured(), None, S)] == ["DLC601"]


def test_summary_and_metrics_are_functions_of_the_numbers():
    m = measured(destroyed=20, blank=5, steps=[TO_TENSOR], output="float 3x32x32", grid="out/aug-preview/grid.png")
    assert ap.summary(m).startswith("48 images x 7 draws through 1 steps: 20% destroyed, 5% blank")
    assert ap.metrics(m)["destroyed_fraction"] == 0.2 and ap.metrics(m)["grid"] == "out/aug-preview/grid.png"
    assert ap.summary(ap.Measured()) == "no train transform found: nothing to preview"
    m = measured(mask_judged=96, mask_mismatched=48, mask_grid="out/aug-preview-masks.png")
    assert ap.summary(m).endswith("masks: 48 of 96 draws do not follow their image (grid: out/aug-preview-masks.png)")
    assert ap.metrics(m)["mask_mismatch_fraction"] == 0.5 and ap.metrics(m)["mask_judged_draws"] == 96
    assert "mask_judged_draws" not in ap.metrics(measured())  # not segmentation-style: no mask keys
