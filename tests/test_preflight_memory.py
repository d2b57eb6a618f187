"""preflight's memory part on the CPU: the split of a training step against a hand count (an MLP
and a ResNet-18 with Adam: parameters x 4 bytes x 1/1/2 for weights, gradients and Adam's two
moments), activation bytes linear in the batch size, and the batch-size search against a simulated
allocator limit that raises torch's own OutOfMemoryError: a batch that fits at step 1 and runs out
at step 2, the margin, the maximum and the accumulation factor. The model is handed back as found
and nothing of a trial stays alive."""

from __future__ import annotations

import weakref

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlcheck.checks.preflight import memory as mem
from dlcheck.checks.preflight.memory_bench import OOM, Meter, accumulation, parse_bytes, search
from dlcheck.context import Context
from dlcheck.errors import UserError
from dlcheck.rules import judge
from dlcheck.target import Target
from helpers import assert_same, snapshot


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))


def loader(batch_size: int = 32, n: int = 512, shape=(64,)) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(n, *shape, generator=g), torch.randint(0, 10, (n,), generator=g)
    return DataLoader(TensorDataset(X, y), batch_size=batch_size)


def context(model=mlp, data=None, optimizer=None, **settings) -> Context:
    s = dict(mem.SETTINGS)
    s.update(settings)
    target = Target(model=model, train_loader=data if data is not None else loader(), optimizer=optimizer)
    return Context("preflight", target, torch.device("cpu"), 0, s)


def params(make) -> int:
    return sum(p.numel() for p in make().parameters())


def codes(m) -> dict:
    return {f.code: f for f in judge(mem.RULES, m, None, mem.SETTINGS)}


def resnet18():
    torchvision = pytest.importorskip("torchvision")
    return torchvision.models.resnet18(weights=None, num_classes=10)


@pytest.mark.parametrize("make, data", [(mlp, loader()), (resnet18, loader(8, 16, (3, 32, 32)))], ids=["mlp", "resnet18"])
def test_split_agrees_with_a_hand_count_of_weights_gradients_and_adam_state(make, data):
    m = mem.measure(context(make, data))
    hand = params(make) * 4
    assert m.weights == pytest.approx(hand, rel=0.05)
    assert m.gradients == pytest.approx(hand, rel=0.05)
    assert m.optimizer == pytest.approx(2 * hand, rel=0.05)
    assert m.activations > 0
    assert m.peak == m.modelled == m.weights + m.gradients + m.optimizer + m.activations  # the CPU's modelled peak
    assert m.mode is None and m.largest is None and "device_memory" in m.reason  # nothing judged without a device
    assert not codes(m)
    table = mem.details(m)
    assert [r["part"] for r in table["memory"]] == ["weights", "gradients", "optimizer state", "activations"]
    assert table["batch_trials"][0]["result"] == "fits" and table["batch_trials"][0]["step"] is None


def test_activation_bytes_are_linear_in_the_batch_size_at_three_sizes():
    m = mem.measure(context())
    (n1, a1), (n2, a2), (n3, a3) = m.fit
    assert (n1, n2, n3) == (8, 16, 32)
    assert (a3 - a2) == pytest.approx(2 * (a2 - a1), rel=0.01)
    assert m.fit_error < 0.01 and m.per_sample > 0
    for n, a in m.fit:
        assert m.fixed + m.per_sample * n == pytest.approx(a, rel=0.01)
    # the input (64 floats) and the hidden layer (256 floats, its ReLU mask) are saved per sample
    assert m.per_sample >= (64 + 256) * 4
    assert m.activations == a3  # the step at the user's batch saved what the forward alone saves


@pytest.fixture(scope="module")
def free():
    """The MLP's numbers without a limit: what the simulated limits below are set from."""
    return mem.measure(context())


def expected_largest(free, limit: float, margin: float) -> int:
    return int((limit * (1 - margin) - free.base - free.fixed) / free.per_sample + 1e-6)


def test_a_batch_that_fits_step_1_and_runs_out_at_step_2_is_caught(free):
    # a limit above step 1's peak (no optimizer state yet, then Adam's state made while the
    # gradients are held) and below step 2's (the state, the gradients and the activations at once)
    act = free.fixed + free.per_sample * 256
    step1, step2 = max(free.weights + free.gradients + act, free.base), free.base + act
    limit = int(step1 + step2) // 2
    assert step1 < limit < step2
    m = mem.measure(context(simulated_limit=limit, search_precision=0, data=loader(256)))
    first = m.trials[0]
    assert first["batch"] == 256 and first["result"] == "out of memory" and first["step"] == 2
    assert m.fits is False and m.failed_step == 2
    assert m.largest == expected_largest(free, limit, 0.1) < 256
    found = codes(m)
    assert set(found) == {"DLC986"} and found["DLC986"].severity == "fail"
    assert "in step 2, after the first optimizer step" in found["DLC986"].message
    assert m.micro <= m.largest and m.micro * (m.accumulate - 1) < 256 <= m.micro * m.accumulate  # kept
    assert f"micro-batches of {m.micro}" in found["DLC986"].advice


def test_the_margin_is_left_free_and_the_search_finds_the_edge(free):
    limit = free.peak + 200 * free.per_sample
    for margin in (0.0, 0.1):
        m = mem.measure(context(simulated_limit=int(limit), memory_margin=margin, search_precision=0))
        assert m.largest == expected_largest(free, limit, margin)
        by_size = {r["batch"]: r for r in m.trials}
        assert by_size[m.largest]["peak"] <= (1 - margin) * limit
        assert by_size[m.largest + 1]["peak"] > (1 - margin) * limit  # bisection reached the edge
    assert expected_largest(free, limit, 0.1) < expected_largest(free, limit, 0.0)


def test_a_batch_inside_the_margin_warns_with_the_accumulation_that_keeps_it(free):
    limit = int(free.peak / 0.95)  # the user's batch runs, with 5 % free
    m = mem.measure(context(simulated_limit=limit, search_precision=0))
    assert m.fits and m.largest < 32
    found = codes(m)
    assert set(found) == {"DLC987"} and "leaving less than the 10% margin free" in found["DLC987"].message
    assert (m.micro, m.accumulate) == accumulation(32, m.largest)


def test_the_search_stops_at_the_maximum():
    m = mem.measure(context(simulated_limit="1GiB", max_batch_size=100))
    assert m.largest == 100 and m.capped
    assert max(r["batch"] for r in m.trials) == 100
    assert not codes(m) and m.micro is None
    assert "largest batch 100+" in mem.summary(m)


def test_no_batch_fits_a_limit_below_the_weights_and_optimizer_state(free):
    m = mem.measure(context(simulated_limit=free.base - 1))
    assert m.largest == 0 and [r["batch"] for r in m.trials] == [32, 16, 8, 4, 2, 1]
    assert set(codes(m)) == {"DLC989"}


def test_prediction_for_a_card_the_user_does_not_have(free):
    m = mem.measure(context(device_memory="RTX 4090"))
    assert m.mode == "predicted" and m.fits and m.largest == 4096 and m.capped and not codes(m)
    small = free.peak + 100 * free.per_sample + 2 ** 20  # with 1 MiB of context
    m = mem.measure(context(device_memory=int(small), context_memory="1MiB", data=loader(256)))
    assert m.mode == "predicted" and m.fits is False
    assert m.largest == expected_largest(free, small - 2 ** 20, 0.1)
    found = codes(m)
    assert set(found) == {"DLC986"} and found["DLC986"].severity == "warn"
    assert len(m.trials) == 1  # a prediction runs no trials beyond the user's batch


def test_the_model_is_handed_back_and_nothing_of_a_trial_stays():
    model = mlp()
    before = snapshot(model)
    made = []

    def adam(ps, lr):
        opt = torch.optim.Adam(ps, lr=lr)
        made.append(weakref.ref(opt))
        return opt

    m = mem.measure(context(model, optimizer=adam, simulated_limit=2 ** 20, search_precision=0))
    assert len(made) == len(m.trials) > 5
    assert all(ref() is None for ref in made)  # every optimizer and its state released
    assert_same(before, model)
    assert all(p.grad is None for p in model.parameters())


def test_batches_the_target_reads_itself_are_measured_but_not_re_cut():
    def forward(model, batch):
        x, y = batch
        return model(x), y

    s = dict(mem.SETTINGS, simulated_limit="1GiB")
    target = Target(model=mlp, train_loader=loader(), forward=forward)
    m = mem.measure(Context("preflight", target, torch.device("cpu"), 0, s))
    assert m.batch_size is None and m.fits and m.largest is None and "cannot be re-cut" in m.reason
    assert m.optimizer == pytest.approx(2 * params(mlp) * 4, rel=0.05) and m.activations > 0
    assert len(m.trials) == 1 and not codes(m)


def test_the_counted_limit_raises_torchs_own_out_of_memory_error():
    model = mlp()
    meter = Meter(model, limit=1000)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        with torch.autograd.graph.saved_tensors_hooks(meter.pack, lambda t: t):
            model(torch.randn(64, 64)).sum()
    assert OOM is torch.cuda.OutOfMemoryError


def test_search_doubles_halves_and_bisects():
    calls = []

    def fits_below(edge):
        def fits(n):
            calls.append(n)
            return n <= edge
        return fits

    assert search(fits_below(100), 32, 4096) == (100, False)
    assert calls[:3] == [32, 64, 128]
    assert search(fits_below(5), 32, 4096) == (5, False)
    assert search(fits_below(0), 32, 4096) == (0, False)
    assert search(fits_below(10 ** 6), 32, 500) == (500, True)
    calls.clear()
    assert search(fits_below(1000), 512, 4096, precision=0.05)[0] in range(950, 1001)
    assert len(calls) < 8


def test_accumulation_keeps_the_effective_batch():
    assert accumulation(256, 100) == (64, 4)
    assert accumulation(256, 185) == (128, 2)
    assert accumulation(257, 100) == (86, 3)
    assert accumulation(1024, 1024) == (1024, 1)
    assert accumulation(256, 7) == (7, 37)  # 64 steps of 4 would be far more steps: the last one is smaller


def test_sizes_and_card_names():
    assert parse_bytes("80GiB", "x") == 80 * 2 ** 30
    assert parse_bytes("24 GB", "x") == 24 * 10 ** 9
    assert parse_bytes("A100-80GB", "x") == parse_bytes("H100", "x") == 80 * 2 ** 30
    assert parse_bytes("NVIDIA GeForce RTX 4090", "x") == 24 * 2 ** 30
    for bad in ("lots", "-3GB", "80 parsecs"):
        with pytest.raises(UserError, match="must be a size"):
            parse_bytes(bad, "device_memory")
    with pytest.raises(UserError, match="trial_steps must be an integer of at least 2"):
        mem.measure(context(trial_steps=1))
