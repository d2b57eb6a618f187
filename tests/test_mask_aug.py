"""Dense targets follow the input's augmentation (issue 20, item 3). Set-ups in
tests/modern/maskaug_*.py: a segmentation dataset whose transform flips and crops the image only
(DLC607), and its healthy twins: torchvision.transforms.v2 moving image and tv_tensors.Mask
together, a hand-written joint ``train_transform(image, mask)``, and photometric-only
augmentation of the image. The small FCN is proved to learn by a plain loop here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import dlcheck
from helpers import load_setup, unhealthy
from dlcheck import registry as checks

MODERN = Path(__file__).resolve().parent / "modern"
BUG = str(MODERN / "maskaug_bug_image_only_flip.py")
HEALTHY = ["maskaug_ok_v2_joint", "maskaug_ok_pair_flip", "maskaug_ok_photometric", "maskaug_ok_photo_v2"]


def load(name: str):
    return load_setup(MODERN / f"{name}.py")


def test_the_fcn_learns_the_masks_through_the_joint_augmentation():
    t = load("maskaug_ok_v2_joint")
    torch.manual_seed(0)
    model = t.model()
    opt = torch.optim.Adam(model.parameters(), lr=t.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(25):  # 300 steps
        for x, y in t.train_loader():
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pairs = [(model(x).argmax(1), y) for x, y in t.val_loader()]
    accuracy = sum(float((p == y).sum()) for p, y in pairs) / sum(y.numel() for _, y in pairs)
    background = sum(float((y == 0).sum()) for _, y in pairs) / sum(y.numel() for _, y in pairs)
    assert accuracy > background + 0.08, (accuracy, background)


def test_a_flip_of_the_image_alone_is_caught():
    result = dlcheck.check("aug-preview", BUG)
    found = {f.code: f for f in result.findings}
    assert result.status == "fail" and "DLC607" in found, (result.status, result.summary, sorted(found))
    message = found["DLC607"].message
    assert "RandomHorizontalFlip" in message and "stayed as it was" in message, message
    assert result.metrics["mask_mismatch_fraction"] > 0.3
    assert "tv_tensors.Mask" in found["DLC607"].advice
    kinds = [(f.kind, f.file) for f in result.figures]
    assert ("aug_grid", "masks.png") in kinds
    marks = next(f for f in result.figures if f.file == "masks.png").data["marks"]
    assert any("mismatch" in row for row in marks)


@pytest.mark.parametrize("setup", HEALTHY)
def test_healthy_augmentation_keeps_the_masks_on_their_images(setup):
    result = dlcheck.check("aug-preview", str(MODERN / f"{setup}.py"))
    assert result.status == "pass" and not result.findings, (result.summary, [f.code for f in result.findings])
    assert result.metrics["mask_judged_draws"] >= 48 and result.metrics["mask_mismatch_fraction"] == 0.0
    assert any(f.file == "masks.png" for f in result.figures)


def test_joint_transforms_are_previewed_and_put_back():
    t = load("maskaug_ok_v2_joint")
    loader = t.train_loader()
    transforms = loader.dataset.transforms
    result = dlcheck.check("aug-preview", model=t.model, train_loader=lambda: loader, num_classes=3)
    assert result.status == "pass", result.summary
    assert result.metrics["transform_from"] == "train_loader.dataset.transforms"
    assert result.metrics["steps"] == 3  # the v2 Compose, step by step
    assert loader.dataset.transforms is transforms and loader.dataset.transform is None


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", ["maskaug_ok_v2_joint", "maskaug_ok_photometric"])
def test_healthy_setups_pass_every_check(setup, seed):
    report = dlcheck.run(str(MODERN / f"{setup}.py"), device="cpu", seed=seed)
    assert [c.name for c in report.checks] == checks.run_by_default()
    bad = unhealthy(report, loud=True)
    assert not bad, bad


def test_the_hand_written_joint_transform_passes_every_check():
    report = dlcheck.run(str(MODERN / "maskaug_ok_pair_flip.py"), device="cpu", seed=0)
    bad = unhealthy(report)
    assert not bad, bad
    for seed in (1, 2):  # the checks that read its data, on the other seeds
        for check in ("aug-preview", "data-check"):
            result = dlcheck.check(check, str(MODERN / "maskaug_ok_pair_flip.py"), seed=seed)
            assert result.status == "pass", (check, seed, result.summary)
