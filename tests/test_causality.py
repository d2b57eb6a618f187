"""causality on sequence models written the way a practitioner writes them (tests/modern/causality_*):
a tiny GPT with its causal mask and without it (the bug), an LSTM LM and a character GRU, trained
on a small Markov chain and a text built in code; the Hugging Face set-ups of tests/tasks (GPT-2
judged, BERT skipped); float (batch, time, features) inputs through a convolution.

The set-ups are first shown to be what they claim with a plain PyTorch loop (no dlcheck): the
healthy ones learn, and the unmasked GPT "cheats" (its validation loss far below its masked twin's,
below the chain's entropy rate: it reads the token it predicts)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import dlcheck

HERE = Path(__file__).resolve().parent
MODERN, TASKS = HERE / "modern", HERE / "tasks"
sys.path.insert(0, str(MODERN))
import _causality_data as data  # noqa: E402
from helpers import unhealthy

CHECK = "causality"
HEALTHY = ["causality_gpt", "causality_lstm", "causality_char_gru"]


def train(model: nn.Module, inputs, targets, val_inputs, val_targets, steps: int = 150) -> tuple[float, float, float]:
    """Plain PyTorch: Adam at 3e-3, batches of 32; (first batch loss, last 10 steps' mean loss, val loss)."""
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(inputs), (32,), generator=g)
        logits = model(inputs[idx])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(val_inputs)
        val = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), val_targets.reshape(-1)).item()
    return losses[0], sum(losses[-10:]) / 10, val


@pytest.fixture(scope="module")
def trained():
    markov = (*data.markov(512), *data.markov(128, seed=1))
    chars = (*data.chars(512), *data.chars(128, seed=1))
    torch.manual_seed(0)
    return {"gpt": train(data.TinyGPT(masked=True), *markov), "gpt_no_mask": train(data.TinyGPT(masked=False), *markov),
            "lstm": train(data.LSTMLM(), *markov), "char_gru": train(data.CharGRU(), *chars)}


@pytest.mark.parametrize("name", ["gpt", "lstm", "char_gru"])
def test_healthy_models_learn_with_a_plain_loop(trained, name):
    first, last, val = trained[name]
    assert last < 0.6 * first and val < 0.65 * first, trained[name]


def test_the_unmasked_gpt_cheats(trained):
    masked, unmasked = trained["gpt"][2], trained["gpt_no_mask"][2]
    assert unmasked < 0.5 * masked, (masked, unmasked)
    entropy_rate = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))  # the chain's, per token
    assert unmasked < 0.8 * entropy_rate < masked, (masked, unmasked, entropy_rate)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", HEALTHY)
def test_healthy_causal_models_pass(setup, seed):
    result = dlcheck.check(CHECK, str(MODERN / f"{setup}.py"), device="cpu", seed=seed)
    assert result.status == "pass" and not result.skipped, (result.summary, result.findings)
    assert not result.findings and result.metrics["positions_examined"] == 4
    assert result.metrics["max_leak_ratio"] == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_healthy_gpt_passes_every_check(seed):
    report = dlcheck.run(str(MODERN / "causality_gpt.py"), device="cpu", seed=seed)
    bad = unhealthy(report)
    assert not bad, bad
    assert CHECK in [c.name for c in report.checks]


def test_the_unmasked_gpt_leaks_and_is_located():
    result = dlcheck.check(CHECK, str(MODERN / "causality_bug_gpt_no_mask.py"), device="cpu")
    assert result.status == "fail"
    found = {f.code: f for f in result.findings}
    assert "DLC851" in found
    assert "position 0 on 23 later (first: 1)" in found["DLC851"].message
    assert "starts in 'blocks.0.attn' (MultiheadAttention)" in found["DLC851"].message
    assert "generate_square_subsequent_mask" in found["DLC851"].advice
    assert result.metrics["first_leak"] == {"position": 0, "input_position": 1}
    assert result.details["positions"][0]["first_leak"] == 1


def test_hugging_face_gpt2_is_judged_and_bert_skipped():
    gpt2 = dlcheck.check(CHECK, str(TASKS / "ok_hf_causal_lm.py"), device="cpu")
    assert gpt2.status == "pass" and not gpt2.skipped and not gpt2.findings, gpt2.summary
    bert = dlcheck.check(CHECK, str(TASKS / "ok_hf_masked_lm.py"), device="cpu")
    assert bert.status == "pass" and bert.skipped and "bidirectional encoder" in bert.reason


class Conv(nn.Module):
    """(B, T, D) -> (B, T, C) through a width-3 convolution over time, padded on both sides or (causal)
    on the left only."""

    def __init__(self, left_only: bool):
        super().__init__()
        self.left_only = left_only
        self.conv = nn.Conv1d(4, 8, 3, padding=0 if left_only else 1)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = x.transpose(1, 2)
        h = self.conv(F.pad(h, (2, 0)) if self.left_only else h)
        return self.head(h.transpose(1, 2).relu())


def frames(n: int = 64, t: int = 12):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, t, 4, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.randint(3, (n, t), generator=g)),
                                       batch_size=16)


def check_conv(left_only: bool, causal):
    return dlcheck.check(CHECK, model=lambda: Conv(left_only), train_loader=frames,
                         loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y), causal=causal,
                         device="cpu")


def test_float_inputs_a_two_sided_convolution_declared_causal_leaks():
    result = check_conv(left_only=False, causal=True)
    found = {f.code: f for f in result.findings}
    assert result.status == "fail" and "DLC851" in found, result.summary
    assert "starts in 'conv' (Conv1d)" in found["DLC851"].message and "left only" in found["DLC851"].advice
    assert result.metrics["gradient_at"] == "inputs"
    assert result.details["positions"][0]["future_positions"] == 1  # width 3: one position ahead


def test_float_inputs_a_causal_convolution_passes_and_causal_false_skips():
    honest = check_conv(left_only=True, causal=True)
    assert honest.status == "pass" and not honest.skipped and not honest.findings, honest.summary
    declared = check_conv(left_only=False, causal=False)
    assert declared.skipped and "causal = False" in declared.reason
    undeclared = check_conv(left_only=False, causal=None)
    assert undeclared.skipped and "nothing says the model is causal" in undeclared.reason


def test_the_model_is_handed_back_as_found():
    model = data.TinyGPT(masked=False).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inputs, targets = data.markov(64)
    loader = lambda: torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, targets), batch_size=32)
    result = dlcheck.check(CHECK, model=model, train_loader=loader, forward=data.forward, device="cpu")
    assert "DLC851" in {f.code for f in result.findings}
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
