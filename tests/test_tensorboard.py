"""--tensorboard DIR: a real CLI run of the digits recipe, read back with TensorBoard's own event
reader (EventAccumulator): the curves as scalars equal to the CSV and JSON reports, the plots as
images, the tables and verdicts as text; a missing package, a file as DIR and a failed report
write leave nothing behind."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from conftest import ROOT

pytest.importorskip("tensorboard")

#: README "TensorBoard": the example, run from the repository's root
EXAMPLE = ["run", "recipes/digits.yaml", "--checks", "lr-find,overfit-small,init-stats,data-check",
           "--out", "out", "--json", "report.json", "--tensorboard", "runs/dlcheck"]


def _accumulator(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _text(acc, tag: str) -> str:
    return acc.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The README example as a user runs it (a subprocess), its outputs under a temporary folder."""
    folder = tmp_path_factory.mktemp("tb")
    args = [str(folder / a) if a in ("out", "report.json", "runs/dlcheck") else a for a in EXAMPLE]
    done = subprocess.run([sys.executable, "-m", "dlcheck", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return folder


def test_the_curves_are_scalars_equal_to_the_reports(example):
    acc = _accumulator(example / "runs" / "dlcheck")
    report = {c["name"]: c for c in json.loads((example / "report.json").read_text())["checks"]}
    with open(example / "out" / "lr-find-curve.csv") as handle:
        rows = list(csv.DictReader(handle))
    loss = acc.Scalars("lr-find/loss")
    assert len(loss) == len(rows) == report["lr-find"]["metrics"]["steps"]
    for event, row in zip(loss, rows):
        assert event.step == int(row["step"])
        assert event.value == pytest.approx(float(row["loss"]), rel=1e-6)
    lrs = [e.value for e in acc.Scalars("lr-find/lr")]
    assert lrs == sorted(lrs) and lrs[0] == pytest.approx(float(rows[0]["lr"]), rel=1e-6)
    smoothed = acc.Scalars("lr-find/smoothed_loss")
    assert [e.value for e in smoothed] == pytest.approx([float(r["smoothed"]) for r in rows], rel=1e-6)
    assert min(e.value for e in smoothed) == pytest.approx(report["lr-find"]["metrics"]["min_loss"], rel=1e-4)
    fit = acc.Scalars("overfit-small/loss")
    assert len(fit) == report["overfit-small"]["metrics"]["steps"]
    with open(example / "out" / "overfit-small-loss.csv") as handle:
        assert [e.value for e in fit] == pytest.approx([float(r["loss"]) for r in csv.DictReader(handle)], rel=1e-6)
    scalars = acc.Tags()["scalars"]
    assert {"lr-find/smoothed_loss", "data-check/pairing/true_labels", "data-check/pairing/permuted_labels",
            "init-stats/by_depth/activation_std"} <= set(scalars)


def test_the_plots_are_images_and_the_verdicts_text(example):
    acc = _accumulator(example / "runs" / "dlcheck")
    images = acc.Tags()["images"]
    assert {"lr-find/plot/curve", "overfit-small/plot/loss", "init-stats/plot/activation-std",
            "init-stats/plot/grad-norm", "data-check/plot/pairing"} <= set(images)
    png = acc.Images("lr-find/plot/curve")[0]
    assert png.encoded_image_string.startswith(b"\x89PNG") and png.width > 300 and png.height > 200
    summary = _text(acc, "summary")
    assert "**dlcheck pass**" in summary and "| lr-find | pass |" in summary
    for check in ("lr-find", "overfit-small", "init-stats", "data-check"):
        assert _text(acc, f"{check}/verdict").startswith("**pass**")
    layers = _text(acc, "init-stats/table/layers")
    assert layers.startswith("| ") and layers.count("\n") >= 3
    assert sorted(p.name for p in (example / "runs").iterdir()) == ["dlcheck"]  # no staging folder left


def test_a_second_run_adds_an_event_file_and_keeps_the_first(cli, tmp_path):
    folder = tmp_path / "tb"
    for _ in range(2):
        res = cli("init-loss", ROOT / "recipes" / "digits_setup.py", "--quiet", "--tensorboard", folder)
        assert res.exit_code == 0, res.stderr
    assert len(list(folder.iterdir())) == 2
    assert "init-loss/verdict/text_summary" in _accumulator(folder).Tags()["tensors"]


def test_a_failed_report_write_leaves_no_event_file(cli, tmp_path):
    folder = tmp_path / "tb"
    res = cli("init-loss", ROOT / "recipes" / "digits_setup.py", "--quiet", "--json", "/dev/full",
              "--tensorboard", folder)
    assert res.exit_code == 2 and "--json /dev/full cannot be written" in res.stderr
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_a_file_as_the_folder_is_refused_before_any_work(cli, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("mine")
    res = cli("init-loss", ROOT / "recipes" / "digits_setup.py", "--tensorboard", path)
    assert res.exit_code == 2 and "--tensorboard" in res.stderr and "is a file, not a folder" in res.stderr
    assert path.read_text() == "mine"


def test_a_missing_package_is_one_sentence(cli, tmp_path, monkeypatch):
    from dlcheck.render import tensorboard

    monkeypatch.setattr(tensorboard, "available", lambda: False)
    res = cli("init-loss", ROOT / "recipes" / "digits_setup.py", "--tensorboard", tmp_path / "tb")
    assert res.exit_code == 2
    assert res.stderr.strip() == "dlcheck: error: --tensorboard needs the tensorboard package: pip install tensorboard"
    assert not (tmp_path / "tb").exists()
