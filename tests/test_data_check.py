"""data-check on real data: raw pixels, class-sorted batches, labels shuffled apart from their
inputs and NaN inputs are each flagged with their own code (NaN named by batch and index), while
normalised digits, token ids and regression targets pass; targets judged for their task
(regression scale, multi-label prevalence, a language model's tokens counted as tokens); the
pairing control passes paired text with dict batches and fails it shuffled apart, and is
inconclusive rather than failing on weak evidence; batches are streamed, not held; bad batches
are clear errors; the user's model comes back bit-identical; runs repeat for a seed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import dlcheck
from conftest import RECIPES, SETUPS
from helpers import assert_same, snapshot
from zoo._data import photo_patches


def mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def loader(X, y, batch_size=64, shuffle=True):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                      generator=torch.Generator().manual_seed(0) if shuffle else None)


def found(result):
    return {f.code: f for f in result.findings}


def test_normalised_digits_pass_with_constant_pixels_as_a_note(digits):
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(*digits))
    assert result.status == "pass", (result.summary, [f.message for f in result.findings])
    note = found(result)["DLC703"]
    assert note.severity == "info" and "features 0, 32, 39" in note.message  # always-blank pixels
    m = result.metrics
    assert m["samples"] == 1280 and m["num_classes"] == 10 and m["duplicates"] == 0
    assert m["batch_entropy_ratio"] > 0.9
    assert m["pair_learning_true"] > 2 * m["pair_learning_permuted"]


def test_raw_pixels_fail_and_the_scaled_photos_pass():
    patches, labels = photo_patches()
    raw = torch.tensor(patches, dtype=torch.float32).permute(0, 3, 1, 2)  # 0..255
    y = torch.tensor(labels)
    cnn = lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                nn.Flatten(), nn.Linear(8, 4))
    result = dlcheck.check("data-check", model=cnn, train_loader=loader(raw, y, 32))
    assert result.status == "fail" and "DLC701" in found(result)
    assert "0..255" in found(result)["DLC701"].message
    mean = raw.mean((0, 2, 3), keepdim=True)
    std = raw.std((0, 2, 3), keepdim=True)
    result = dlcheck.check("data-check", model=cnn, train_loader=loader((raw - mean) / std, y, 32))
    assert not {"DLC701", "DLC702", "DLC703"} & set(found(result)), result.findings
    assert [r["channel"] for r in result.details["inputs_channels"]] == [0, 1, 2]


def test_three_axis_floats_are_raw_pixels_only_on_a_pixel_grid():
    """A float batch of 3 axes is grey images (B, H, W) or a sequence of feature rows (B, T, F): the
    photos' grey patches cast to float (256 levels) fail as raw pixels; a series kept in its own units
    (a percentage-like signal in 20..80, continuous) is no image: it warns as un-normalised (DLC702)."""
    patches, labels = photo_patches()
    grey = torch.tensor(patches, dtype=torch.float32).mean(-1).round()  # (B, 32, 32), whole 0..255
    y = torch.tensor(labels)
    flat = lambda: nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 4))
    result = dlcheck.check("data-check", model=flat, train_loader=loader(grey, y, 32),
                           settings={"data-check": {"pairing": False}})
    assert result.status == "fail" and "DLC701" in found(result), result.findings
    t = torch.arange(600.0)
    noise = torch.randn(600, generator=torch.Generator().manual_seed(0))
    series = 50 + 12 * torch.sin(t / 9) + 8 * torch.sin(t / 31) + noise
    windows = torch.stack([series[i:i + 24] for i in range(0, 560, 2)])[:, :, None]  # (B, 24 steps, 1 feature)
    targets = torch.stack([series[i + 24:i + 26] for i in range(0, 560, 2)])
    rnn = lambda: nn.Sequential(nn.Flatten(), nn.Linear(24, 2))
    result = dlcheck.check("data-check", model=rnn, train_loader=loader(windows, targets, 32),
                           loss_fn=nn.MSELoss(), settings={"data-check": {"pairing": False}})
    codes = found(result)
    assert "DLC701" not in codes and "DLC702" in codes and result.status == "warn", result.findings


def test_unscaled_table_warns_uncentred_not_raw_pixels():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)  # pixel intensities 0..16
    result = dlcheck.check("data-check", model=mlp,
                           train_loader=loader(torch.tensor(X, dtype=torch.float32), torch.tensor(y)))
    codes = found(result)
    assert result.status == "warn" and "DLC702" in codes and "DLC701" not in codes


@pytest.mark.parametrize("scaling, says", [
    (lambda X: (X / 16 - (X / 16).mean()) / (X / 16).std(), None),  # normalised as a whole: MNIST's convention
    (lambda X: (X / 16 - 0.1307) / 0.3081, None),  # MNIST's own constants: centred enough, unit-scale enough
    (lambda X: X / 16, "judged as one channel, as pixels flattened to a row are"),  # [0, 1]: mean 0.30, std 0.37
])
def test_pixels_flattened_to_a_row_are_judged_as_one_channel_not_feature_by_feature(scaling, says):
    """Pixels are normalised with one mean and std for the whole image, not per pixel; flattened to
    a row they used to be judged as a table, feature by feature (DLC702: '46 of 61 features are not
    zero-centred'). Their shared grid of at most 256 values (17 for digits) gives them away."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = scaling(torch.tensor(X, dtype=torch.float32))
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(X, torch.tensor(y)),
                           settings={"data-check": {"pairing": False}})
    codes = found(result)
    assert "of 64 features of inputs are constant" in codes["DLC703"].message  # blank pixels, still one by one
    if says is None:
        assert result.status == "pass" and "DLC702" not in codes, codes
    else:
        assert "DLC702" in codes and says in codes["DLC702"].message and "mean 0.305" in codes["DLC702"].message


def test_raw_pixels_flattened_to_a_row_are_raw_pixels():
    patches, labels = photo_patches()
    raw = torch.tensor(patches, dtype=torch.float32).flatten(1)  # 0..255, 3 x 16 x 16 values a row
    head = lambda: nn.Sequential(nn.Linear(raw.shape[1], 16), nn.ReLU(), nn.Linear(16, 4))  # noqa: E731
    result = dlcheck.check("data-check", model=head, train_loader=loader(raw, torch.tensor(labels), 32),
                           settings={"data-check": {"pairing": False}}, verify_fixes=True)
    codes = found(result)
    assert result.status == "fail" and "DLC701" in codes and "judged as one channel" in codes["DLC701"].message
    fix = codes["DLC701"].fix  # the conventional fix: one mean and std for the whole row, verified
    assert fix["verified"] and "one mean and std for the whole row" in fix["applied"], fix
    assert abs(float(fix["applied"].split("(x - ")[1].split(")")[0]) - float(raw.mean())) < 5, fix


def test_class_sorted_batches_fail_and_skip_the_pairing_control(digits):
    X, y = digits
    order = torch.argsort(y, stable=True)
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(X[order], y[order], 32, shuffle=False))
    codes = found(result)
    assert result.status == "fail" and "DLC707" in codes and "DLC709" not in codes
    assert "100% class 0" in codes["DLC707"].message
    assert result.metrics["batch_entropy_ratio"] < 0.2
    assert any("sorted" in f.message for f in result.findings if f.code == "DLC710")


def test_labels_shuffled_apart_from_inputs_fail(digits):
    X, y = (t.numpy().copy() for t in digits)
    np.random.default_rng(1).shuffle(X)
    np.random.default_rng(2).shuffle(y)
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(torch.from_numpy(X), torch.from_numpy(y)))
    assert result.status == "fail" and set(found(result)) == {"DLC703", "DLC709"}
    m = result.metrics
    assert abs(m["pair_learning_true"] - m["pair_learning_permuted"]) < 0.03


def diabetes():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = torch.tensor((X - X.mean(0)) / X.std(0), dtype=torch.float32)
    return X, torch.tensor(y, dtype=torch.float32)[:, None]  # disease progression, 25..346


def regression_net():
    return nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1))


def test_regression_targets_in_the_hundreds_warn_and_standardised_ones_pass():
    X, raw = diabetes()
    result = dlcheck.check("data-check", model=regression_net, loss_fn=nn.MSELoss(), train_loader=loader(X, raw, 32))
    finding = found(result)["DLC711"]
    assert finding.severity == "warn" and result.status == "warn"
    assert "mean 15" in finding.message and "std 7" in finding.message  # 152 and 77
    assert "Standardise" in finding.advice and "bias" in finding.advice
    assert "num_classes" not in result.metrics and result.metrics["target_rms"] > 100
    y = (raw - raw.mean()) / raw.std()
    healthy = dlcheck.check("data-check", model=regression_net, loss_fn=nn.MSELoss(), train_loader=loader(X, y, 32))
    assert healthy.status == "pass" and not {"DLC709", "DLC711"} & set(found(healthy)), healthy.findings
    assert abs(healthy.metrics["target_mean"]) < 0.2 and healthy.metrics["pair_heldout_true"] > 0.1
    apart = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    broken = dlcheck.check("data-check", model=regression_net, loss_fn=nn.MSELoss(), train_loader=loader(X, apart, 32))
    assert "DLC709" in found(broken) and broken.metrics["pair_heldout_true"] == 0


def multilabel_digits(columns):
    from zoo._data import standardised

    X, digit = standardised("digits")
    Y = torch.stack([c(digit) for c in columns], dim=1).float()
    net = lambda: nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, len(columns)))  # noqa: E731
    return dlcheck.check("data-check", model=net, loss_fn=nn.BCEWithLogitsLoss(), train_loader=loader(X, Y))


def test_multilabel_prevalence_is_reported_and_a_label_never_positive_warns():
    labels = [lambda d: d % 2 == 0, lambda d: d > 4, lambda d: torch.isin(d, torch.tensor([0, 6, 8, 9]))]
    healthy = multilabel_digits(labels)
    assert healthy.status == "pass" and "DLC712" not in found(healthy), healthy.findings
    prevalence = [row["prevalence"] for row in healthy.details["label_prevalence"]]
    assert len(prevalence) == 3 and all(0.35 < p < 0.65 for p in prevalence)
    assert "3 binary labels" in healthy.summary
    broken = multilabel_digits(labels + [lambda d: d > 9])  # an off-by-one column: never true
    finding = found(broken)["DLC712"]
    assert finding.severity == "warn" and "label 3 never positive in 1280 samples" in finding.message
    assert broken.metrics["prevalence_min"] == 0


def test_char_lm_counts_tokens_and_its_skewed_characters_are_no_warning():
    from setups.data_text import CharModel, lm_forward, windows

    ids, targets = windows(320)
    result = dlcheck.check("data-check", model=CharModel, forward=lm_forward, lr=3e-3,
                           train_loader=loader(ids, targets, 32))
    m = result.metrics
    assert m["samples"] == 320 and m["tokens"] == 320 * 64, m
    assert "320 samples (20480 tokens)" in result.summary
    assert result.status == "pass", [(f.code, f.severity, f.message) for f in result.findings]
    skew = [f for f in result.findings if f.code == "DLC706"]
    assert skew and all(f.severity == "info" for f in skew) and m["imbalance_ratio"] > 100
    assert "tokens" in skew[0].message and "natural" in skew[0].message
    assert "DLC709" not in found(result) and m["pair_heldout_true"] > 0.05  # the pairing control ran


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paired_text_with_dict_batches_passes_the_pairing_control_and_apart_fails(seed):
    from setups.data_text import BagOfWords, samples, text_loader

    paired = dlcheck.check("data-check", model=BagOfWords, train_loader=text_loader(samples()), seed=seed)
    assert "DLC709" not in found(paired) and paired.status == "pass", paired.findings
    m = paired.metrics  # what the true labels taught carried over to the held-out batches
    assert m["pair_heldout_accuracy_true"] > m["pair_heldout_accuracy_permuted"] + 0.15, m
    apart = dlcheck.check("data-check", model=BagOfWords, train_loader=text_loader(samples(apart=True)), seed=seed)
    assert apart.status == "fail" and "DLC709" in found(apart)
    # memorised (on the wider subset, or on the 4 batches where that was too much) with nothing carried over
    assert apart.metrics["pair_heldout_true"] == 0 and apart.metrics["pair_memorised"] >= 0.12, apart.metrics
    # one label per sample: the held-out majority share is measured, and labels apart stay near it
    assert 0 < apart.metrics["pair_heldout_majority"] < 1
    assert apart.metrics["pair_heldout_accuracy_true"] < apart.metrics["pair_heldout_majority"] + 0.25


def test_weak_evidence_is_inconclusive_not_a_failure(digits):
    X, y = digits
    slow = dlcheck.check("data-check", model=mlp, train_loader=loader(X, y), lr=1e-6)
    assert slow.status == "pass" and "DLC709" not in found(slow)
    assert "inconclusive" in found(slow)["DLC710"].message and slow.metrics["pair_steps"] == 160


def test_batches_are_streamed_not_held(digits):
    """Only the pairing subset (and its held-out batches) stays alive while the loader is read."""
    import gc
    import weakref

    X, y = digits

    class Loader:
        def __init__(self):
            self.alive = []
            self.most = 0

        def __len__(self):
            return 40

        def __iter__(self):
            for i in range(40):
                gc.collect()
                self.most = max(self.most, sum(r() is not None for r in self.alive))
                x = X[(i * 32) % 1280:(i * 32) % 1280 + 32].clone()
                self.alive.append(weakref.ref(x))
                yield x, y[(i * 32) % 1280:(i * 32) % 1280 + 32]

    data = Loader()
    result = dlcheck.check("data-check", model=mlp, train_loader=data, settings={"data-check": {"batches": 40}})
    assert result.metrics["batches"] == 40 and result.status == "pass", result.findings
    from dlcheck.checks.data_check import SETTINGS as s
    kept = s["pair_max_batches"] + s["pair_holdout"]  # the longer runs' subset + the held-out batches
    assert data.most <= kept + 1, data.most


def test_nan_inputs_name_the_batch_and_the_index(digits):
    X, y = digits
    X = X.clone()
    X[[70, 71, 300], 5] = float("nan")
    X[500, 1] = float("inf")
    result = dlcheck.check("data-check", model=mlp, train_loader=loader(X, y, shuffle=False))
    finding = found(result)["DLC704"]
    assert result.status == "fail"
    assert "4 non-finite values" in finding.message and "batch 1, sample index 6, 7" in finding.message
    assert "pairing control skipped" in " ".join(f.message for f in result.findings)


def test_token_ids_skip_statistics_but_labels_are_checked():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    tokens, labels = torch.tensor(X, dtype=torch.long), torch.tensor(y)  # (N, 64) ids 0..16

    class Bag(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.embed = nn.Embedding(17, 8)
            self.head = nn.Linear(64 * 8, classes)

        def forward(self, x):
            return self.head(self.embed(x).flatten(1))

    result = dlcheck.check("data-check", model=Bag, train_loader=loader(tokens, labels))
    assert result.status == "pass" and "ids" in found(result)["DLC710"].message
    narrow = dlcheck.check("data-check", model=lambda: Bag(8), train_loader=loader(tokens, labels, shuffle=False),
                           settings={"data-check": {"pairing": False}})
    finding = found(narrow)["DLC705"]
    assert narrow.status == "fail" and "outside 0..7" in finding.message
    first = int(((labels >= 8).nonzero()[0]))
    assert f"batch {first // 64}, index {first % 64}" in finding.message


def test_imbalance_and_duplicates_warn():
    from zoo._data import standardised

    X, y = standardised("wine")
    keep = torch.cat([(y != 2).nonzero().flatten(), (y == 2).nonzero().flatten()[:5]])
    net = lambda: nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 3))
    mild = dlcheck.check("data-check", model=net, train_loader=loader(X, y, 32))
    assert mild.status == "pass" and "DLC706" not in found(mild)
    skewed = dlcheck.check("data-check", model=net, train_loader=loader(X[keep], y[keep], 32))
    assert found(skewed)["DLC706"].severity == "warn" and "class 1 has 71" in found(skewed)["DLC706"].message
    doubled = dlcheck.check("data-check", model=net,
                            train_loader=loader(torch.cat([X, X[:20]]), torch.cat([y, y[:20]]), 32))
    assert found(doubled)["DLC708"].severity == "warn" and "20 of 198" in found(doubled)["DLC708"].message


def test_dict_batches_through_a_forward_permute_the_label_entry(digits):
    X, y = digits
    batches = [{"pixels": X[i:i + 64], "digit": y[i:i + 64]} for i in range(0, 1280, 64)]
    result = dlcheck.check("data-check", model=mlp, train_loader=batches,
                           forward=lambda model, b: (model(b["pixels"]), b["digit"]))
    assert result.status == "pass" and "pair_learning_true" in result.metrics
    nested = [{"pixels": b["pixels"], "meta": {"digit": b["digit"]}} for b in batches]
    result = dlcheck.check("data-check", model=mlp, train_loader=nested,
                           forward=lambda model, b: (model(b["pixels"]), b["meta"]["digit"]))
    assert result.status == "pass" and "pair_learning_true" not in result.metrics
    assert sum(f.code == "DLC710" for f in result.findings) == 2  # inputs unknown, pairing skipped


def test_model_object_is_bit_identical_and_runs_repeat(digits):
    model = mlp()
    model.eval()
    before = snapshot(model)
    first = dlcheck.check("data-check", model=model, train_loader=loader(*digits))
    assert_same(before, model)
    second = dlcheck.check("data-check", model=model, train_loader=loader(*digits))
    assert first.status == second.status == "pass"
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(second.metrics, sort_keys=True)


def test_cli_writes_both_curves_and_no_pairing_turns_it_off(cli, tmp_path):
    out = cli("data-check", RECIPES / "digits.yaml", "--json", "-", "--out", tmp_path)
    assert out.exit_code == 0, out.stderr
    check = json.loads(out.stdout)["checks"][0]
    rows = (tmp_path / "data-check-pairing.csv").read_text().splitlines()
    assert rows[0] == "step,true_labels,permuted_labels" and len(rows) == check["metrics"]["pair_steps"] + 1
    assert (tmp_path / "data-check-pairing.png").stat().st_size > 1000
    off = cli("data-check", RECIPES / "digits.yaml", "--json", "-", "--no-pairing", "--batches", "3")
    metrics = json.loads(off.stdout)["checks"][0]["metrics"]
    assert off.exit_code == 0 and metrics["batches"] == 3 and "pair_steps" not in metrics


@pytest.mark.parametrize("setup,words", [("empty_loader.py", "yielded no batches"),
                                          ("tensor_batches.py", "not an (inputs, targets) pair")])
def test_bad_loaders_exit_2(cli, setup, words):
    out = cli("data-check", SETUPS / setup)
    assert out.exit_code == 2 and words in out.stderr


def test_non_tensor_batches_are_a_clear_error(cli, tmp_path):
    target = tmp_path / "strings.py"
    target.write_text("import torch\nfrom torch import nn\nmodel = lambda: nn.Linear(2, 2)\n"
                      "train_loader = [(['a', 'b'], torch.tensor([0, 1]))]\n")
    out = cli("data-check", target)
    assert out.exit_code == 2 and "batch 0: the inputs are a list holding no tensor" in out.stderr
    target.write_text("import torch\nfrom torch import nn\nmodel = lambda: nn.Linear(2, 2)\n"
                      "num_classes = 2\ntrain_loader = [(torch.zeros(2, 2), [0, 1])]\n")
    out = cli("data-check", target)
    assert out.exit_code == 2 and "the targets are a list, not a tensor" in out.stderr


def test_one_garbage_label_does_not_make_a_table_of_every_class(digits):
    X, y = digits
    y = y.clone()
    y[5] = 10_000_000  # a corrupt label; no num_classes, and the model's output width would say 10
    data = DataLoader(TensorDataset(X, y), batch_size=64)
    result = dlcheck.check("data-check", train_loader=data, model=lambda: nn.Linear(64, 10),
                           settings={"data-check": {"pairing": False}})
    assert "label 10000000 in batch 0, index 5" in found(result)["DLC705"].message
    assert len(result.details["classes"]) == 10
    # an output with no class axis: nothing says how many classes there are
    without_width = dlcheck.check("data-check", train_loader=data, model=lambda: nn.Sequential(nn.Linear(64, 1), nn.Flatten(0)),
                                  loss_fn=lambda out, t: (out - t.float() / 1e7).pow(2).mean(),
                                  settings={"data-check": {"pairing": False}})
    assert without_width.status != "error" and "classes" not in without_width.details, without_width.summary
    assert "number of classes is not known" in found(without_width)["DLC710"].message


def test_zero_steps_are_bad_input_not_a_crash(cli):
    out = cli("data-check", RECIPES / "digits_setup.py", "--pair-steps", "0")
    assert out.exit_code == 2 and "at least 1" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(dlcheck.errors.UserError, match="pair_steps.*at least 1"):
        dlcheck.check("data-check", str(RECIPES / "digits_setup.py"), settings={"data-check": {"pair_steps": 0}})
