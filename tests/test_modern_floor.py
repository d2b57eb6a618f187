"""Losses whose floor is not 0, or unknown (tests/modern/floor_*): a SimCLR set-up on digits trained
on InfoNCE (temperature 0.2, batch 64: its floor is about 0.6), a VAE on digits trained on the
negative ELBO (reconstruction + KL), and its bug twin with the KL sign flipped (the loss runs off
towards -inf). dlcheck cannot know these floors (task `other`), so no check may assume 0:

- each healthy set-up is first proved to train by a plain PyTorch loop (a held-out metric);
- then `dlcheck.run` on seeds 0-2: init-loss (DLC108, no verdict), overfit-small (memorised by the
  loss's own course, saying it has no floor), lr-find and init-stats neither fail nor error nor warn;
- the bug twin fails overfit-small with DLC210 (an unbounded loss), on every seed.
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import dlcheck
from helpers import unhealthy

MODERN = Path(__file__).resolve().parent / "modern"
HEALTHY = ("floor_simclr_digits", "floor_vae_digits")
BUG = "floor_bug_vae_kl_sign"
MINE = ("init-loss", "overfit-small", "lr-find", "init-stats")
#: checks outside this topic that do not yet handle these set-ups (see the report of issue 19):
#: data-check errors on `None` targets (SimCLR) and its pairing control fails an autoencoder,
#: whose targets are its inputs (permuting them permutes the inputs' reconstructions alike).
ELSEWHERE: set = set()


def setup(name: str):
    sys.path.insert(0, str(MODERN))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(MODERN))


def train(mod, steps: int = 300) -> torch.nn.Module:
    torch.manual_seed(0)
    net = mod.model()
    opt = torch.optim.Adam(net.parameters(), lr=mod.lr)
    done = 0
    while done < steps:
        for batch in mod.train_loader():
            outputs, targets = mod.forward(net, batch)
            loss = mod.loss_fn(outputs, targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done == steps:
                break
    return net


# -- the plain loops: proof that the healthy set-ups train ----------------------------------------
def _held_out_pairs(mod, count: int = 256):
    data = setup("_floor_data")
    views = data.TwoViews(mod.images[1400:1400 + count], seed=123)
    pairs = [views[i] for i in range(count)]
    return torch.stack([a for a, _ in pairs]), torch.stack([b for _, b in pairs])


@torch.no_grad()
def _retrieval(mod, net, x1, x2) -> tuple[float, float]:
    """Held-out InfoNCE and top-1 pair retrieval (chance 1/64) over batches of 64."""
    losses, hits = [], []
    for i in range(0, len(x1), 64):
        (z1, z2), _ = mod.forward(net, (x1[i:i + 64], x2[i:i + 64]))
        losses.append(float(mod.loss_fn((z1, z2), None)))
        sim = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T
        hits.append(float((sim.argmax(1) == torch.arange(len(z1))).float().mean()))
    return sum(losses) / len(losses), sum(hits) / len(hits)


def test_simclr_trains_in_a_plain_loop(capsys):
    mod = setup("floor_simclr_digits")
    x1, x2 = _held_out_pairs(mod)
    torch.manual_seed(0)
    loss0, acc0 = _retrieval(mod, mod.model(), x1, x2)
    loss1, acc1 = _retrieval(mod, train(mod), x1, x2)
    print("simclr held-out InfoNCE", loss0, "->", loss1, "pair retrieval", acc0, "->", acc1)
    assert loss1 < 0.7 * loss0, (loss0, loss1, acc0, acc1)
    assert acc1 > 0.3 and acc1 > acc0 + 0.1, (acc0, acc1)  # chance is 1/64


@torch.no_grad()
def _elbo(mod, net, x) -> tuple[float, float]:
    """Held-out negative ELBO, and the reconstruction's squared error at the posterior mean."""
    net.eval()
    outputs, _ = mod.forward(net, (x, None))
    mu, _ = net.encoder(x).chunk(2, dim=1)
    recon = F.mse_loss(torch.sigmoid(net.decoder(mu).view_as(x)), x)
    return float(mod.loss_fn(outputs, x)), float(recon)


def test_vae_trains_in_a_plain_loop():
    mod = setup("floor_vae_digits")
    x = mod.images[1400:]
    torch.manual_seed(0)
    elbo0, _ = _elbo(mod, mod.model(), x)
    elbo1, recon1 = _elbo(mod, train(mod), x)
    mean = mod.images[:1400].mean(0)  # the best input-independent reconstruction
    baseline = float(F.mse_loss(mean.expand_as(x), x))
    print("vae held-out -ELBO", elbo0, "->", elbo1, "reconstruction", recon1, "mean image", baseline)
    assert elbo1 < 0.7 * elbo0, (elbo0, elbo1)
    assert recon1 < 0.75 * baseline, (recon1, baseline)


def test_the_kl_sign_flip_runs_off_in_a_plain_loop():
    mod = setup(BUG)
    net = train(mod, steps=100)
    batch = next(iter(mod.train_loader()))
    with torch.no_grad():
        assert float(mod.loss_fn(*mod.forward(net, batch))) < -1e3


# -- dlcheck on them ------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def report(name: str, seed: int):
    return dlcheck.run(str(MODERN / f"{name}.py"), device="cpu", seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_set_up_passes_every_check(name, seed):
    rep = report(name, seed)
    assert rep.to_dict()["task"]["kind"] == "other"
    bad = {k: v for k, v in unhealthy(rep, loud=True).items() if (name, k) not in ELSEWHERE}
    assert not bad, bad
    checks = {c.name: c for c in rep.checks}
    assert {f.code for f in checks["init-loss"].findings} == {"DLC108"}
    overfit = checks["overfit-small"]
    assert overfit.summary.startswith("memorised") and "no known floor" in overfit.summary, overfit.summary
    assert "own course" in overfit.summary


@pytest.mark.parametrize("name", HEALTHY)
def test_no_judgement_assumes_a_floor_of_zero(name):
    checks = {c.name: c for c in report(name, 0).checks}
    assert "floor" not in checks["overfit-small"].metrics  # no floor reported as if known
    for f in checks["lr-find"].findings:
        assert "of the way to the floor" not in f.message, f.message


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_kl_sign_flip_is_an_unbounded_loss(seed):
    checks = {c.name: c for c in report(BUG, seed).checks}
    overfit = checks["overfit-small"]
    assert overfit.status == "fail", overfit.summary
    found = {f.code: f for f in overfit.findings}
    assert "DLC210" in found and found["DLC210"].severity == "fail"
    assert "unbounded" in found["DLC210"].message and "KL" in found["DLC210"].message
    assert found["DLC210"].advice
    assert checks["init-loss"].status == "pass"  # DLC108: no verdict at init without a reference
