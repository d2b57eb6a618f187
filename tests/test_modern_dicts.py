"""Dict batches by the forward's signature (issue 19, item 6): a tabular model with categorical
embeddings and numeric features, ``forward(self, cat, num)``, on scikit-learn's wine table, fed
dicts ``{'cat', 'num', 'labels'}``; and the same with the dataset's own key names, set by
``input_key`` / ``target_key`` in the target file (tests/modern/dicts_*.py).

Each set-up is first proved to train by a plain PyTorch loop (no dlcheck), then run through every
check of ``dlcheck run`` on seeds 0-2: every check passes, or warns with a true reason, or is
skipped with a reason. Around them: how a dict batch splits and reaches the model, target-file
keys against the flag, misspelt target names, and the README naming every flag an advice names."""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

import dlcheck
from dlcheck.batches import dict_call, dict_keys, split_batch
from dlcheck.config import Settings
from dlcheck.errors import UserError
from dlcheck.runner import execute

MODERN = Path(__file__).resolve().parent / "modern"
ROOT = MODERN.parent.parent
#: set-up -> (the target key, the note on how the batch reaches the model)
SETUPS = {
    "dicts_tabular_wine": ("labels", "the model gets cat, num"),
    "dicts_tabular_keys": ("cultivar", "the model gets codes, measurements"),
}
#: warn codes a healthy set-up may carry because they are true (none)
TRUE_WARNINGS: dict[str, set[str]] = {}


def load(setup: str):
    sys.path.insert(0, str(MODERN))
    try:
        spec = importlib.util.spec_from_file_location(f"_plain_{setup}", MODERN / f"{setup}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(MODERN))
    return module


@pytest.mark.parametrize("setup", SETUPS)
def test_setup_trains_by_a_plain_loop(setup):
    """The evidence that the set-up is healthy: 300 Adam steps at its lr, the model called the way a
    practitioner calls it (every key but the target's, by name); the training loss falls from
    about ln 3 to under 0.05 and the held-out accuracy is far above chance (1/3)."""
    module, tkey = load(setup), SETUPS[setup][0]
    torch.manual_seed(0)
    model = module.model()
    opt = torch.optim.Adam(model.parameters(), lr=module.lr)
    losses, step = [], 0
    while step < 300:
        for batch in module.train_loader():
            loss = nn.functional.cross_entropy(model(**{k: v for k, v in batch.items() if k != tkey}), batch[tkey])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
    model.eval()
    with torch.no_grad():
        right = total = 0
        for batch in module.val_loader():
            pred = model(**{k: v for k, v in batch.items() if k != tkey}).argmax(1)
            right += int((pred == batch[tkey]).sum())
            total += len(pred)
    first, last = losses[0], sum(losses[-20:]) / 20  # ln 3 = 1.10 at init
    assert first > 0.9 and last < 0.05, (first, last)
    assert right / total > 0.85, right / total


@functools.lru_cache(maxsize=None)
def report(setup: str, seed: int):
    return dlcheck.run(str(MODERN / f"{setup}.py"), device="cpu", seed=seed)


@pytest.mark.parametrize("setup,seed", [(s, seed) for s in SETUPS for seed in (0, 1, 2)])
def test_healthy_dict_setup_passes_every_check(setup, seed):
    rep = report(setup, seed)
    assert {c.name for c in rep.checks} >= {"init-loss", "overfit-small", "lr-find", "init-stats", "bn-gap",
                                            "aug-preview", "data-check", "batch-independence"}
    allowed = TRUE_WARNINGS.get(setup, set())
    bad = {}
    for c in rep.checks:
        flagged = [f.code for f in c.findings if f.severity in ("warn", "fail", "error")]
        if c.status in ("fail", "error") or (c.status == "warn" and not set(flagged) <= allowed):
            bad[c.name] = (c.status, c.summary, [(f.code, f.message) for f in c.findings if f.severity != "info"])
        if c.skipped:
            assert c.reason, c.name
    assert not bad, bad
    task = rep.to_dict()["task"]
    assert task["kind"] == "classification" and task["classes"] == 3, task
    assert task["model_inputs"] == SETUPS[setup][1], task


def test_data_check_reads_every_input_key():
    """Without an input key, data-check's input statistics are per key of the dict: the codes are
    named as ids (no mean/std), the numeric table is measured; batch-independence measured both
    (the codes through their embeddings)."""
    rep = report("dicts_tabular_wine", 0)
    data = next(c for c in rep.checks if c.name == "data-check")
    assert "inputs['cat']" in data.summary and "inputs['num'] table (10)" in data.summary, data.summary
    bi = next(c for c in rep.checks if c.name == "batch-independence")
    assert not bi.skipped and "0 of their own" in bi.summary, bi.summary


# -- how a dict batch splits and reaches the model ------------------------------------------------
class _CatNum(nn.Module):
    def forward(self, cat, num):
        return num


class _X(nn.Module):
    def forward(self, x):
        return x


class _Kwargs(nn.Module):
    def forward(self, **features):
        return features["num"]


def _batch(**keys):
    return {k: torch.zeros(4, 2) for k in keys}


def test_several_inputs_without_a_usual_key_go_by_the_forwards_names():
    batch = _batch(cat=1, num=1, weight=1, labels=1)
    inputs, targets = split_batch(batch, 0, "train_loader")
    assert list(inputs) == ["cat", "num", "weight"] and targets is batch["labels"]
    args, kwargs, left_out = dict_call(_CatNum(), batch)
    assert args == () and list(kwargs) == ["cat", "num"] and left_out == ["weight"]
    args, kwargs, left_out = dict_call(_Kwargs(), batch)
    assert args == () and list(kwargs) == ["cat", "num", "weight"] and left_out == []


def test_one_key_besides_the_targets_is_the_input():
    batch = _batch(feats=1, labels=1)
    assert dict_keys(batch) == ("feats", "labels")
    args, kwargs, _ = dict_call(_X(), batch)
    assert args == (batch["feats"],) and kwargs == {}


def test_a_forward_naming_no_key_is_told_what_to_do():
    with pytest.raises(UserError, match=r"forward\(self, cat, num\).*input_key"):
        dict_call(_X(), _batch(cat=1, num=1, labels=1))


def test_targets_not_found_or_a_key_missing_is_a_clear_error():
    with pytest.raises(UserError, match="target_key"):
        split_batch(_batch(cat=1, num=1, cultivar=1), 0, "train_loader")
    with pytest.raises(UserError, match="without the target_key 'cls'"):
        split_batch(_batch(cat=1, labels=1), 0, "train_loader", target_key="cls")
    with pytest.raises(UserError, match="without the input_key 'pixels'"):
        split_batch(_batch(cat=1, labels=1), 0, "train_loader", input_key="pixels")
    inputs, targets = split_batch(_batch(cat=1, num=1, cultivar=1), 0, "w", target_key="cultivar")
    assert list(inputs) == ["cat", "num"]


# -- input_key / target_key in the target file, the flag winning ----------------------------------
KEYED = """
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

input_key = "measurements"
target_key = "cultivar"

class Rows(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return {"measurements": torch.randn(5, generator=g), "aux": torch.randn(5, generator=g),
                "cultivar": i % 3}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 3)
    def forward(self, x):
        return self.fc(x)

model = Net
train_loader = lambda: DataLoader(Rows(), batch_size=16)
"""


def _keyed(tmp_path, text=KEYED):
    path = tmp_path / "keyed_setup.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_target_file_keys_are_honoured(tmp_path):
    rep = dlcheck.run(str(_keyed(tmp_path)), checks=["init-loss"], device="cpu")
    assert rep.to_dict()["task"]["model_inputs"] == "the model gets measurements (by position); left out: aux"
    assert rep.checks[0].status == "pass", rep.checks[0].summary


def test_the_flag_wins_over_the_target_file(tmp_path):
    settings = Settings(target=str(_keyed(tmp_path)), device="cpu", quiet=True, input_key="aux")
    rep = execute(settings, ["init-loss"])
    assert rep.to_dict()["task"]["model_inputs"] == "the model gets aux (by position); left out: measurements"


def test_a_key_that_is_not_a_string_is_refused(tmp_path):
    with pytest.raises(UserError, match="target_key.*must be a string"):
        dlcheck.run(str(_keyed(tmp_path, KEYED.replace('target_key = "cultivar"', "target_key = 2"))),
                    checks=["init-loss"], device="cpu")


# -- misspelt target names ------------------------------------------------------------------------
MISSPELT = KEYED + """
lossfn = nn.CrossEntropyLoss()
val_loder = train_loader
num_class = 3
loss = nn.CrossEntropyLoss()
test_loader = train_loader  # not a dlcheck name, and no misspelling of one
lm_forward = None  # a dlcheck name with more words: a name of its own
class Model(Net):
    pass
"""


def test_misspelt_names_are_named_once_on_stderr(tmp_path, capsys):
    dlcheck.run(str(_keyed(tmp_path, MISSPELT)), checks=["init-loss"], device="cpu")
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("dlcheck: warning")]
    assert len(warnings) == 1, err
    for name, meant in (("lossfn", "loss_fn"), ("val_loder", "val_loader"), ("num_class", "num_classes"),
                        ("loss", "loss_fn")):
        assert f"'{name}' (did you mean '{meant}'?)" in warnings[0]
    assert "test_loader" not in warnings[0] and "'Model'" not in warnings[0] and "lm_forward" not in warnings[0]


def test_a_correct_target_warns_about_nothing(tmp_path, capsys):
    dlcheck.run(str(_keyed(tmp_path)), checks=["init-loss"], device="cpu")
    assert "warning" not in capsys.readouterr().err


# -- checks that need "the inputs" as one tensor --------------------------------------------------
def test_aug_preview_skips_several_inputs_with_a_reason():
    """A dataset of dict rows with a transform and two inputs without an input key: which input the
    transform makes is unknown, so aug-preview is skipped and says how to point it at one."""
    from torch.utils.data import DataLoader

    sys.path.insert(0, str(MODERN))
    try:
        from _dicts_data import split
    finally:
        sys.path.remove(str(MODERN))
    train, _ = split()
    train.transform = lambda x: x
    result = dlcheck.check("aug-preview", model=nn.Linear(2, 3), train_loader=DataLoader(train, batch_size=8),
                           device="cpu")
    assert result.status == "pass" and result.skipped, (result.status, result.summary)
    assert "several inputs (cat, num)" in result.reason and "input_key" in result.reason


def test_bn_gap_runs_on_a_dict_of_inputs():
    """A BatchNorm model fed dicts of two inputs by name: bn-gap compares train and eval mode."""
    sys.path.insert(0, str(MODERN))
    try:
        from _dicts_data import Embedded, loaders, split
    finally:
        sys.path.remove(str(MODERN))

    class Normed(Embedded):
        def __init__(self):
            super().__init__()
            self.mlp.insert(1, nn.BatchNorm1d(64))

        def forward(self, cat, num):
            return self.encode(cat, num)

    train, val = loaders(*split())
    result = dlcheck.check("bn-gap", model=Normed, train_loader=train, val_loader=val, device="cpu")
    assert result.status in ("pass", "warn") and not result.skipped, (result.status, result.summary)


# -- the README names every flag -----------------------------------------------------------------
def test_readme_lists_every_flag_an_advice_or_an_option_names():
    from dlcheck.codes import CODES
    from dlcheck.cli import _common_params

    readme = (ROOT / "README.md").read_text()
    named = {flag for code in CODES.values() for text in vars(code).values() if isinstance(text, str)
             for flag in re.findall(r"--[a-z][a-z-]+", text)}
    infos = [p.annotation.__metadata__[0] for p in _common_params(True)]
    options = {d for info in infos for d in (info.default, *(info.param_decls or ()))
               if isinstance(d, str) and d.startswith("--")}
    assert {"--input-key", "--target-key", "--val-data"} <= options
    missing = sorted(f for f in named | options if not re.search(re.escape(f) + r"\b", readme))
    assert not missing, missing
