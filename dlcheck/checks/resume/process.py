"""resume's ``--fresh-process``: run B in a new Python process that imports the target anew, so a
resume that works only because of state kept in the process (a module-level cache the model
factory reads, a global set while training) is seen as a real restart sees it.

The parent writes a job into the check's temporary directory (the target's file and options, the
parts passed as objects pickled, A's batches after the checkpoint, the tensors at the checkpoint,
the RNG states, the settings and the task), runs ``python -m dlcheck.checks.resume.process DIR``
and reads back what :func:`dlcheck.checks.resume.measure.resumed` measured there, and the hashes of
the train loader rebuilt there. The comparison is the parent's, the same as in-process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import torch

from dlcheck.errors import UserError, describe_exception

JOB, RESULT = "job.pt", "result.pt"
#: CLI options whose ``file.py:name`` spec the new process resolves again -> load_target's keyword
_OPTIONS = {"--model": "model", "--data": "data", "--val-data": "val_data", "--loss": "loss"}


def describe(target) -> dict:
    """How the new process finds the target: its file or module (imported anew), the CLI options'
    specs, and the parts passed as objects (pickled; a part that cannot be is a UserError)."""
    from dlcheck.target import TARGET_NAMES

    from_file = target.source not in ("<objects>", "<options>")
    out = {"source": target.source if from_file else None, "options": {}, "objects": {}}
    for name in TARGET_NAMES:
        value, origin = getattr(target, name), target.origin.get(name, "")
        option, _, where = origin.partition(" ")
        if option in _OPTIONS and where:
            out["options"][_OPTIONS[option]] = where
        elif value is not None and not (from_file and origin == f"'{name}' in {target.source}"):
            try:
                out["objects"][name] = pickle.dumps(value)
            except Exception as exc:
                raise UserError(f"--fresh-process runs the resumed training in a new Python process, which "
                                f"cannot be handed {target.where(name)} (pickling it raised "
                                f"{describe_exception(exc)}): define it in the target file") from exc
    return out


def resume_elsewhere(ctx, m, path: str, batches: list, at_k: dict, rng_k, rng_read) -> dict:
    """Run B in a new process (``main``) and return what it measured, with ``fresh`` and ``got``."""
    folder = Path(path).parent
    job = {"target": describe(ctx.target), "device": str(ctx.device), "seed": ctx.seed,
           "settings": dict(ctx.settings), "lr": ctx.lr_override, "amp": ctx.amp,
           "keys": (ctx.input_key, ctx.target_key), "task": pickle.dumps(ctx.state.task),
           "keywords": ctx.state.keywords, "threads": torch.get_num_threads(), "path": path,
           "batches": [_cpu(b) for b in batches], "at_k": {n: t.cpu() for n, t in at_k.items()},
           "rng_k": rng_k, "rng_read": rng_read, "m": m.m, "exact": m.exact, "rtol": m.rtol,
           "data": m.data_state is not None, "sys_path": list(sys.path)}
    torch.save(job, folder / JOB)
    root = str(Path(__file__).resolve().parents[3])  # the folder holding this dlcheck package
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-m", "dlcheck.checks.resume.process", str(folder)],
                          cwd=os.getcwd(), env=env, capture_output=True, text=True)
    result = folder / RESULT
    if not result.is_file():
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise RuntimeError(f"the fresh process for the resumed run exited with {done.returncode}:\n{tail}")
    out = torch.load(result, weights_only=False)  # written by dlcheck itself, just now
    if out.get("error"):
        raise UserError(f"in the fresh process: {out['error']}")
    return out


def _cpu(batch):
    from dlcheck.device import to_device

    return to_device(batch, torch.device("cpu"))


def _target(spec: dict):
    from dlcheck.target import Target, check_target, load_target

    if spec["source"] or spec["options"]:
        target = load_target(spec["source"], **spec["options"])
    else:
        target = Target(model=None, train_loader=None, source="<objects>")
    for name, blob in spec["objects"].items():
        try:
            setattr(target, name, pickle.loads(blob))
        except Exception as exc:
            raise UserError(f"--fresh-process: '{name}', passed as an object, could not be rebuilt in the new "
                            f"process ({describe_exception(exc)}): define it in the target file") from exc
        target.origin[name] = f"'{name}' (passed to dlcheck)"
    return check_target(target)


def main(folder: str) -> None:
    """The new process: import the target, load the checkpoint into a fresh model, train B, and
    read the rebuilt loader; write it all to RESULT."""
    from torch import nn

    from dlcheck.context import Context
    from dlcheck.device import seed_everything, to_device
    from dlcheck.runstate import RunState

    from .measure import data_hashes, resumed

    job = torch.load(Path(folder) / JOB, weights_only=False)  # written by dlcheck itself
    torch.set_num_threads(job["threads"])
    sys.path.extend(p for p in job["sys_path"] if p not in sys.path)  # the parent's import path, after ours
    try:
        seed_everything(job["seed"])
        target = _target(job["target"])
        device = torch.device(job["device"])
        ctx = Context("resume", target, device, job["seed"], job["settings"], lr=job["lr"], amp=job["amp"],
                      input_key=job["keys"][0], target_key=job["keys"][1],
                      state=RunState(task=pickle.loads(job["task"]), keywords=job["keywords"]))
        copied = target.model.to(device) if isinstance(target.model, nn.Module) else None
        batches = [to_device(b, device) for b in job["batches"]]
        out = resumed(ctx, job["path"], batches, job["at_k"], job["rng_k"], job["exact"], job["rtol"], copied)
        out["fresh"] = "import" if copied is not None else "factory"
        out["got"] = data_hashes(ctx, job["rng_read"], job["m"], job["path"] if job["data"] else None)
    except UserError as exc:
        out = {"error": str(exc)}
    torch.save(out, Path(folder) / RESULT)


if __name__ == "__main__":
    main(sys.argv[1])
