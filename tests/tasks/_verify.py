"""Independent evidence that the ok_* set-ups are healthy: a plain PyTorch loop of our own (no
dlcheck), the set-up's own loss / optimiser / lr, reporting the loss at init, the train loss at the
end, and the validation metric. Run: OMP_NUM_THREADS=1 .venv/bin/python tests/tasks/_verify.py [names]"""

from __future__ import annotations

import importlib.util
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def load(name):
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def split(mod, batch):
    if hasattr(mod, "forward"):
        return None, batch
    if isinstance(batch, dict):
        return {k: v for k, v in batch.items() if k != "labels"}, batch["labels"]
    return batch[0], batch[1]


def run_model(mod, model, batch):
    if hasattr(mod, "forward"):
        return mod.forward(model, batch)
    x, y = split(mod, batch)
    return (model(**x) if isinstance(x, dict) else model(x)), y


def metric(mod, out, y):
    """(name, value) of the task's validation metric on one batch's outputs."""
    if isinstance(out, tuple):
        out = out[0]
    loss = getattr(mod, "loss_fn", None)
    if isinstance(loss, nn.MSELoss):
        return "R2", (out, y)
    if isinstance(loss, nn.BCEWithLogitsLoss):
        return "label acc", ((out > 0).float() == y).float().mean().item(), y.numel()
    return "acc", (out.argmax(1) == y).float().mean().item(), y.numel()


def main(names, epochs=None, seed=0):
    for name in names:
        torch.manual_seed(seed)
        mod = load(name)
        model = mod.model()
        lr = getattr(mod, "lr", 1e-3)
        loss_fn = getattr(mod, "loss_fn", nn.CrossEntropyLoss())
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        loader = mod.train_loader()
        model.train()
        with torch.no_grad():
            init = [loss_fn(*run_model(mod, model, b)).item() for b, _ in zip(loader, range(4))]
        t0 = time.perf_counter()
        curve, step = [], 0
        n_epochs = epochs or max(1, math.ceil(300 / len(loader)))
        for _ in range(n_epochs):
            for batch in loader:
                out, y = run_model(mod, model, batch)
                loss = loss_fn(out, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                curve.append(loss.item())
                step += 1
        model.eval()
        vals = {}
        for part, ld in (("train", mod.train_loader()), ("val", getattr(mod, "val_loader", lambda: None)())):
            if ld is None:
                continue
            tot, n, outs, ys, lsum, lb = 0.0, 0, [], [], 0.0, 0
            with torch.no_grad():
                for batch in ld:
                    out, y = run_model(mod, model, batch)
                    lsum += loss_fn(out, y).item(); lb += 1
                    m = metric(mod, out, y)
                    if m[0] == "R2":
                        outs.append(m[1][0]); ys.append(m[1][1])
                    else:
                        tot += m[1] * m[2]; n += m[2]
            if outs:
                o, t = torch.cat(outs), torch.cat(ys)
                vals[part] = f"loss {lsum / lb:.3f} R2 {1 - ((o - t) ** 2).mean().item() / t.var().item():.3f}"
            else:
                vals[part] = f"loss {lsum / lb:.3f} {m[0]} {tot / n:.3f}"
        marks = [0, 25, 50, 100, 150, 200, 300, len(curve) - 1]
        pts = " ".join(f"{i}:{sum(curve[max(0, i - 4):i + 1]) / len(curve[max(0, i - 4):i + 1]):.3f}"
                       for i in marks if i < len(curve))
        print(f"{name}: seed {seed} lr {lr:g} steps {step} ({time.perf_counter() - t0:.1f}s) "
              f"init loss {sum(init) / len(init):.3f}; curve {pts}; eval-mode " + "; ".join(f"{k}: {v}" for k, v in vals.items()),
              flush=True)


if __name__ == "__main__":
    args = sys.argv[1:] or sorted(p.stem for p in HERE.glob("ok_*.py"))
    main(args)
