"""Compiled models and frozen, pretrained-style backbones (issue 19, items 3-5), on digits:

- modules_compiled_cnn: a small CNN handed over as ``torch.compile(model)``; init-stats, bn-gap and
  batch-independence measure the module it wraps (hooks do not fire inside a compiled graph);
- modules_frozen_probe: a linear probe on a frozen backbone with BatchNorm, kept in eval mode by an
  overridden ``train()``; bn-gap neither warms nor compares what the model never trains;
- modules_frozen_bn: fine-tuning with torchvision's FrozenBatchNorm2d, reported as fixed statistics.

Each is proved to train by a plain PyTorch loop, then run through every check on seeds 0-2. Planted
bugs: a compiled deep MLP with a x0.01 init is still caught by init-stats.
"""

from __future__ import annotations

import functools
import importlib
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

import dlcheck
from helpers import MACHINE_TIMED, unhealthy

MODERN = Path(__file__).resolve().parent / "modern"
SETUPS = ("modules_compiled_cnn", "modules_frozen_probe", "modules_frozen_bn")
#: (set-up, check) verdicts that belong to checks outside this part of issue 19, said in its report:
#: overfit-small counts the frozen backbone's parameters (requires_grad=False) as "never changed" (DLC204)
ELSEWHERE: set = set()
#: (set-up, check) -> the warning codes that are true there: a linear probe on frozen features
#: memorises 160 samples more slowly than overfit-small's budget (its loss is still falling: DLC209)
TRUE_WARNINGS = {("modules_frozen_probe", "overfit-small"): {"DLC209"}}


def setup_module_of(name: str):
    sys.path.insert(0, str(MODERN))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(MODERN))


@functools.lru_cache(maxsize=None)
def report(name: str, seed: int):
    return dlcheck.run(str(MODERN / f"{name}.py"), device="cpu", seed=seed)


def check_of(rep, name: str):
    return next(c for c in rep.checks if c.name == name)


@pytest.mark.parametrize("name", SETUPS)
def test_setup_trains_with_a_plain_loop(name):
    """The evidence that the set-up is healthy: 300 steps of Adam at its lr, no dlcheck."""
    mod = setup_module_of(name)
    torch.manual_seed(0)
    model = mod.model()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=mod.lr)
    losses, step = [], 0
    while step < 300:
        for x, y in mod.train_loader():
            model.train()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            step += 1
            if step == 300:
                break
    model.eval()
    with torch.no_grad():
        correct = total = 0
        for x, y in mod.val_loader():
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.3 * first, (first, last)
    assert correct / total > 0.8, correct / total  # chance is 0.1


@pytest.mark.parametrize("name,seed", [(n, s) for n in SETUPS for s in (0, 1, 2)])
def test_healthy_setup_passes_every_check(name, seed):
    rep = report(name, seed)
    checks = {c.name: c for c in rep.checks}
    bad = {k: v for k, v in unhealthy(rep).items() if (name, k) not in ELSEWHERE
           and not (v[0] == "warn" and {f.code for f in checks[k].findings if f.severity == "warn"}
                    <= TRUE_WARNINGS.get((name, k), set()) | MACHINE_TIMED)}
    assert not bad, bad
    for c in rep.checks:
        if c.skipped:
            assert c.reason, c.name


def test_compiled_model_is_measured_through_its_module():
    rep = report("modules_compiled_cnn", 0)
    stats = check_of(rep, "init-stats")
    assert not stats.skipped and stats.metrics["layers"] == 4, stats.summary  # 3 convs and the head
    assert "torch.compile" in stats.summary
    assert all(not r["layer"].startswith("_orig_mod") for r in stats.details["layers"])
    gap = check_of(rep, "bn-gap")
    assert gap.metrics["compared_batches"] > 0 and gap.metrics["largest_gap_at"] == "features.1", gap.metrics
    indep = check_of(rep, "batch-independence")
    assert indep.metrics["samples_examined"] == 4


def test_frozen_backbone_is_neither_warmed_nor_compared():
    """The issue's case: 53.6% gap at backbone.1 where the model shows 1%; now nothing to compare,
    said with the layers, and the backbone's running statistics handed back untouched."""
    mod = setup_module_of("modules_frozen_probe")
    model = mod.model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    target = _write_target_object("modules_frozen_probe")
    result = dlcheck.check("bn-gap", target, device="cpu") if _takes_device() else dlcheck.check("bn-gap", target)
    assert result.status == "pass" and result.skipped, (result.status, result.summary)
    assert "'backbone.1'" in result.reason and "kept in eval mode" in result.reason
    assert result.details["bn_kept_in_eval"] == ["backbone.1", "backbone.4"]
    assert not [f for f in result.findings if f.code == "DLC507"]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_frozen_batchnorm2d_is_reported_as_fixed_statistics():
    result = check_of(report("modules_frozen_bn", 0), "bn-gap")
    assert result.skipped and "FrozenBatchNorm2d" in result.reason and "fixed statistics" in result.reason
    assert result.details["fixed_statistics_norms"] == {"backbone.1": "FrozenBatchNorm2d",
                                                        "backbone.4": "FrozenBatchNorm2d"}


def test_partly_frozen_model_compares_only_the_trained_batchnorm(tmp_path):
    """A frozen backbone with a BatchNorm in the trained head: the head's BN is warmed and
    compared; the backbone's stay as the model runs them."""
    path = tmp_path / "partly_frozen.py"
    path.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(MODERN)!r})
        from _modules_data import loaders, pretrained_backbone
        from torch import nn
        lr = 1e-2
        train_loader, val_loader = loaders()

        class Probe(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = pretrained_backbone().requires_grad_(False)
                self.head = nn.Sequential(nn.Linear(64, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
                                          nn.Linear(32, 10))
            def train(self, mode=True):
                super().train(mode)
                self.backbone.eval()
                return self
            def forward(self, x):
                return self.head(self.backbone(x))
        model = Probe
    """))
    result = dlcheck.check("bn-gap", str(path))
    assert result.status == "pass", (result.summary, [(f.code, f.message) for f in result.findings])
    assert [r["name"] for r in result.details["bn_layers"]] == ["head.1"]
    assert result.details["bn_kept_in_eval"] == ["backbone.1", "backbone.4"]
    assert "kept in eval mode by the model" in result.summary


DEEP_MLP = """
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from sklearn.datasets import load_digits

X, y = load_digits(return_X_y=True)
X = torch.tensor(X, dtype=torch.float32)
X = (X - X.mean()) / X.std()
y = torch.tensor(y)
lr = 1e-3
train_loader = lambda: DataLoader(TensorDataset(X, y), batch_size=64, shuffle=True,
                                  generator=torch.Generator().manual_seed(0))

def model():
    layers, width = [], 64
    for _ in range(10):
        layers += [nn.Linear(width, 128), nn.Tanh()]
        width = 128
    net = nn.Sequential(*layers, nn.Linear(128, 10))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            {init}
            nn.init.zeros_(m.bias)
    return torch.compile(net, backend="eager")
"""
BUG_INIT = "nn.init.normal_(m.weight, 0.0, 0.01)"  # the bug zoo's bug_tanh_collapse, compiled
GOOD_INIT = "nn.init.xavier_normal_(m.weight)"


@pytest.mark.parametrize("init,caught", [(BUG_INIT, True), (GOOD_INIT, False)], ids=["x0.01", "xavier"])
def test_compiled_init_bug_is_still_found(tmp_path, init, caught):
    path = tmp_path / "compiled_mlp.py"
    path.write_text(DEEP_MLP.replace("{init}", init))
    result = dlcheck.check("init-stats", str(path))
    codes = {f.code for f in result.findings if f.severity in ("warn", "fail")}
    assert result.metrics["layers"] == 11 and not result.skipped, result.summary
    if caught:
        assert result.status == "fail" and "DLC401" in codes, (result.summary, codes)
    else:
        assert result.status == "pass", (result.summary, codes)


def test_unreachable_layers_are_said_not_passed(tmp_path):
    """Layers inside a compiled submodule: hooks there do not fire, and init-stats says it
    measured nothing instead of '0 weight layers' and a pass."""
    path = tmp_path / "compiled_inside.py"
    path.write_text(DEEP_MLP.replace("{init}", GOOD_INIT).replace(
        'return torch.compile(net, backend="eager")', 'return nn.Sequential(torch.compile(net, backend="eager"))'))
    result = dlcheck.check("init-stats", str(path))
    if result.metrics.get("layers"):  # this torch runs the hooks inside the compiled submodule
        assert result.metrics["layers"] == 11
    else:
        assert result.skipped and "compiled submodules" in result.reason, result.summary


def _write_target_object(name: str) -> str:
    return str(MODERN / f"{name}.py")


def _takes_device() -> bool:
    import inspect

    return "device" in inspect.signature(dlcheck.check).parameters
