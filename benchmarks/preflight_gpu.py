"""preflight's memory part on a GPU against its prediction from the CPU, side by side (issue 22):
for each set-up, the CPU run (tensors counted, activations per sample fitted) predicts the peak of
a training step at the user's batch and the largest batch for this card's memory
(``device_memory`` = the card's total); the CUDA run measures the peak with the allocator's
statistics and searches the largest batch by trials. Printed: both peaks, the CUDA run's own
modelled ÷ measured ratio, both largest batches and their ratio.

Without CUDA it prints the CPU prediction only and says so (this project's machines have no
GPU: the numbers for the README come from a session that is lent one).

Run: `OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/preflight_gpu.py [max_batch]`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import dlcheck

ROOT = Path(__file__).resolve().parent.parent
SETUPS = [ROOT / "tests" / "zoo" / "ok_digits_mlp.py", ROOT / "tests" / "modern" / "preflight_digits_cnn.py",
          ROOT / "tests" / "modern" / "preflight_transformer.py", ROOT / "tests" / "modern" / "trypre_resnet18_photos.py"]


def memory(path: Path, device: str, card_bytes: int | None, max_batch: int) -> dict:
    settings = {"parts": "memory", "max_batch_size": max_batch}
    if card_bytes:
        settings["device_memory"] = f"{card_bytes // 2**20}MiB"
    result = dlcheck.check("preflight", str(path), device=device, settings={"preflight": settings})
    m = {k[len("memory_"):]: v for k, v in result.metrics.items() if k.startswith("memory_")}
    m["status"] = result.status
    return m


def main(max_batch: int = 65536) -> None:
    torch.set_num_threads(1)
    cuda = torch.cuda.is_available()
    card = torch.cuda.get_device_properties(0).total_memory if cuda else None
    print(f"card: {torch.cuda.get_device_name(0) if cuda else 'none (no CUDA: the CPU prediction only)'}"
          + (f", {card / 2**30:.1f} GiB" if card else ""))
    print(f"{'set-up':<26} {'batch':>5} {'cpu peak MiB':>12} {'gpu peak MiB':>12} {'gpu modelled/meas':>17} "
          f"{'largest cpu-pred':>16} {'largest gpu':>11} {'pred/gpu':>8}")
    for path in SETUPS:
        cpu = memory(path, "cpu", card or 80 * 2**30, max_batch)
        gpu = memory(path, "cuda", None, max_batch) if cuda else {}
        ratio = (cpu.get("largest_batch") or 0) / gpu["largest_batch"] if gpu.get("largest_batch") else None
        print(f"{path.stem:<26} {cpu.get('batch_size') or '-':>5} {cpu.get('peak_mib') or 0:>12.1f} "
              f"{gpu.get('peak_mib') or float('nan'):>12.1f} {gpu.get('prediction_ratio') or float('nan'):>17.3f} "
              f"{cpu.get('largest_batch') or '-':>16} {gpu.get('largest_batch') or '-':>11} "
              f"{'-' if ratio is None else f'{ratio:.3f}':>8}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 65536)
