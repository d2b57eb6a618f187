"""Cost of causality against batch-independence on the same model: both checks run side by side in
one ``dlcheck.run`` (their order flips every round), each check's own ``seconds`` read from the
report, and the median of the per-round ratios printed. Models: the tiny GPT of the tests (token and
position embeddings, two nn.MultiheadAttention blocks, batch 32 x 24 tokens) with its causal mask
and without it (there causality also traces where the leak starts), and an LSTM LM.

Run: `OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/causality.py [rounds]`. Not
asserted anywhere: both checks backpropagate a few outputs (4 samples / 4 positions) on one batch,
so the ratio is expected near 1 when nothing leaks.
"""

from __future__ import annotations

import statistics
import sys
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import dlcheck

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "modern"))
import _causality_data as data  # noqa: E402

CHECKS = ("batch-independence", "causality")


def loader():
    inputs, targets = data.markov(128)
    return DataLoader(TensorDataset(inputs, targets), batch_size=32)


def loss_fn(out, y):  # (B, T, V) logits against (B, T) next tokens
    return F.cross_entropy(out.transpose(1, 2), y)


def bench(name, build, rounds):
    ratios, times = [], {c: [] for c in CHECKS}
    for r in range(rounds + 1):
        order = list(CHECKS) if r % 2 == 0 else list(reversed(CHECKS))
        report = dlcheck.run(model=build, train_loader=loader, loss_fn=loss_fn, checks=order, device="cpu")
        got = {c.name: c.seconds for c in report.checks}
        if r == 0:  # warm-up
            continue
        for check, t in got.items():
            times[check].append(t)
        ratios.append(got["causality"] / got["batch-independence"])
    print(f"{name:<28} batch-independence {statistics.median(times['batch-independence']) * 1e3:7.1f} ms  "
          f"causality {statistics.median(times['causality']) * 1e3:7.1f} ms  ratio (median of paired) "
          f"{statistics.median(ratios):5.2f}")


def main(rounds: int = 10) -> None:
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {rounds} interleaved rounds per model")
    bench("tiny GPT, causal mask", partial(data.TinyGPT, masked=True), rounds)
    bench("tiny GPT, no mask (traced)", partial(data.TinyGPT, masked=False), rounds)
    bench("LSTM LM", data.LSTMLM, rounds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
