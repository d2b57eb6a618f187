"""preflight tried as a new user would, on set-ups and architectures its own tests were not written
for (tests/modern/trypre_*.py): torchvision's resnet18 and mobilenet_v3_small, tiny Hugging Face
GPT-2 and BERT computing their own loss from dict batches, an LSTM, a pre-LayerNorm transformer
given as an object, a loader with workers and transforms, an IterableDataset. Healthy set-ups pass
on seeds 0, 1, 2 with the memory split agreeing with a hand count; bad input is one sentence; the
loader's verdict survives a moment of a busy machine and advises what DataLoader accepts."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import dlcheck
from dlcheck.checks.preflight import loader
from dlcheck.checks.preflight.loader import Trial
from dlcheck.checks.preflight.memory_bench import parse_bytes
from dlcheck.errors import UserError
from dlcheck.target import load_target

MODERN = Path(__file__).resolve().parent / "modern"
sys.path.insert(0, str(MODERN))

from trypre_data import DigitStream, digits  # noqa: E402

CARD = {"device_memory": "A100-80GB"}
FAST = ["trypre_lstm_rows", "trypre_prenorm_block", "trypre_iterable_stream", "trypre_gpt2_tiny", "trypre_bert_tiny"]
SLOW = ["trypre_mobilenet_digits", "trypre_resnet18_photos"]


def _hand_count(setup: str) -> int:
    """Bytes of the model's parameters (tied ones once), counted by hand from a fresh model."""
    made = load_target(str(MODERN / f"{setup}.py")).model
    model = made() if callable(made) and not isinstance(made, nn.Module) else made
    return 4 * sum(p.numel() for p in model.parameters() if p.requires_grad)


def _healthy(setup: str, seed: int):
    result = dlcheck.check("preflight", str(MODERN / f"{setup}.py"), device="cpu", seed=seed,
                           settings={"preflight": CARD})
    assert result.status == "pass" and not result.findings, \
        (result.summary, [(f.code, f.message) for f in result.findings])
    params = _hand_count(setup)
    m = result.metrics
    mib = 2 ** 20
    assert m["memory_gradients_mib"] * mib == pytest.approx(params, rel=0.05)
    assert m["memory_optimizer_state_mib"] * mib == pytest.approx(2 * params, rel=0.05)  # Adam / AdamW: two moments
    assert m["memory_weights_mib"] >= m["memory_gradients_mib"]  # buffers too
    fit = result.details["activation_fit"]
    assert len(fit) == 3 and all(abs(r["fitted"] - r["activation_bytes"]) <= 0.01 * r["activation_bytes"] for r in fit)
    assert m["memory_largest_batch"] >= m["memory_batch_size"]  # a small model on an 80 GiB card
    assert m["precision_fp16_overflow_modules"] == 0
    return result


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("setup", FAST)
def test_healthy_trials_pass_with_a_hand_counted_split(setup, seed):
    _healthy(setup, seed)


@pytest.mark.slow
@pytest.mark.parametrize("setup", SLOW)
def test_torchvision_trials_pass_with_a_hand_counted_split(setup):
    result = _healthy(setup, 0)
    if setup == "trypre_resnet18_photos":  # a loader with two workers and per-crop transforms keeps up
        assert result.details["loader"][0]["workers"] == 2


# -- bad input: exit 2, one sentence naming what is wrong ------------------------------------------
@pytest.mark.parametrize("value, says", [("abc", "must be a size above zero"), ("1.2.3", "must be a size"),
                                         ("0", "above zero"), ("A200", "card name"),
                                         ("A100", "more than one memory size: name one (A100-80GB, A100-40GB)")])
def test_a_size_or_card_that_means_nothing_is_one_sentence(value, says):
    with pytest.raises(UserError) as err:
        parse_bytes(value, "device_memory")
    assert says in str(err.value) and str(err.value).count(". ") == 0


def test_a_bad_setting_names_itself_once():
    with pytest.raises(UserError) as err:  # refused with the other counts, before any work
        dlcheck.check("preflight", str(MODERN / "trypre_lstm_rows.py"), device="cpu",
                      settings={"preflight": {"parts": "memory", "max_batch_size": 0}})
    message = str(err.value)
    assert "max_batch_size'] must be an integer of at least 1" in message and "preflight: preflight" not in message


# -- the loader's verdict ------------------------------------------------------------------------
def test_best_without_workers_is_advised_without_persistent_workers():
    m = loader.Measured(device="cpu", batch_size=16, step_s=0.001, wait_s=0.04, idle=0.97, workers=2,
                        trials=[Trial(0, False, 0.0002, 0.0, 0.17)])
    found = loader.loader_bound(m, None, loader.SETTINGS)
    assert "num_workers=0" in found.advice and "persistent_workers" not in found.advice  # DataLoader refuses it


class _Stalled(TensorDataset):
    """In-memory digits, read slowly only for a while at first: a machine busy for a moment."""

    def __init__(self, stalled: int):
        X, y = digits()
        super().__init__(X[:512], y[:512])
        self.left = stalled

    def __getitem__(self, i):
        if self.left > 0:
            self.left -= 1
            time.sleep(0.001)
        return super().__getitem__(i)


def test_a_moment_of_a_busy_machine_is_not_a_slow_loader():
    stalled = _Stalled(stalled=13 * 16 + 32)  # the first reading of the real steps, and the batches before it
    result = dlcheck.check("preflight", str(MODERN / "trypre_lstm_rows.py"), device="cpu",
                           settings={"preflight": {"parts": "loader"}},
                           train_loader=DataLoader(stalled, batch_size=16))
    assert stalled.left == 0 and result.status == "pass" and not result.findings, result.summary


class _SlowPerWorker(DigitStream):
    """A stream that each worker reads slowly (it re-opens its shard per sample); the main process not."""

    def __iter__(self):
        slow = torch.utils.data.get_worker_info() is not None
        for item in super().__iter__():
            if slow:
                time.sleep(0.004)
            yield item


def test_a_stream_with_workers_is_tried_without_them():
    stream = DataLoader(_SlowPerWorker(n=512), batch_size=16, num_workers=2)
    result = dlcheck.check("preflight", str(MODERN / "trypre_iterable_stream.py"), device="cpu",
                           settings={"preflight": {"parts": "loader"}}, train_loader=stream)
    found = next(f for f in result.findings if f.code == "DLC981")
    assert [r["workers"] for r in result.details["loader_sweep"]] == [0]  # more workers could repeat the stream
    assert "num_workers=0" in found.advice and "persistent_workers" not in found.advice


def test_a_model_given_as_an_object_is_handed_back_as_found():
    target = load_target(str(MODERN / "trypre_prenorm_block.py"))
    model = target.model
    model.eval()  # as a notebook may have left it
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = dlcheck.check("preflight", str(MODERN / "trypre_prenorm_block.py"), device="cpu", model=model,
                           settings={"preflight": CARD})
    assert result.status == "pass", result.summary
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _bn_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))


def test_a_batchnorm_model_at_a_small_batch_is_measured_not_refused():
    from trypre_data import digit_loader

    result = dlcheck.check("preflight", str(MODERN / "trypre_lstm_rows.py"), device="cpu", model=_bn_mlp,
                           train_loader=digit_loader(batch_size=4), settings={"preflight": CARD})
    assert result.status == "pass" and not result.findings, result.summary
    assert [r["batch"] for r in result.details["activation_fit"]] == [4, 8, 16]  # never one sample: BatchNorm refuses it


def test_a_size_the_model_refuses_is_said_in_the_search_not_raised():
    from trypre_data import digit_loader

    result = dlcheck.check("preflight", str(MODERN / "trypre_lstm_rows.py"), device="cpu", model=_bn_mlp,
                           train_loader=digit_loader(batch_size=4),
                           settings={"preflight": {"parts": "memory", "simulated_limit": 60000, "memory_margin": 0}})
    rows = {r["batch"]: r["result"] for r in result.details["batch_trials"]}
    assert rows[4] == rows[2] == "out of memory" and rows[1].startswith("refused: ") and "per channel" in rows[1]
    assert result.status == "fail" and result.metrics["memory_largest_batch"] == 0


def test_max_batch_size_zero_is_refused_on_the_command_line_with_its_real_minimum(cli):
    out = cli("preflight", str(MODERN / "trypre_lstm_rows.py"), "--max-batch-size", "0")
    assert out.exit_code == 2 and "--max-batch-size must be an integer of at least 1, not 0" in out.stderr
    assert "Traceback" not in out.stderr
