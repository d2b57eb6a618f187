"""Cost of init-stats' hooks: one forward+backward with the Recorder's hooks (and the gradient-norm
read-out after backward) against the same step without them, on torchvision's ResNet-18
(3x32x32, batch 32, 10 classes) and a 20-layer ReLU MLP (width 256, batch 64).

Run: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hooks.py [rounds]`. One torch thread; the two
sides run on two identical copies of the model, interleaved round after round (the order flips
every round), and the script prints the median of the per-round time ratios. Targets: time
<= 1.3x, peak memory <= 1.1x.

Peak memory is the peak of live torch CPU allocations during one step, from torch's profiler
(``profile_memory=True``): each op's net allocation, summed in time order at op granularity. It
sees every tensor torch allocates (activations saved for backward, gradients, the hooks'
summaries), not Python objects or the allocator's cached pages; on CUDA it would be
``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import copy
import statistics
import sys
import time

import torch
from torch import nn

from dlcheck.checks.init_stats import Recorder, gradient_norms
from dlcheck.state import Hooks


def resnet18():
    import torchvision

    return torchvision.models.resnet18(weights=None, num_classes=10), torch.randn(32, 3, 32, 32)


def mlp20():
    layers = []
    for _ in range(20):
        layers += [nn.Linear(256, 256), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(256, 10)), torch.randn(64, 256)


def step(model, x, y, recorder=None):
    if recorder is not None:
        recorder.new_pass()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    if recorder is not None:
        gradient_norms([p for p in model.parameters()])  # what the check reads after backward
        recorder.reset()  # one pass per round: summaries never pile up across rounds
    model.zero_grad(set_to_none=True)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_bytes(fn) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted(prof.events(), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def bench(name, build, rounds):
    torch.manual_seed(0)
    bare, x = build()
    hooked = copy.deepcopy(bare)
    bare.train(), hooked.train()
    y = torch.randint(0, 10, (x.shape[0],))
    with Hooks() as hooks:
        recorder = Recorder(hooked).attach(hooks)
        sides = {"bare": lambda: step(bare, x, y), "hooked": lambda: step(hooked, x, y, recorder)}
        for fn in sides.values():  # warm-up
            for _ in range(3):
                fn()
        ratios, times = [], {"bare": [], "hooked": []}
        for r in range(rounds):
            order = ("bare", "hooked") if r % 2 == 0 else ("hooked", "bare")
            got = {side: timed(sides[side]) for side in order}
            for side, t in got.items():
                times[side].append(t)
            ratios.append(got["hooked"] / got["bare"])
        memory = {side: statistics.median(peak_bytes(fn) for _ in range(3)) for side, fn in sides.items()}
    print(f"{name:<34} bare {statistics.median(times['bare']) * 1e3:8.2f} ms  hooked "
          f"{statistics.median(times['hooked']) * 1e3:8.2f} ms  time ratio (median of paired) "
          f"{statistics.median(ratios):5.3f}   peak torch memory {memory['bare'] / 2**20:7.1f} MiB -> "
          f"{memory['hooked'] / 2**20:7.1f} MiB  ratio {memory['hooked'] / memory['bare']:5.3f}")


def main(rounds: int = 40) -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {rounds} interleaved rounds per model")
    bench("resnet18 3x32x32 batch 32", resnet18, rounds)
    bench("mlp 20x(Linear 256 + ReLU) batch 64", mlp20, rounds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
