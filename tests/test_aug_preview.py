"""aug-preview on real images (scikit-learn's sample photos and digits): the grid is written at the
size its layout promises, destructive erasing and double normalisation are flagged, sensible
pipelines pass, the transform is found through wrappers, and the user's objects are left alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset
from torchvision import transforms as T

import dlcheck
from conftest import ROOT
from dlcheck.render.plots import aug_grid_layout
from zoo._data import PatchDataset

ZOO = ROOT / "tests" / "zoo"
MEAN, STD = (0.37, 0.40, 0.36), (0.36, 0.30, 0.32)  # of the photo patches
FAST = {"aug-preview": {"measure": 16}}


def model():
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(4))


def codes(result):
    return {f.code: f.severity for f in result.findings}


def photo_check(transform, wrap=lambda ds: ds, settings=FAST, **kwargs):
    dataset = wrap(PatchDataset(transform))
    return dlcheck.check("aug-preview", model=model, train_loader=DataLoader(dataset, batch_size=32),
                         settings=settings, **kwargs)


class DigitImages(Dataset):
    """scikit-learn's digits as 8x8 grayscale PIL images (0..240), or as 1x8x8 tensors in 0..1."""

    def __init__(self, transform=None, as_tensor=False):
        X, y = load_digits(return_X_y=True)
        self.images, self.labels = X.reshape(-1, 8, 8)[:600], y[:600]
        self.transform, self.as_tensor = transform, as_tensor

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        if self.as_tensor:
            x = torch.tensor(self.images[i] / 16, dtype=torch.float32)[None]
        else:
            x = Image.fromarray((self.images[i] * 15).astype(np.uint8))
        return (self.transform(x) if self.transform else x), int(self.labels[i])


def digits_stats():
    X = load_digits().images[:600] / 16
    return float(X.mean()), float(X.std())


def test_grid_has_the_promised_size_and_shows_images(tmp_path, cli):
    res = cli("aug-preview", ZOO / "ok_photo_cnn.py", "--out", tmp_path, "--count", 5, "--draws", 3, "--json", "-")
    assert res.exit_code == 0, res.stderr
    check = json.loads(res.stdout)["checks"][0]
    path = tmp_path / "aug-preview-grid.png"
    assert check["artifacts"] == [str(path)] and str(path) in check["summary"]
    image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    assert (image.shape[1], image.shape[0]) == aug_grid_layout(5, 4, cell=64, max_rows=25)[:2]
    assert image.std() > 20  # photos, not a blank sheet
    assert check["metrics"]["shown"] == 5 and check["metrics"]["draws"] == 3


def test_large_count_wraps_into_a_contact_sheet(tmp_path):
    result = photo_check(T.Compose([T.RandomHorizontalFlip(), T.ToTensor()]), out=str(tmp_path),
                         settings={"aug-preview": {"count": 60, "draws": 2, "cell_px": 32}})
    width, height, panels, per_panel = aug_grid_layout(60, 3, cell=32, max_rows=25)
    assert (panels, per_panel) == (3, 20)
    assert Image.open(result.metrics["grid"]).size == (width, height)


def test_destructive_erasing_is_flagged_and_framed(tmp_path):
    transform = T.Compose([T.ToTensor(), T.Normalize(MEAN, STD), T.RandomErasing(p=1.0, scale=(0.9, 1.0))])
    result = photo_check(transform, settings={}, out=str(tmp_path))
    assert codes(result).get("DLC602") in ("warn", "fail"), result.summary
    assert result.metrics["destroyed_fraction"] > 0.15  # torchvision erases ~20 % of 32 px draws
    erasing = result.details["steps"][-1]
    assert erasing["name"].startswith("RandomErasing") and erasing["changed"] != "0%"
    sheet = np.asarray(Image.open(result.metrics["grid"]).convert("RGB")).astype(int)
    red = (sheet[..., 0] > 200) & (sheet[..., 1] < 60) & (sheet[..., 2] < 60)
    assert red.sum() > 100  # destroyed draws are framed red


def test_double_normalise_through_nested_compose_and_subset():
    normalize = T.Normalize(MEAN, STD)
    pipeline = T.Compose([T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), normalize]), normalize])
    result = photo_check(pipeline, wrap=lambda ds: Subset(ds, range(100)))
    assert codes(result) == {"DLC605": "fail"}, result.summary
    assert result.metrics["transform_from"] == "train_loader.dataset.dataset.transform"
    assert result.metrics["normalize_steps"] == 2


def test_normalize_on_data_already_normalised_is_flagged(digits):
    class Standardised(Dataset):  # yields standardised digits, then normalises them once more
        def __init__(self, transform):
            self.X, self.transform = digits[0][:300].reshape(-1, 1, 8, 8), transform

        def __len__(self):
            return len(self.X)

        def __getitem__(self, i):
            return self.transform(self.X[i]), 0

    pipeline = T.Compose([T.RandomAffine(0, translate=(0.1, 0.1)), T.Normalize((0.3,), (0.35,))])
    result = dlcheck.check("aug-preview", model=model, train_loader=DataLoader(Standardised(pipeline)), settings=FAST)
    assert "DLC605" in codes(result) and "step 2" in result.findings[0].message


def test_sensible_photo_pipeline_passes():
    pipeline = T.Compose([T.RandomResizedCrop(32, scale=(0.5, 1.0)), T.RandomHorizontalFlip(),
                          T.ColorJitter(0.3, 0.3, 0.3), T.ToTensor(), T.Normalize(MEAN, STD)])
    result = photo_check(pipeline, settings={})
    assert result.status == "pass" and not result.findings, (result.summary, codes(result))
    assert result.metrics["destroyed_fraction"] < 0.05 and result.metrics["blank_fraction"] == 0
    assert all(abs(m) < 0.3 for m in result.metrics["mean"]) and all(0.8 < s < 1.2 for s in result.metrics["std"])


@pytest.mark.parametrize("as_tensor", [False, True], ids=["pil", "tensor"])
def test_mild_augmentation_on_digits_passes(as_tensor):
    mean, std = digits_stats()
    steps = [T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1))]
    steps += [T.Normalize((mean,), (std,))] if as_tensor else [T.ToTensor(), T.Normalize((mean,), (std,))]
    dataset = DigitImages(T.Compose(steps), as_tensor=as_tensor)
    result = dlcheck.check("aug-preview", model=model, train_loader=DataLoader(dataset, batch_size=64), settings=FAST)
    assert result.status == "pass" and not result.findings, (result.summary, codes(result))
    assert result.metrics["judged_draws"] == 16 * 7 and result.metrics["destroyed_fraction"] == 0


def test_train_transform_in_the_target_wins_and_raw_values_are_flagged():
    dataset = DigitImages(as_tensor=True)  # no transform on the dataset: its items are the raw samples
    raw = T.Compose([T.RandomAffine(5), T.Lambda(lambda x: x * 255)])
    result = dlcheck.check("aug-preview", model=model, train_loader=DataLoader(dataset), train_transform=raw,
                           settings=FAST)
    assert codes(result) == {"DLC604": "warn"} and result.status == "warn"
    assert result.metrics["transform_from"] == "'train_transform'"


def test_totensor_only_output_is_an_info_note():
    result = photo_check(T.Compose([T.RandomHorizontalFlip(), T.ToTensor()]))
    assert codes(result) == {"DLC606": "info"} and result.status == "pass"


def test_no_transform_is_an_info_note(digits):
    X, y = digits
    result = dlcheck.check("aug-preview", model=model, train_loader=DataLoader(TensorDataset(X, y)))
    assert codes(result) == {"DLC601": "info"} and result.status == "pass"


def test_transform_found_through_subset_of_concat():
    pipeline = T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    result = photo_check(pipeline, wrap=lambda ds: Subset(ConcatDataset([ds, ds]), range(0, 384, 2)))
    assert result.metrics["transform_from"] == "train_loader.dataset.dataset.datasets[0].transform"
    assert result.status == "pass", result.summary


def test_user_objects_are_left_as_found():
    pipeline = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(32, padding=2), T.ToTensor(), T.Normalize(MEAN, STD)])
    dataset = PatchDataset(pipeline)
    before = (dataset.transform, list(pipeline.transforms), repr(pipeline), dict(vars(dataset)).keys())
    torch.manual_seed(7)
    rng = torch.get_rng_state()
    dlcheck.check("aug-preview", model=model, train_loader=DataLoader(Subset(dataset, range(50))), settings=FAST)
    assert dataset.transform is before[0] and pipeline.transforms == before[1] and repr(pipeline) == before[2]
    assert dict(vars(dataset)).keys() == before[3] and torch.equal(torch.get_rng_state(), rng)
    assert isinstance(dataset[0][0], torch.Tensor)  # the transform still applies


def test_same_seed_same_numbers_other_seed_other_draws():
    pipeline = T.Compose([T.RandomResizedCrop(32, scale=(0.3, 1)), T.ToTensor(), T.Normalize(MEAN, STD)])
    runs = [photo_check(pipeline, seed=seed).metrics for seed in (0, 0, 1)]
    assert json.dumps(runs[0], sort_keys=True) == json.dumps(runs[1], sort_keys=True)
    assert runs[0]["mean"] != runs[2]["mean"]


RAISING_TARGET = '''
import numpy as np
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Dataset


class Broken:
    """A transform that fails on bright images."""

    def __call__(self, x):
        if x.max() > 15:
            raise ValueError("cannot crop a bright image")
        return x


class Digits(Dataset):
    def __init__(self, transform):
        self.X, self.transform = load_digits().images.astype(np.float32), transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.transform(self.X[i]), 0


model = lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
train_loader = DataLoader(Digits(lambda x: x), batch_size=8)
train_transform = Broken()
'''


def test_raising_transform_exits_2_naming_transform_and_sample(cli, tmp_path):
    target = tmp_path / "broken_setup.py"
    target.write_text(RAISING_TARGET)
    res = cli("aug-preview", target)
    assert res.exit_code == 2, res.stdout
    line = res.stderr.strip().splitlines()[-1]
    assert "train_transform" in line and "broken_setup.py" in line and "ValueError: cannot crop" in line
    assert "on sample" in line and "Traceback" not in res.stderr


def test_without_a_dataset_samples_come_from_only_as_many_batches_as_needed(digits):
    X, y = digits
    images = X[:640].reshape(-1, 1, 8, 8)

    class Batches:  # a loader with no .dataset: batches of 64 samples, counting what is read
        read = 0

        def __iter__(self):
            for i in range(0, len(images), 64):
                Batches.read += 1
                yield images[i:i + 64], y[i:i + 64]

    result = dlcheck.check("aug-preview", model=model, train_loader=Batches(),
                           train_transform=T.RandomAffine(5, translate=(0.1, 0.1)), settings=FAST)
    assert result.status != "error", result.summary
    assert result.metrics["judged_draws"] > 0
    assert Batches.read <= 4  # pre-flight + the check's first batch(es), not one batch per sample
